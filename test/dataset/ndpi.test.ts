import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mergeRareLabels } from '../../src/dataset/folds.js';
import { buildNdpiDataset, canonIp, ndpiAppLabel, ndpiAppName, NdpiIndex, parseNdpiResultText } from '../../src/dataset/ndpi.js';
import { ndpiPcapDir, ndpiResultDir } from '../helpers/paths.js';

test('ndpiAppName: the application after the master protocol, found by DPI', () => {
  assert.equal(ndpiAppName('91.178/TLS.Amazon', 'DPI'), 'Amazon');
  assert.equal(ndpiAppName('188.124/QUIC.YouTube', 'DPI'), 'YouTube');
  assert.equal(ndpiAppName('51.26/IMAPS.ntop', 'DPI'), 'ntop');
  assert.equal(ndpiAppName('91.196/TLS.DoH_DoT', 'DPI (cache)'), 'DoH_DoT');
  assert.equal(ndpiAppName('91.125/TLS.Skype_Teams', 'DPI (partial)'), 'Skype_Teams');
  assert.equal(ndpiAppName('VXLAN:91.119/TLS.Facebook', 'DPI'), 'Facebook'); // tunnel prefix
  // no application part
  assert.equal(ndpiAppName('91/TLS', 'DPI'), null);
  assert.equal(ndpiAppName('GTP:91/TLS', 'DPI'), null);
  assert.equal(ndpiAppName('51/IMAPS', 'DPI'), null);
  assert.equal(ndpiAppName('0/Unknown', 'Unknown'), null);
  // guesses are not labels
  assert.equal(ndpiAppName('91.178/TLS.Amazon', 'Match by port'), null);
  assert.equal(ndpiAppName('91.178/TLS.Amazon', 'Match by IP'), null);
  assert.equal(ndpiAppName('91.178/TLS.Amazon', undefined), null);
  assert.equal(ndpiAppLabel(undefined), 'background');
  assert.equal(ndpiAppLabel({ proto: '91/TLS', confidence: 'DPI' }), 'background');
  assert.equal(ndpiAppLabel({ proto: '91.133/TLS.NetFlix', confidence: 'DPI' }), 'NetFlix');
});

const OUT = [
  '\t1\tTCP 192.168.1.7:53012 <-> 54.239.28.85:443 [proto: 91.178/TLS.Amazon][IP: 265/AmazonAWS][Encrypted][Confidence: DPI][DPI packets: 6][24 pkts/2404 bytes <-> 24 pkts/19825 bytes][Hostname/SNI: www.amazon.com]',
  '\t2\tTCP 192.168.1.249:32990 -> 87.240.169.10:443 [proto: 91.22/TLS.VK][IP: 22/VK][Encrypted][Confidence: DPI][24 pkts/2765 bytes -> 0 pkts/0 bytes][Hostname/SNI: sun9-87.userapi.com]',
  '\t3\tTCP 10.10.20.4:45226 <-> 157.240.224.35:443 [VLAN: 5][proto: VXLAN:91.119/TLS.Facebook][IP: 119/Facebook][Encrypted][Confidence: DPI][15 pkts/2335 bytes <-> 13 pkts/5656 bytes][Hostname/SNI: facebook.com]',
  '\t4\tTCP [2a00:1450:4001:0:0:0:0:80a]:443 <-> [2001:db8::1]:50000 [proto: 91/TLS][Encrypted][Confidence: Match by port][3 pkts/200 bytes <-> 2 pkts/120 bytes]',
  'JA3 Host Stats:',
].join('\n');

test('parseNdpiResultText: bidirectional, one-way and VLAN-tagged lines', () => {
  const f = parseNdpiResultText(OUT);
  assert.equal(f.length, 4);
  assert.deepEqual(
    f.map((x) => [x.transport, x.a, x.aPort, x.b, x.bPort, x.bidirectional, x.vlan, x.proto, x.confidence, x.tlsByDpi, x.aPackets, x.bPackets, x.sni]),
    [
      ['tcp', '192.168.1.7', 53012, '54.239.28.85', 443, true, undefined, '91.178/TLS.Amazon', 'DPI', true, 24, 24, 'www.amazon.com'],
      ['tcp', '192.168.1.249', 32990, '87.240.169.10', 443, false, undefined, '91.22/TLS.VK', 'DPI', true, 24, 0, 'sun9-87.userapi.com'],
      ['tcp', '10.10.20.4', 45226, '157.240.224.35', 443, true, 5, 'VXLAN:91.119/TLS.Facebook', 'DPI', false, 15, 13, 'facebook.com'],
      ['tcp', '2a00:1450:4001:0:0:0:0:80a', 443, '2001:db8::1', 50000, true, undefined, '91/TLS', 'Match by port', false, 3, 2, undefined],
    ],
  );
  assert.deepEqual(f.map(ndpiAppLabel), ['Amazon', 'VK', 'Facebook', 'background']);
});

test('NdpiIndex: finds the flow from either end, IPv6 in canonical form, same transport only', () => {
  const idx = new NdpiIndex(parseNdpiResultText(OUT));
  const q = (transport: string, srcIp: string, srcPort: number, dstIp: string, dstPort: number) =>
    idx.find({ transport, srcIp, srcPort, dstIp, dstPort })?.proto;
  assert.equal(q('tcp', '192.168.1.7', 53012, '54.239.28.85', 443), '91.178/TLS.Amazon');
  assert.equal(q('tcp', '54.239.28.85', 443, '192.168.1.7', 53012), '91.178/TLS.Amazon');
  assert.equal(q('udp', '192.168.1.7', 53012, '54.239.28.85', 443), undefined);
  assert.equal(q('tcp', '192.168.1.7', 53013, '54.239.28.85', 443), undefined);
  assert.equal(canonIp('2a00:1450:4001:0:0:0:0:80a'), '2a00:1450:4001::80a');
  assert.equal(q('tcp', '2001:db8::1', 50000, '2a00:1450:4001::80a', 443), '91/TLS');
});

const corpusThere = existsSync(ndpiPcapDir()) && existsSync(ndpiResultDir());

test('buildNdpiDataset: the corpus TLS flows labelled by nDPI', { skip: !corpusThere && 'no corpus' }, async () => {
  const r = await buildNdpiDataset(ndpiPcapDir(), ndpiResultDir());
  const ds = r.dataset;
  // figures when written: 804 TLS flows from 543 captures, 803 of them listed by nDPI
  assert.equal(ds.n, 804);
  assert.equal(r.matched + r.unmatched, ds.n);
  assert.ok(r.unmatched <= 2, `unmatched ${r.unmatched}`);
  const y = mergeRareLabels(ds.y, 10);
  const count = (l: string) => y.filter((x) => x === l).length;
  assert.equal(new Set(y).size, 20); // 19 applications with ≥ 10 flows + background
  assert.deepEqual([count('Amazon'), count('OperaVPN'), count('DoH_DoT'), count('Signal'), count('background')], [71, 61, 42, 10, 341]);
  assert.ok(ds.split.every((s) => s === 0));
});
