import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractFlows } from '../../src/flow/extract.js';
import { ecsJson, toEcs, type FlowRecord } from '../../src/flow/record.js';
import { ndpiPcapDir } from '../helpers/paths.js';

const dir = ndpiPcapDir();
const haveCorpus = existsSync(dir);

function base(): FlowRecord {
  return {
    ipVersion: 4, transport: 'tcp', srcIp: '10.0.0.1', srcPort: 40000, dstIp: '10.0.0.2', dstPort: 443, vlan: 0,
    start: 1764789123.123456, end: 1764789124.5, fwdPackets: 3, fwdBytes: 180, bwdPackets: 2, bwdBytes: 1500,
    communityId: '1:abc+/=', endReason: 'fin', isTls: false, handshakePackets: 5, dataPackets: 0,
    features: Float64Array.from({ length: 115 }, (_, i) => i * 1.1),
  };
}

test('ecsJson is JSON.stringify(toEcs(f)), byte for byte: edge values, strings, optional parts', () => {
  const feats = base().features.slice();
  feats[0] = NaN; feats[1] = Infinity; feats[2] = -Infinity; feats[3] = -0; feats[4] = 1e-300; feats[5] = 2 ** 60;
  feats[6] = 0.1 + 0.2; feats[7] = -1.5e21;
  const variants: FlowRecord[] = [
    base(),
    { ...base(), features: feats, vlan: 4094, ipVersion: 6, srcIp: '2001:db8::1', dstIp: '::ffff:1.2.3.4', transport: '47' },
    { ...base(), isTls: true, tls: { alpnOffered: [] } },
    { ...base(), isTls: true, tls: { sni: 'a"b\\c\u0001\u2028é.example', alpnOffered: ['h2', 'x"y'], alpnNegotiated: 'h2', versionOffered: 'TLSv1.3', versionNegotiated: 'TLSv1.3' } },
    { ...base(), isTls: true, tls: { alpnOffered: ['h2'], versionNegotiated: 'SSLv3', versionOffered: '0x7f1c' } },
    { ...base(), isTls: false, tls: { sni: 'not shown', alpnOffered: [] }, file: '/tmp/a "b"\n.pcap' },
    { ...base(), file: '', end: 1764789123, start: 1764789124, endReason: 'evicted' },
    { ...base(), start: 0, end: 0, fwdBytes: 2 ** 53 + 2, features: new Float64Array(0) },
  ];
  for (const f of variants) assert.equal(ecsJson(f), JSON.stringify(toEcs(f)));
});

test('ecsJson is JSON.stringify(toEcs(f)) for every flow of the corpus', { skip: !haveCorpus && 'no corpus at ' + dir }, async () => {
  const files = readdirSync(dir).filter((n) => /\.(pcap|pcapng|cap)$/.test(n)).sort().map((n) => join(dir, n));
  let n = 0;
  await extractFlows(files.slice(0, 120), {
    allFlows: true,
    onFlow: (f) => { n++; assert.equal(ecsJson(f), JSON.stringify(toEcs(f))); },
  });
  assert.ok(n > 1000, String(n));
});
