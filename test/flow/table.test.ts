import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractFlows } from '../../src/flow/extract.js';
import { PRE_PACKETS } from '../../src/flow/table.js';
import { ecsJson, toEcs, type FlowRecord } from '../../src/flow/record.js';
import { featureIndex } from '../../src/features/names.js';
import { exactFeatures } from '../helpers/exact-features.js';
import { ipPacket, linkWrap, tcpFrame, udpFrame, writePcap, type GenFrame, type TcpOpts } from '../helpers/pcapgen.js';
import {
  alpnExt, cat, clientHelloBody, filler, handshake, record, serverHelloBody, sniExt, supportedVersionSH,
  supportedVersionsCH,
} from '../tls/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'stnn-flow-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
async function flowsOf(frames: GenFrame[], opts: Parameters<typeof extractFlows>[1]['flow'] = {}, allFlows = true): Promise<FlowRecord[]> {
  const path = join(dir, `f${fileNo++}.pcap`);
  writePcap(path, frames);
  const out: FlowRecord[] = [];
  await extractFlows([path], { allFlows, flow: opts, onFlow: (f) => out.push(f) });
  return out;
}

const C = { src: '10.1.0.1', dst: '10.2.0.2', sport: 40000, dport: 443 };
const S = { src: '10.2.0.2', dst: '10.1.0.1', sport: 443, dport: 40000 };
const seg = (base: Pick<TcpOpts, 'src' | 'dst' | 'sport' | 'dport'> & Partial<TcpOpts>, o: Partial<TcpOpts>) => tcpFrame({ ...base, ...o });

test('the SYN sender is the client; FIN from both sides ends the flow as fin, the last ACK included', async () => {
  const frames: GenFrame[] = [
    { ts: 10.0, bytes: seg(C, { seq: 100, flags: 'S' }) },
    { ts: 10.1, bytes: seg(S, { seq: 900, ack: 101, flags: 'SA' }) },
    { ts: 10.2, bytes: seg(C, { seq: 101, ack: 901, flags: 'A' }) },
    { ts: 10.3, bytes: seg(C, { seq: 101, ack: 901, flags: 'PA', payload: 'GET / HTTP/1.0\r\n\r\n' }) },
    { ts: 10.4, bytes: seg(S, { seq: 901, ack: 119, flags: 'PA', payload: 'x'.repeat(100) }) },
    { ts: 10.5, bytes: seg(S, { seq: 1001, ack: 119, flags: 'FA' }) },
    { ts: 10.6, bytes: seg(C, { seq: 119, ack: 1002, flags: 'FA' }) },
    { ts: 10.7, bytes: seg(S, { seq: 1002, ack: 120, flags: 'A' }) },
  ];
  const flows = await flowsOf(frames);
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.equal(f.srcIp, '10.1.0.1');
  assert.equal(f.srcPort, 40000);
  assert.equal(f.dstIp, '10.2.0.2');
  assert.equal(f.dstPort, 443);
  assert.equal(f.transport, 'tcp');
  assert.equal(f.endReason, 'fin');
  assert.equal(f.fwdPackets, 4);
  assert.equal(f.bwdPackets, 4);
  // IP-layer bytes: 40 per header-only segment, +18 and +100 for the payloads
  assert.equal(f.fwdBytes, 4 * 40 + 18);
  assert.equal(f.bwdBytes, 4 * 40 + 100);
  assert.equal(f.isTls, false);
  assert.equal(f.start, 10.0);
  assert.equal(f.end, 10.7);
});

test('a flow first seen at its SYN-ACK has the SYN-ACK receiver as client; mid-stream, the first sender', async () => {
  const a = await flowsOf([
    { ts: 1, bytes: seg(S, { seq: 900, ack: 101, flags: 'SA' }) },
    { ts: 2, bytes: seg(C, { seq: 101, ack: 901, flags: 'A' }) },
  ]);
  assert.equal(a.length, 1);
  assert.equal(a[0].srcIp, '10.1.0.1');
  assert.equal(a[0].fwdPackets, 1);
  assert.equal(a[0].bwdPackets, 1);
  const b = await flowsOf([
    { ts: 1, bytes: seg(S, { seq: 900, ack: 101, flags: 'PA', payload: 'abc' }) },
    { ts: 2, bytes: seg(C, { seq: 101, ack: 904, flags: 'A' }) },
  ]);
  assert.equal(b[0].srcIp, '10.2.0.2');
  assert.equal(b[0].srcPort, 443);
  assert.equal(b[0].endReason, 'eof');
});

test('RST ends a flow as rst; a new SYN on a finished tuple starts a new flow', async () => {
  const flows = await flowsOf([
    { ts: 1, bytes: seg(C, { seq: 100, flags: 'S' }) },
    { ts: 1.1, bytes: seg(S, { seq: 0, ack: 101, flags: 'RA' }) },
    { ts: 2, bytes: seg(C, { seq: 5000, flags: 'S' }) },
    { ts: 2.1, bytes: seg(S, { seq: 700, ack: 5001, flags: 'SA' }) },
  ]);
  assert.deepEqual(flows.map((f) => [f.endReason, f.fwdPackets, f.bwdPackets, f.start]), [['rst', 1, 1, 1], ['eof', 1, 1, 2]]);
});

test('idle, active and closed timeouts follow packet time', async () => {
  const idle = await flowsOf([
    { ts: 0, bytes: seg(C, { seq: 1, flags: 'A' }) },
    { ts: 121, bytes: seg(C, { seq: 1, flags: 'A' }) },
  ]);
  assert.deepEqual(idle.map((f) => [f.endReason, f.fwdPackets]), [['idle', 1], ['eof', 1]]);

  // a packet every 10 s for 60 s, active timeout 25 s: records at 0–20, 30–50, 60
  const frames: GenFrame[] = [];
  for (let t = 0; t <= 60; t += 10) frames.push({ ts: t, bytes: seg(t % 20 ? S : C, { seq: 1, flags: 'A' }) });
  const active = await flowsOf(frames, { activeTimeout: 25 });
  assert.deepEqual(active.map((f) => [f.endReason, f.start, f.end, f.fwdPackets, f.bwdPackets, f.srcIp]), [
    ['active', 0, 20, 2, 1, '10.1.0.1'],
    ['active', 30, 50, 1, 2, '10.1.0.1'],
    ['eof', 60, 60, 1, 0, '10.1.0.1'],
  ]);
  // continuation flows count as data
  assert.deepEqual(active.map((f) => [f.handshakePackets, f.dataPackets]), [[3, 0], [0, 3], [0, 1]]);

  // after both FINs the flow lingers closedTimeout seconds, then ends while the capture goes on
  const other = { src: '10.9.0.9', dst: '10.2.0.2', sport: 1234, dport: 80 };
  const closed = await flowsOf([
    { ts: 0, bytes: seg(C, { seq: 1, flags: 'FA' }) },
    { ts: 0.1, bytes: seg(S, { seq: 1, flags: 'FA' }) },
    { ts: 3, bytes: seg(other, { seq: 1, flags: 'A' }) },
    { ts: 7, bytes: seg(other, { seq: 1, flags: 'A' }) },
  ], { closedTimeout: 5 });
  assert.deepEqual(closed.map((f) => [f.srcPort, f.endReason]), [[40000, 'fin'], [1234, 'eof']]);
});

test('a full table evicts the longest-idle flow', async () => {
  const frames: GenFrame[] = [];
  for (let i = 0; i < 3; i++) frames.push({ ts: i, bytes: seg({ ...C, sport: 50000 + i }, { seq: 1, flags: 'S' }) });
  frames.push({ ts: 3, bytes: seg({ ...C, sport: 50001 }, { seq: 2, flags: 'A' }) });
  frames.push({ ts: 4, bytes: seg({ ...C, sport: 50003 }, { seq: 1, flags: 'S' }) });
  const flows = await flowsOf(frames, { maxFlows: 2 });
  // table of 2: 50002 pushes out 50000; 50001 is touched at t=3, so 50003 pushes out 50002
  assert.deepEqual(flows.map((f) => [f.srcPort, f.endReason]), [
    [50000, 'evicted'], [50002, 'evicted'], [50001, 'eof'], [50003, 'eof'],
  ]);
});

test('UDP and VLAN-separated flows are their own flows; only TLS flows are written by default', async () => {
  const frames: GenFrame[] = [
    { ts: 1, bytes: udpFrame({ src: '10.0.0.1', dst: '10.0.0.53', sport: 5353, dport: 53, payload: 'q' }) },
    { ts: 2, bytes: udpFrame({ src: '10.0.0.53', dst: '10.0.0.1', sport: 53, dport: 5353, payload: 'answer' }) },
    { ts: 3, bytes: seg({ ...C, vlan: 10 }, { seq: 1, flags: 'S' }) },
    { ts: 4, bytes: seg({ ...C, vlan: 20 }, { seq: 1, flags: 'S' }) },
  ];
  const all = await flowsOf(frames);
  assert.equal(all.length, 3);
  const udp = all.find((f) => f.transport === 'udp')!;
  assert.deepEqual([udp.srcIp, udp.fwdPackets, udp.fwdBytes, udp.bwdPackets, udp.bwdBytes], ['10.0.0.1', 1, 29, 1, 34]);
  assert.deepEqual(all.filter((f) => f.transport === 'tcp').map((f) => f.vlan).sort(), [10, 20]);
  assert.equal((await flowsOf(frames, {}, false)).length, 0);
});

test('a TLS 1.3 session: SNI, ALPN, versions, phases and the 115 features of its packets', async () => {
  const ch = record(22, 0x0301, handshake(1, clientHelloBody({
    exts: [sniExt('video.example.org'), alpnExt(['h2', 'http/1.1']), supportedVersionsCH([0x0304, 0x0303])],
  })));
  const sh = record(22, 0x0303, handshake(2, serverHelloBody({ exts: [supportedVersionSH(0x0304)] })));
  const encHs = record(23, 0x0303, filler(900));
  const fin = record(23, 0x0303, filler(53));
  const data = record(23, 0x0303, filler(1200));
  let cs = 1001, ss = 5001;
  const frames: GenFrame[] = [];
  const push = (ts: number, from: 'c' | 's', flags: string, payload?: Uint8Array) => {
    const base = from === 'c' ? C : S;
    const seq = from === 'c' ? cs : ss;
    const ack = from === 'c' ? ss : cs;
    frames.push({ ts, bytes: seg(base, { seq: flags === 'S' || flags === 'SA' ? seq - 1 : seq, ack, flags, payload }) });
    if (payload) { if (from === 'c') cs += payload.length; else ss += payload.length; }
  };
  push(0.000, 'c', 'S');
  push(0.010, 's', 'SA');
  push(0.011, 'c', 'A');
  push(0.012, 'c', 'PA', ch);
  push(0.030, 's', 'PA', cat(sh, encHs));
  push(0.031, 'c', 'PA', fin);          // the client's Finished: last handshake packet
  push(0.040, 'c', 'PA', data);         // data from here on
  push(0.055, 's', 'PA', data);
  push(0.056, 'c', 'A');
  const flows = await flowsOf(frames, {}, false);
  assert.equal(flows.length, 1);
  const f = flows[0];
  assert.equal(f.isTls, true);
  assert.deepEqual(f.tls, {
    sni: 'video.example.org', alpnOffered: ['h2', 'http/1.1'], versionOffered: 'TLSv1.3', versionNegotiated: 'TLSv1.3',
    ...(f.tls?.alpnNegotiated ? { alpnNegotiated: f.tls.alpnNegotiated } : {}),
  });
  assert.equal(f.handshakePackets, 6);
  assert.equal(f.dataPackets, 3);

  // the same packets described by hand: IP length, time, direction, phase
  const ipLen = (p?: Uint8Array) => 40 + (p ? p.length : 0);
  const ref = [
    { len: ipLen(), t: 0, dir: 0, phase: 0 },
    { len: ipLen(), t: 0.010, dir: 1, phase: 0 },
    { len: ipLen(), t: 0.011, dir: 0, phase: 0 },
    { len: ipLen(ch), t: 0.012, dir: 0, phase: 0 },
    { len: ipLen(cat(sh, encHs)), t: 0.030, dir: 1, phase: 0 },
    { len: ipLen(fin), t: 0.031, dir: 0, phase: 0 },
    { len: ipLen(data), t: 0.040, dir: 0, phase: 1 },
    { len: ipLen(data), t: 0.055, dir: 1, phase: 1 },
    { len: ipLen(), t: 0.056, dir: 0, phase: 1 },
  ] as const;
  const expected = exactFeatures(ref.map((r) => ({ ...r })));
  for (let i = 0; i < 115; i++) {
    assert.ok(Math.abs(f.features[i] - expected[i]) <= 1e-9 * Math.max(1, Math.abs(expected[i])), `feature ${i}: ${f.features[i]} vs ${expected[i]}`);
  }
  // a few by hand
  assert.equal(f.features[featureIndex('all_pkt_count')], 9);
  assert.equal(f.features[featureIndex('fwd_pkt_count')], 6);
  assert.equal(f.features[featureIndex('data_pkt_count')], 3);
  assert.equal(f.features[featureIndex('all_len_min')], 40);
  assert.equal(f.features[featureIndex('all_len_max')], 40 + data.length);
  assert.ok(Math.abs(f.features[featureIndex('all_pkt_per_sec')] - 9 / 0.056) < 1e-9);
});

test('statistics of a TLS flow recognised late include every packet before it (pre-buffer replay), as with --all-flows', async () => {
  const ch = record(22, 0x0303, handshake(1, clientHelloBody({ exts: [sniExt('late.example.org')] })));
  const sh = record(22, 0x0303, handshake(2, serverHelloBody({})));
  const data = record(23, 0x0303, filler(700));
  // k pure ACKs before the ClientHello: below, at and beyond the pre-buffer's size
  for (const k of [0, PRE_PACKETS - 4, PRE_PACKETS - 3, PRE_PACKETS - 2, PRE_PACKETS + 5]) {
    let cs = 101, ss = 9001;
    const frames: GenFrame[] = [];
    const ref: { len: number; t: number; dir: 0 | 1; phase: 0 | 1 }[] = [];
    let ts = 1.0;
    const push = (from: 'c' | 's', flags: string, payload?: Uint8Array, phase: 0 | 1 = 0) => {
      ts += 0.0137;
      const seq = from === 'c' ? cs : ss;
      frames.push({ ts, bytes: seg(from === 'c' ? C : S, { seq: flags.includes('S') ? seq - 1 : seq, ack: from === 'c' ? ss : cs, flags, payload }) });
      ref.push({ len: 40 + (payload ? payload.length : 0), t: ts - 1.0137, dir: from === 'c' ? 0 : 1, phase });
      if (payload) { if (from === 'c') cs += payload.length; else ss += payload.length; }
    };
    push('c', 'S');
    push('s', 'SA');
    for (let i = 0; i < k; i++) push(i % 2 ? 's' : 'c', 'A');
    push('c', 'PA', ch);
    push('s', 'PA', sh);
    push('c', 'PA', data, 1);
    push('s', 'PA', data, 1);
    push('c', 'A', undefined, 1);
    const tlsOnly = await flowsOf(frames, {}, false);
    const all = await flowsOf(frames, {}, true);
    assert.equal(tlsOnly.length, 1, `k=${k}`);
    assert.equal(tlsOnly[0].isTls, true);
    assert.deepEqual([...tlsOnly[0].features], [...all[0].features], `k=${k}: same features with and without --all-flows`);
    const expected = exactFeatures(ref);
    for (let i = 0; i < 115; i++) {
      const got = tlsOnly[0].features[i];
      assert.ok(Math.abs(got - expected[i]) <= 1e-9 * Math.max(1, Math.abs(expected[i])), `k=${k} feature ${i}: ${got} vs ${expected[i]}`);
    }
  }
});

test('network.transport names other IP protocols by their IANA keyword, lower-case (igmp, gre, esp, ah); an unlisted one by its number', async () => {
  const A = { src: '10.0.0.1', dst: '224.0.0.22' };
  const B = { src: '10.0.0.1', dst: '10.0.0.2' };
  const frames: GenFrame[] = [
    // IGMPv3 membership report header, GRE (no options, IPv4 inside: not followed, tunnels off), ESP SPI+seq, AH header
    { ts: 1, bytes: linkWrap({}, ipPacket({ ...A, ttl: 1 }, 2, Uint8Array.from([0x22, 0, 0xea, 0x03, 0, 0, 0, 0]))) },
    { ts: 2, bytes: linkWrap({}, ipPacket(B, 47, Uint8Array.from([0, 0, 0x08, 0x00]))) },
    { ts: 3, bytes: linkWrap({}, ipPacket(B, 50, Uint8Array.from([0, 0, 0x10, 0x01, 0, 0, 0, 1, 9, 9, 9, 9]))) },
    { ts: 4, bytes: linkWrap({}, ipPacket(B, 51, Uint8Array.from([50, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))) },
    { ts: 5, bytes: linkWrap({}, ipPacket(B, 253, Uint8Array.from([1, 2, 3, 4]))) },
  ];
  const path = join(dir, `f${fileNo++}.pcap`);
  writePcap(path, frames);
  const out: FlowRecord[] = [];
  await extractFlows([path], { allFlows: true, tunnels: false, onFlow: (f) => out.push(f) });
  assert.deepEqual(out.map((f) => [f.transport, f.dstIp, f.fwdPackets]).sort(), [
    ['253', '10.0.0.2', 1], ['ah', '10.0.0.2', 1], ['esp', '10.0.0.2', 1], ['gre', '10.0.0.2', 1], ['igmp', '224.0.0.22', 1],
  ]);
  // as written in the ECS record of --all-flows
  const igmp = out.find((f) => f.transport === 'igmp')!;
  assert.equal((toEcs(igmp).network as Record<string, unknown>).transport, 'igmp');
  assert.match(ecsJson(igmp), /"network":\{"transport":"igmp","type":"ipv4",/);
});
