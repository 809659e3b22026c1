/**
 * Every capture of the shared nDPI corpus goes through openCapture + decodeFrame.
 * The expected numbers were found independently with Debian's tshark 4.x
 * (`tshark -r FILE -T fields -e frame.number | wc -l`, and -e frame.protocols /
 * frame.time_epoch / frame.interface_id for the per-file details).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openCapture, newRawFrame } from '../../src/capture/reader.js';
import { decodeFrame, DecodeCounters, DecodedPacket } from '../../src/decode/index.js';
import { StnnError } from '../../src/util/errors.js';
import { ndpiPcapDir } from '../helpers/paths.js';

const dir = ndpiPcapDir();
const have = existsSync(dir);

/** Frame counts per tshark. */
const FRAMES: Record<string, number> = {
  '1kxun.pcap': 1723, // pcap, Ethernet
  '443-chrome.pcap': 1,
  'netflix.pcap': 1793,
  'alexa-app.pcapng': 3103, // pcapng
  'opera-vpn.pcapng': 3200,
  'sites.pcapng': 699, // pcapng with 22 interfaces
  'quic-v2.pcapng': 19, // pcapng, Linux SLL
  'nfsv2.pcap': 156, // big-endian pcap
  'sctp.cap': 4, // big-endian pcap
  'someip_sd_sample.pcap': 6, // nanosecond pcap, PPI
  'BGP_Cisco_hdlc_slarp.pcap': 14, // PPP link type carrying Cisco HDLC
  'fuzz-2006-06-26-2594.pcap': 691,
};

/** Sum of tshark's frame counts over the corpus (109288) minus the one cut record of
 * fuzz-2021-10-13.pcap, which tshark shows partially and we report as corrupt. */
const TOTAL_FRAMES = 109287;

interface Result {
  frames: number;
  c: DecodeCounters;
  error?: StnnError;
  ifaceFrames: Map<number, number>;
  first: string;
  last: string;
}

function run(name: string): Result {
  const f = newRawFrame();
  const out = new DecodedPacket();
  const c = new DecodeCounters();
  const ifaceFrames = new Map<number, number>();
  const r = openCapture(join(dir, name));
  let frames = 0;
  let first = '';
  let last = '';
  let error: StnnError | undefined;
  try {
    while (r.next(f)) {
      frames++;
      ifaceFrames.set(f.interfaceId, (ifaceFrames.get(f.interfaceId) ?? 0) + 1);
      last = `${f.tsSec}.${String(f.tsNsec).padStart(9, '0')} ${f.wireLen} ${f.capLen}`;
      if (frames === 1) first = last;
      decodeFrame(f, out, c);
    }
  } catch (e) {
    if (!(e instanceof StnnError) || e.code !== 'STNN_CAPTURE_TRUNCATED') throw e;
    error = e;
  } finally {
    r.close();
  }
  return { frames, c, error, ifaceFrames, first, last };
}

test('every corpus capture reads and decodes without an exception other than a truncated record', { skip: !have && `no corpus at ${dir}` }, () => {
  const names = readdirSync(dir).filter((n) => /\.(pcap|pcapng|cap)$/.test(n)).sort();
  assert.equal(names.length, 543);
  const results = new Map<string, Result>();
  let total = 0;
  const failed: string[] = [];
  for (const n of names) {
    const res = run(n);
    results.set(n, res);
    total += res.frames;
    if (res.error) failed.push(`${n}: ${res.error.message.slice(dir.length + 1)}`);
    assert.equal(res.c.frames, res.frames);
  }
  assert.deepEqual(failed, [
    'fuzz-2021-10-13.pcap: fuzz-2021-10-13.pcap: corrupt record at byte offset 24 (capture length 524501 exceeds the maximum 262144)',
  ]);
  assert.equal(total, TOTAL_FRAMES);
  for (const [n, want] of Object.entries(FRAMES)) assert.equal(results.get(n)!.frames, want, n);

  // Per-file decode results checked against tshark's frame.protocols (reassembly off).
  const nz = (n: string) =>
    Object.fromEntries(Object.entries(results.get(n)!.c.toJSON()).filter(([, v]) => (typeof v === 'number' ? v !== 0 : Object.keys(v).length)));
  // SLL: 347 IPv4, 310 TCP, 37 with UDP of which 1 is inside an ICMP error (our other_l4).
  assert.deepEqual(nz('KakaoTalk_chat.pcap'), { frames: 347, sll: 347, ipv4: 347, tcp: 310, udp: 36, other_l4: 1 });
  assert.deepEqual(nz('opc-ua.pcap'), { frames: 381, loopback: 381, ipv4: 381, tcp: 381 });
  assert.deepEqual(nz('ocs.pcap'), { frames: 946, raw_ip: 946, ipv4: 946, tcp: 938, udp: 8 });
  assert.deepEqual(nz('BGP_Cisco_hdlc_slarp.pcap'), { frames: 14, chdlc: 14, ipv4: 14, tcp: 14 });
  assert.deepEqual(nz('someip_sd_sample.pcap'), { frames: 6, ethernet: 6, ppi: 6, ipv4: 6, udp: 6 });
  // 781 frames, 778 IPv4 (3 non-IP), 457 TCP, 321 with UDP of which 3 inside ICMP; 81 double-tagged.
  assert.deepEqual(nz('zoom.pcap'), {
    frames: 781,
    ethernet: 781,
    vlan: 81,
    qinq: 81,
    ipv4: 778,
    tcp: 457,
    udp: 318,
    other_l4: 3,
    unknown_ethertype: 3,
  });
  // tshark: 22 frames with IPv4 (4 non-first fragments), 44 with IPv6 (3 non-first fragments).
  assert.deepEqual(nz('dns_fragmented.pcap'), {
    frames: 66,
    ethernet: 66,
    ipv4: 18,
    ipv6: 41,
    tcp: 20,
    udp: 39,
    ipv4_fragments_first: 4,
    ipv4_fragments_skipped: 4,
    ipv6_fragments_first: 3,
    ipv6_fragments_skipped: 3,
  });
  assert.deepEqual(nz('sites.pcapng'), { frames: 699, ethernet: 699, ipv4: 658, ipv6: 41, tcp: 693, udp: 6 });
  const sites = results.get('sites.pcapng')!;
  assert.equal(sites.ifaceFrames.size, 22);
  assert.equal(sites.ifaceFrames.get(0), 30);
  assert.equal(sites.ifaceFrames.get(1), 1);
  assert.equal(sites.ifaceFrames.get(2), 29);

  // First and last frame: time, wire and captured length (tshark frame.time_epoch, frame.len, frame.cap_len).
  const ends = (n: string) => [results.get(n)!.first, results.get(n)!.last];
  assert.deepEqual(ends('someip_sd_sample.pcap'), ['1559741544.964106975 114 114', '1559741545.865698300 102 102']);
  assert.deepEqual(ends('nfsv2.pcap'), ['944207338.400000000 106 106', '944207338.890000000 66 66']);
  assert.deepEqual(ends('alexa-app.pcapng'), ['1490976022.526783000 20 20', '1490976198.776068000 66 66']);
  assert.deepEqual(ends('sites.pcapng'), ['1595957694.169758000 74 74', '1722540110.397706326 821 821']);
});
