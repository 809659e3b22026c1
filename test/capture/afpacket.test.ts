import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import * as ring from '../../src/capture/ring.js';
import { SpscRing, RingRecord, createRingBuffer, shardHash } from '../../src/capture/ring.js';
import {
  AfPacketCapture, compileFilter, shardOf, loadAfPacketAddon, afpacketLoadError, LINKTYPE_ETHERNET,
} from '../../src/capture/afpacket.js';
import { StnnError } from '../../src/util/errors.js';

const SELF = fileURLToPath(import.meta.url);
const ROLE = process.env['STNN_AFPACKET_TEST_ROLE'];
const A_IP = '10.77.0.1';
const B_IP = '10.77.0.2';
const A_IP6 = 'fd00:77::1';
const UDP_PORT = 7777;
const TCP_PORT = 7778;
const VLAN_ID = 5;
const VLAN_LEN = 20;
const FANOUT_GROUP = 4242;
const LO_PORT = 7779;

/** Python: sends two VLAN-tagged UDP frames (10.78.0.2:40000 <-> 10.78.0.1:7777) on argv[1]. */
const VLAN_SENDER = `
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
payload = bytes(((7 * 37 + j) & 0xff) for j in range(${VLAN_LEN}))
def frame(src, dst, sport, dport):
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x02' + struct.pack('!HHH', 0x8100, ${VLAN_ID}, 0x0800) + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
s.send(frame('10.78.0.2', '10.78.0.1', 40000, ${UDP_PORT}))
s.send(frame('10.78.0.1', '10.78.0.2', ${UDP_PORT}, 40000))
`;
const UDP_LENS = [1, 64, 300, 1000, 1400];
const V6_LEN = 100;
const TCP_MSG = 'stnn-tcp-hello';
const SNAP = 200;
const SHARDS = 4;

function payloadOf(i: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let j = 0; j < len; j++) b[j] = (i * 37 + j) & 0xff;
  return b;
}

/** Node arguments that run this file again (with tsx when it is TypeScript). */
function selfArgs(): string[] {
  return SELF.endsWith('.ts') ? ['--import', 'tsx', SELF] : [SELF];
}

interface Rec {
  shard: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  wireLen: number;
  hex: string;
}

function drain(r: SpscRing, shard: number, out: Rec[]): void {
  const rec = new RingRecord();
  while (r.pop(rec)) {
    out.push({
      shard, tsSec: rec.tsSec, tsNsec: rec.tsNsec, capLen: rec.capLen, wireLen: rec.wireLen,
      hex: Buffer.from(rec.buf.buffer, rec.buf.byteOffset + rec.off, rec.len).toString('hex'),
    });
  }
}

/** This file in a worker thread (registering tsx first when it is TypeScript). */
function spawnSelfWorker(data: unknown): Worker {
  const url = import.meta.url;
  if (!url.endsWith('.ts')) return new Worker(new URL(url), { workerData: data });
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(code, { eval: true, workerData: data });
}

/** Worker: sleeps in wait() until the native producer's wake-up arrives, then drains. */
function waiterRole(sab: SharedArrayBuffer): void {
  const r = new SpscRing(sab);
  parentPort!.postMessage({ waiting: true });
  const t0 = Date.now();
  const ok = r.wait(20_000);
  const wokeAfterMs = Date.now() - t0;
  let records = 0;
  const rec = new RingRecord();
  for (;;) {
    while (r.pop(rec)) records++;
    if (r.finished) break;
    r.wait(100);
  }
  parentPort!.postMessage({ ok, wokeAfterMs, records });
}

/** Runs inside namespace A: capture on the veth, echo servers, report records as JSON. */
function ifFlags(ifname: string): number {
  return Number(readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8').trim());
}

async function captureRole(ifname: string): Promise<void> {
  const flagsBefore = ifFlags(ifname);
  const rings = Array.from({ length: SHARDS }, () => new SpscRing(createRingBuffer(1 << 20)));
  const tiny = new SpscRing(createRingBuffer(1024));
  const cap = AfPacketCapture.open({
    interface: ifname, rings, blockSize: 1 << 16, blockCount: 8, blockTimeoutMs: 2, snapLen: SNAP,
    filter: `udp port ${UDP_PORT} or tcp port ${TCP_PORT}`,
  });
  const cap2 = AfPacketCapture.open({
    interface: ifname, rings: [tiny], blockSize: 1 << 16, blockCount: 4, blockTimeoutMs: 2, filter: `udp port ${UDP_PORT}`,
    promiscuous: false,
  });
  // a third capture whose consumer is a worker asleep in Atomics.wait
  const waitRing = new SpscRing(createRingBuffer(1 << 16));
  const cap3 = AfPacketCapture.open({ interface: ifname, rings: [waitRing], blockSize: 1 << 16, blockCount: 4, blockTimeoutMs: 2, filter: `udp port ${UDP_PORT}` });
  const waiter = spawnSelfWorker({ role: 'waiter', sab: waitRing.sab });
  const waiterResult = new Promise<{ ok: boolean; wokeAfterMs: number; records: number }>((resolve, reject) => {
    waiter.on('message', (m) => {
      if (!m.waiting) resolve(m);
    });
    waiter.once('error', reject);
  });
  await new Promise<void>((resolve) => waiter.once('message', () => resolve()));
  await new Promise((r) => setTimeout(r, 100)); // the worker is now inside Atomics.wait
  // two members of one PACKET_FANOUT hash group share the packets
  const fanRings = [new SpscRing(createRingBuffer(1 << 20)), new SpscRing(createRingBuffer(1 << 20))];
  const fans = fanRings.map((r) => AfPacketCapture.open({
    interface: ifname, rings: [r], blockSize: 1 << 16, blockCount: 4, blockTimeoutMs: 2, fanoutGroup: FANOUT_GROUP,
    filter: `udp port ${UDP_PORT} or tcp port ${TCP_PORT}`, promiscuous: false,
  }));
  const flagsOpen = ifFlags(ifname);
  cap.start();
  cap2.start();
  cap3.start();
  for (const f of fans) f.start();
  const u4 = dgram.createSocket('udp4');
  const u6 = dgram.createSocket('udp6');
  for (const u of [u4, u6]) u.on('message', (m, rinfo) => u.send(m, rinfo.port, rinfo.address));
  await new Promise<void>((r) => u4.bind(UDP_PORT, A_IP, r));
  await new Promise<void>((r) => u6.bind(UDP_PORT, A_IP6, r));
  const srv = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => srv.listen(TCP_PORT, A_IP, r));
  process.stdout.write('ready\n');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) if (line.trim() === 'done') break;
  await new Promise((r) => setTimeout(r, 300)); // let the last blocks time out and be walked
  const stats = cap.stop();
  const stats2 = cap2.stop();
  const stats3 = cap3.stop(); // closes the ring: the waiter drains and finishes
  const fanStats = fans.map((f) => f.stop());
  const flagsAfter = ifFlags(ifname);
  const waited = await waiterResult;
  await waiter.terminate();
  u4.close();
  u6.close();
  srv.close();
  const records: Rec[] = [];
  rings.forEach((r, i) => drain(r, i, records));
  const tinyRecs: Rec[] = [];
  drain(tiny, 0, tinyRecs);
  const fanRecs = fanRings.map((r) => {
    const out: Rec[] = [];
    drain(r, 0, out);
    return out;
  });
  process.stdout.write(JSON.stringify({
    flagsBefore, flagsOpen, flagsAfter, fanStats, fanRecs,
    stats, stats2, stats3, waited, records, tinyRecs, tinyDropped: tiny.dropped, closed: rings.every((r) => r.finished),
    linkType: cap.linkType,
  }) + '\n');
  process.exit(0);
}

/** Runs inside namespace B: UDP over IPv4 and IPv6 waiting for each echo, then one TCP exchange. */
async function senderRole(): Promise<void> {
  const u4 = dgram.createSocket('udp4');
  const echo = (u: dgram.Socket, p: Buffer, host: string) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no echo from ${host}`)), 3000);
      u.once('message', () => {
        clearTimeout(t);
        resolve();
      });
      u.send(p, UDP_PORT, host);
    });
  for (let i = 0; i < UDP_LENS.length; i++) await echo(u4, payloadOf(i, UDP_LENS[i]!), A_IP);
  u4.close();
  const u6 = dgram.createSocket('udp6');
  await echo(u6, payloadOf(9, V6_LEN), A_IP6);
  u6.close();
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(TCP_PORT, A_IP, () => s.write(TCP_MSG));
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got === TCP_MSG) s.end();
    });
    s.on('close', () => (got === TCP_MSG ? resolve() : reject(new Error(`tcp echo: ${got}`))));
    s.on('error', reject);
  });
  process.stdout.write('sent\n');
}

/** Inside a namespace: the captured interface disappears under a running capture. */
async function ifGoneRole(ifname: string): Promise<void> {
  const r = new SpscRing(createRingBuffer(1 << 16));
  const cap = AfPacketCapture.open({ interface: ifname, rings: [r], blockSize: 1 << 16, blockCount: 2, pollTimeoutMs: 20 });
  cap.start();
  await new Promise((res) => setTimeout(res, 100));
  const del = spawnSync('ip', ['link', 'del', ifname], { encoding: 'utf8' });
  await new Promise((res) => setTimeout(res, 300));
  const during = cap.stats();
  const final = cap.stop();
  process.stdout.write(JSON.stringify({ deleted: del.status === 0, during, final, finished: r.finished }) + '\n');
}

/** Inside a fresh namespace: capture on its lo while UDP datagrams go to an echo server on 127.0.0.1. */
async function loopbackRole(): Promise<void> {
  const r = new SpscRing(createRingBuffer(1 << 20));
  const cap = AfPacketCapture.open({ interface: 'lo', rings: [r], blockSize: 1 << 16, blockCount: 4, blockTimeoutMs: 2, filter: `udp port ${LO_PORT}` });
  cap.start();
  const srv = dgram.createSocket('udp4');
  srv.on('message', (m, rinfo) => srv.send(m, rinfo.port, rinfo.address));
  await new Promise<void>((res) => srv.bind(LO_PORT, '127.0.0.1', res));
  const cli = dgram.createSocket('udp4');
  for (let i = 0; i < UDP_LENS.length; i++) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no echo on lo')), 3000);
      cli.once('message', () => {
        clearTimeout(t);
        resolve();
      });
      cli.send(payloadOf(i, UDP_LENS[i]!), LO_PORT, '127.0.0.1');
    });
  }
  await new Promise((res) => setTimeout(res, 300));
  const stats = cap.stop();
  cli.close();
  srv.close();
  const records: Rec[] = [];
  drain(r, 0, records);
  process.stdout.write(JSON.stringify({ stats, records, linkType: cap.linkType }) + '\n');
}

/** Tries to open a capture without privileges and prints the error. */
function noCapRole(): void {
  try {
    AfPacketCapture.open({ interface: 'lo', rings: [new SpscRing(createRingBuffer(1024))] });
    process.stdout.write(JSON.stringify({ opened: true }) + '\n');
  } catch (e) {
    const err = e as StnnError;
    process.stdout.write(JSON.stringify({ code: err.code, message: err.message, isStnn: err instanceof StnnError }) + '\n');
  }
}

// ------------------------------------------------------------------------- helpers

function sh(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function must(args: string[]): void {
  const r = sh(args);
  if (!r.ok) throw new Error(`${args.join(' ')}: ${r.out}`);
}

/** A reason to skip the namespace test, or null when it can run. */
function netnsSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'not root: AF_PACKET and network namespaces need root';
  const probe = `stnn-probe-${process.pid}`;
  const r = sh(['ip', 'netns', 'add', probe]);
  if (!r.ok) return `ip netns unavailable: ${r.out}`;
  sh(['ip', 'netns', 'del', probe]);
  return null;
}

function u16(b: Buffer, o: number): number {
  return b.readUInt16BE(o);
}

/** Reference symmetric hash, written from the description in shard_hash.h. */
function refHash(src: number[], sport: number, dst: number[], dport: number, proto: number): number {
  let a = src;
  let b = dst;
  let pa = sport;
  let pb = dport;
  let c = 0;
  for (let i = 0; i < a.length && c === 0; i++) c = a[i]! - b[i]!;
  if (c > 0 || (c === 0 && pa > pb)) {
    [a, b] = [b, a];
    [pa, pb] = [pb, pa];
  }
  let h = 2166136261;
  for (const x of [...a, ...b, pa >> 8, pa & 255, pb >> 8, pb & 255, proto]) h = Math.imul(h ^ x, 16777619) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function ipv4Frame(src: number[], dst: number[], proto: number, sport: number, dport: number, frag = 0): Buffer {
  const f = Buffer.alloc(14 + 20 + 8);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(28, 16);
  f.writeUInt16BE(frag, 20);
  f[23] = proto;
  Buffer.from(src).copy(f, 26);
  Buffer.from(dst).copy(f, 30);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  return f;
}

// --------------------------------------------------------------------------- tests

if (!isMainThread && workerData?.role === 'waiter') {
  waiterRole(workerData.sab as SharedArrayBuffer);
} else if (ROLE === 'capture') {
  await captureRole(process.env['STNN_AFPACKET_IF']!);
} else if (ROLE === 'sender') {
  await senderRole();
} else if (ROLE === 'ifgone') {
  await ifGoneRole(process.env['STNN_AFPACKET_IF']!);
} else if (ROLE === 'loopback') {
  await loopbackRole();
} else if (ROLE === 'nocap') {
  noCapRole();
} else {
  const addon = loadAfPacketAddon();

  test('the addon is built and loads (npm install builds native-bindings/afpacket)', () => {
    assert.ok(addon, `stnn-afpacket did not load: ${afpacketLoadError()}`);
  });

  test('C++ ring layout equals src/capture/ring.ts', { skip: !addon }, () => {
    const l = addon!.layout;
    const ts = ring as unknown as Record<string, number>;
    const names = Object.keys(l);
    assert.equal(names.length, 21);
    for (const k of names) assert.equal(l[k], ts[k], k);
  });

  test('tcpdump-style filters compile to classic BPF', { skip: !addon }, () => {
    const prog = compileFilter('udp port 53');
    // ldh [12]; jeq #0x86dd; ... ret #65535; ret #0 (libpcap's optimised program: 20 insns)
    assert.equal(prog.length, 20);
    assert.deepEqual(prog[0], [0x28, 0, 0, 12]);
    assert.deepEqual(prog[1], [0x15, 0, 6, 0x86dd]);
    assert.deepEqual(prog[8], [0x15, 0, 10, 0x0800]);
    assert.deepEqual(prog[18], [0x06, 0, 0, 65535]);
    assert.deepEqual(prog[19], [0x06, 0, 0, 0]);
    assert.deepEqual(compileFilter('udp port 53', 200)[18], [0x06, 0, 0, 200]);
    // the same program as tcpdump's own (`tcpdump -ddd`: count, then "code jt jf k" lines)
    const td = sh(['tcpdump', '-s', '65535', '-ddd', 'udp port 53']);
    if (td.ok) {
      const lines = td.out.split('\n').filter((l) => /^\d+( \d+){0,3}$/.test(l.trim()));
      assert.equal(Number(lines[0]), prog.length);
      assert.deepEqual(lines.slice(1).map((l) => l.trim().split(' ').map(Number)), prog);
    }
    // raw IP link type: the IPv4 protocol byte is at offset 9
    const raw = compileFilter('tcp', 65535, 101);
    assert.ok(raw.some((i) => i[0] === 0x30 && i[3] === 9), JSON.stringify(raw));
    assert.throws(() => compileFilter('udp prt 53'), (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && /syntax error/.test(e.message));
  });

  test('the shard hash is symmetric and matches a reference implementation', { skip: !addon }, () => {
    const a = [192, 168, 1, 10];
    const b = [10, 0, 0, 1];
    const fwd = ipv4Frame(a, b, 6, 51000, 443);
    const rev = ipv4Frame(b, a, 6, 443, 51000);
    const h = addon!.shardOf(fwd, 1 << 30).hash;
    assert.equal(h, refHash(a, 51000, b, 443, 6));
    assert.equal(addon!.shardOf(rev, 1 << 30).hash, h);
    assert.equal(shardOf(fwd, 7), h % 7);
    assert.equal(shardOf(rev, 7), h % 7);
    // another source port is another flow
    assert.equal(addon!.shardOf(ipv4Frame(a, b, 6, 51001, 443), 1 << 30).hash, refHash(a, 51001, b, 443, 6));
    // a fragment carries no ports: hashed on addresses and protocol only
    assert.equal(addon!.shardOf(ipv4Frame(a, b, 17, 53, 53, 0x2000), 1 << 30).hash, refHash(a, 0, b, 0, 17));
    // an 802.1Q tag does not change the shard
    const tagged = Buffer.concat([fwd.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x05]), fwd.subarray(12)]);
    assert.equal(addon!.shardOf(tagged, 1 << 30).hash, h);
    // IPv6 with a hop-by-hop header before UDP
    const v6 = Buffer.alloc(14 + 40 + 8 + 8);
    v6.writeUInt16BE(0x86dd, 12);
    v6[14] = 0x60;
    v6[14 + 6] = 0; // next header: hop-by-hop
    v6[14 + 8 + 15] = 1; // src ::1
    v6[14 + 24] = 0xfd; // dst fd00::2
    v6[14 + 24 + 15] = 2;
    v6[54] = 17; // HBH next header: UDP, length 0 (8 bytes)
    v6.writeUInt16BE(5353, 62);
    v6.writeUInt16BE(53, 64);
    const src6 = [...v6.subarray(22, 38)];
    const dst6 = [...v6.subarray(38, 54)];
    assert.equal(addon!.shardOf(v6, 1 << 30).hash, refHash(src6, 5353, dst6, 53, 17));
    // not IP, or too short: shard 0
    assert.equal(addon!.shardOf(Buffer.alloc(10), 4).shard, 0);
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    assert.equal(addon!.shardOf(arp, 4).hash, 0);
  });

  test('the TypeScript shardHash equals the native one on every frame of corpus captures', { skip: !addon }, (t) => {
    const dir = '/work/shared/corpus/ndpi/pcap';
    if (!existsSync(dir)) return t.skip(`no corpus at ${dir}`);
    let frames = 0;
    let files = 0;
    let nonzero = 0;
    const mismatches: string[] = [];
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.pcap')).sort().slice(0, 60)) {
      const f = readFileSync(`${dir}/${name}`);
      if (f.length < 24) continue;
      const magic = f.readUInt32LE(0);
      const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
      if (!le && magic !== 0xd4c3b2a1 && magic !== 0x4d3cb2a1) continue;
      const rd = (o: number) => (le ? f.readUInt32LE(o) : f.readUInt32BE(o));
      const lt = rd(20) & 0xffff;
      if (lt !== 1 && lt !== 101) continue;
      files++;
      for (let o = 24; o + 16 <= f.length; ) {
        const incl = rd(o + 8);
        if (o + 16 + incl > f.length) break;
        const frame = f.subarray(o + 16, o + 16 + incl);
        const ts = shardHash(f, o + 16, incl, lt === 101);
        const native = addon!.shardOf(frame, 1 << 30, lt).hash;
        if (ts !== native && mismatches.length < 5) mismatches.push(`${name} @${o}: ts ${ts} native ${native}`);
        if (ts !== 0) nonzero++;
        frames++;
        o += 16 + incl;
      }
    }
    console.log(`# shardHash parity: ${frames} frames from ${files} captures, ${nonzero} IP frames hashed`);
    assert.deepEqual(mismatches, []);
    assert.ok(frames > 1000 && nonzero > 1000);
    // and on the hand-made frames of the previous test's shapes
    const fwd = ipv4Frame([192, 168, 1, 10], [10, 0, 0, 1], 6, 51000, 443);
    assert.equal(shardHash(fwd, 0, fwd.length), refHash([192, 168, 1, 10], 51000, [10, 0, 0, 1], 443, 6));
  });

  test('a missing interface is a config error naming it', { skip: !addon }, () => {
    assert.throws(
      () => AfPacketCapture.open({ interface: 'stnn-nope0', rings: [new SpscRing(createRingBuffer(1024))] }),
      (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && e.exitCode === 2 && /no such network interface: stnn-nope0/.test(e.message),
    );
    if (process.getuid?.() === 0) {
      // a ring geometry the kernel refuses (not a power-of-two number of pages)
      assert.throws(
        () => AfPacketCapture.open({ interface: 'lo', rings: [new SpscRing(createRingBuffer(1024))], blockSize: 5000 }),
        (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && /blockSize 5000/.test(e.message),
      );
    }
    assert.throws(
      () => AfPacketCapture.open({ interface: 'lo', rings: [new SpscRing(createRingBuffer(1024))], snapLen: 10 }),
      (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && /snapLen must be an integer in \[64, 262144\], got 10/.test(e.message),
    );
  });

  test('without CAP_NET_RAW the error names the capability', { skip: !addon }, (t) => {
    let res: { code?: string; message?: string; isStnn?: boolean; opened?: boolean };
    if (process.getuid?.() === 0) {
      if (!sh(['setpriv', '--version']).ok) return t.skip('setpriv (util-linux) is missing');
      // as nobody, with no capabilities at all
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, ...selfArgs()], {
        encoding: 'utf8', env: { ...process.env, STNN_AFPACKET_TEST_ROLE: 'nocap' }, timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stderr);
      res = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.ok(res.isStnn);
    } else {
      try {
        AfPacketCapture.open({ interface: 'lo', rings: [new SpscRing(createRingBuffer(1024))] });
        res = { opened: true };
      } catch (e) {
        res = { code: (e as StnnError).code, message: (e as Error).message };
      }
    }
    assert.equal(res.code, 'STNN_CAPABILITY');
    assert.match(res.message!, /CAP_NET_RAW/);
    assert.equal(res.message!.split('\n').length, 1);
  });

  const skipNetns = addon ? netnsSkipReason() : 'addon not built';
  if (skipNetns) console.log(`# skipping the veth capture test: ${skipNetns}`);

  test('capture on a veth between two namespaces: records, snap length, shards, kernel stats, full ring', { skip: skipNetns ?? false, timeout: 60_000 }, async () => {
    const tag = `${process.pid % 100000}`;
    const nsA = `stnn-cap-a-${tag}`;
    const nsB = `stnn-cap-b-${tag}`;
    const ifA = `stcapa${tag}`;
    const ifB = `stcapb${tag}`;
    try {
      must(['ip', 'netns', 'add', nsA]);
      must(['ip', 'netns', 'add', nsB]);
      must(['ip', 'link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
      must(['ip', '-n', nsA, 'addr', 'add', `${A_IP}/24`, 'dev', ifA]);
      must(['ip', '-n', nsB, 'addr', 'add', `${B_IP}/24`, 'dev', ifB]);
      must(['ip', '-n', nsA, 'addr', 'add', `${A_IP6}/64`, 'dev', ifA, 'nodad']);
      must(['ip', '-n', nsB, 'addr', 'add', 'fd00:77::2/64', 'dev', ifB, 'nodad']);
      for (const [ns, i] of [[nsA, ifA], [nsB, ifB]] as const) {
        must(['ip', '-n', ns, 'link', 'set', i, 'up']);
        must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      }
      const child = spawn('ip', ['netns', 'exec', nsA, process.execPath, ...selfArgs()], {
        env: { ...process.env, STNN_AFPACKET_TEST_ROLE: 'capture', STNN_AFPACKET_IF: ifA },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const lines = createInterface({ input: child.stdout });
      const it = lines[Symbol.asyncIterator]();
      const first = await it.next();
      assert.equal(first.value, 'ready', stderr);
      const sender = spawnSync('ip', ['netns', 'exec', nsB, process.execPath, ...selfArgs()], {
        encoding: 'utf8', env: { ...process.env, STNN_AFPACKET_TEST_ROLE: 'sender' }, timeout: 30_000,
      });
      assert.equal(sender.stdout.trim(), 'sent', sender.stderr);
      // two 802.1Q-tagged UDP frames, one each way, written raw on B's end (no VLAN device
      // needed): the receiving kernel moves the tag out of the frame before any tap sees it
      const vlanSend = spawnSync('ip', ['netns', 'exec', nsB, 'python3', '-c', VLAN_SENDER, ifB], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(vlanSend.status, 0, vlanSend.stderr);
      child.stdin.write('done\n');
      const last = await it.next();
      assert.ok(!last.done, stderr);
      const res = JSON.parse(last.value as string) as {
        stats: import('../../src/capture/afpacket.js').AfPacketStats;
        stats2: import('../../src/capture/afpacket.js').AfPacketStats;
        stats3: import('../../src/capture/afpacket.js').AfPacketStats;
        waited: { ok: boolean; wokeAfterMs: number; records: number };
        records: Rec[]; tinyRecs: Rec[]; tinyDropped: number; closed: boolean; linkType: number;
        flagsBefore: number; flagsOpen: number; flagsAfter: number;
        fanStats: import('../../src/capture/afpacket.js').AfPacketStats[]; fanRecs: Rec[][];
      };
      assert.equal(res.linkType, LINKTYPE_ETHERNET);
      assert.ok(res.closed, 'stop() closes the rings');

      const frames = res.records.map((r) => ({ ...r, b: Buffer.from(r.hex, 'hex') }));
      const udp4 = frames.filter((f) => u16(f.b, 12) === 0x0800 && f.b[23] === 17);
      const udp6 = frames.filter((f) => u16(f.b, 12) === 0x86dd && f.b[20] === 17);
      const tcp = frames.filter((f) => u16(f.b, 12) === 0x0800 && f.b[23] === 6);
      const vlan = frames.filter((f) => u16(f.b, 12) === 0x8100);
      assert.equal(frames.length, udp4.length + udp6.length + tcp.length + vlan.length, 'the filter let only UDP and TCP through');

      // VLAN: the kernel hands the tag over beside the frame; the record has it back in place
      assert.equal(vlan.length, 2);
      for (const f of vlan) {
        assert.equal(u16(f.b, 14), VLAN_ID, 'TCI');
        assert.equal(u16(f.b, 16), 0x0800);
        assert.equal(f.b[27], 17);
        assert.equal(f.wireLen, 14 + 4 + 20 + 8 + VLAN_LEN);
        assert.equal(f.capLen, f.wireLen);
        assert.deepEqual(f.b.subarray(46), payloadOf(7, VLAN_LEN));
      }
      assert.equal(udp4.length, 2 * UDP_LENS.length);
      assert.equal(udp6.length, 2);

      // UDP over IPv4: request then echo, lengths and bytes exact, cut at the snap length
      for (let i = 0; i < UDP_LENS.length; i++) {
        const want = payloadOf(i, UDP_LENS[i]!);
        const wire = 14 + 20 + 8 + UDP_LENS[i]!;
        for (const [dir, f] of [['request', udp4[2 * i]!], ['echo', udp4[2 * i + 1]!]] as const) {
          assert.equal(f.wireLen, wire, `${dir} ${i} wire length`);
          assert.equal(f.capLen, Math.min(wire, SNAP), `${dir} ${i} captured length`);
          assert.equal(f.b.length, f.capLen);
          assert.deepEqual(f.b.subarray(42), want.subarray(0, f.capLen - 42), `${dir} ${i} payload bytes`);
          const fromB = [...f.b.subarray(26, 30)].join('.') === B_IP;
          assert.equal(fromB, dir === 'request');
          assert.equal(fromB ? u16(f.b, 36) : u16(f.b, 34), UDP_PORT);
        }
      }
      // IPv6: 14 + 40 + 8 + 100
      for (const f of udp6) {
        assert.equal(f.wireLen, 162);
        assert.equal(f.capLen, 162);
        assert.deepEqual(f.b.subarray(62), payloadOf(9, V6_LEN));
      }
      // both directions of each flow meet in one shard, the one shardOf() computes
      for (const flow of [udp4, udp6, tcp, vlan]) {
        assert.ok(flow.length >= 2);
        assert.equal(new Set(flow.map((f) => f.shard)).size, 1, 'one shard per flow');
        for (const f of flow) assert.equal(shardOf(f.b, SHARDS), f.shard);
      }
      // TCP: the handshake, the message each way
      const tcpFlags = (f: { b: Buffer }) => f.b[14 + 20 + 13]!;
      const tcpPayload = (f: { b: Buffer }) => f.b.subarray(14 + 20 + (f.b[14 + 20 + 12]! >> 4) * 4).toString();
      assert.equal(tcpFlags(tcp[0]!), 0x02, 'first TCP packet is the SYN');
      assert.equal([...tcp[0]!.b.subarray(26, 30)].join('.'), B_IP);
      assert.equal(tcpFlags(tcp[1]!), 0x12, 'then the SYN-ACK');
      const withMsg = tcp.filter((f) => tcpPayload(f) === TCP_MSG);
      assert.equal(withMsg.length, 2);
      assert.notEqual([...withMsg[0]!.b.subarray(26, 30)].join('.'), [...withMsg[1]!.b.subarray(26, 30)].join('.'));
      // timestamps: this year, in order within a shard
      const now = Date.now() / 1000;
      for (const f of frames) assert.ok(Math.abs(f.tsSec - now) < 120 && f.tsNsec < 1e9);

      // counters
      const s = res.stats;
      assert.equal(s.packets, frames.length);
      assert.equal(s.bytes, frames.reduce((n, f) => n + f.wireLen, 0));
      assert.equal(s.truncated, 6, 'the 300-, 1000- and 1400-byte datagrams (wire 342, 1042, 1442 > 200), both ways');
      assert.deepEqual(s.ringDrops, [0, 0, 0, 0]);
      assert.equal(s.shardPackets.reduce((a, b) => a + b, 0), frames.length);
      assert.equal(s.kernelPackets, frames.length);
      assert.equal(s.kernelDrops, 0);
      assert.equal(s.loopbackDuplicates, 0, 'a veth: the echoes A sends (outgoing) are kept');

      // the one-ring capture never consumed: 1024 bytes hold 6 of its 14 UDP packets
      // (records 72+72+136+136+368, then the 1066-byte ones drop, then IPv6's 192 fits;
      // the VLAN pair (96 each) finds 48 bytes left)
      assert.equal(res.stats2.packets, 14);
      assert.deepEqual(res.tinyRecs.map((r) => r.wireLen), [43, 43, 106, 106, 342, 162]);
      assert.deepEqual(res.stats2.ringDrops, [8]);
      assert.equal(res.tinyDropped, 8);
      assert.equal(res.stats2.kernelPackets, 14);

      // promiscuous mode: on while a capture asked for it, off after the last one stopped
      assert.equal(res.flagsBefore & 0x100, 0);
      assert.equal(res.flagsOpen & 0x100, 0x100);
      assert.equal(res.flagsAfter & 0x100, 0);

      // fanout: every packet reached exactly one member of the group
      // (each socket stamps packets itself, so frames are matched by length and bytes)
      const key = (r: Rec) => `${r.wireLen}:${r.hex.slice(0, 2 * SNAP)}`;
      const fanKeys = [...res.fanRecs[0]!, ...res.fanRecs[1]!].map(key).sort();
      assert.deepEqual(fanKeys, res.records.map(key).sort());
      assert.equal(res.fanStats[0]!.packets + res.fanStats[1]!.packets, frames.length);
      console.log(`# fanout split ${res.fanStats[0]!.packets} / ${res.fanStats[1]!.packets}`);
      // PACKET_FANOUT_HASH uses the kernel's symmetric flow hash: a flow, both ways, stays with one member
      const memberOf = new Map<number, Set<number>>();
      res.fanRecs.forEach((recs, m) => {
        for (const r of recs) {
          const b = Buffer.from(r.hex, 'hex');
          const h = shardHash(b, 0, b.length);
          if (!memberOf.has(h)) memberOf.set(h, new Set());
          memberOf.get(h)!.add(m);
        }
      });
      assert.equal(memberOf.size, 4, 'four flows: UDP/IPv4, UDP/IPv6, TCP, UDP in VLAN 5');
      for (const members of memberOf.values()) assert.equal(members.size, 1);

      // a consumer asleep in wait(20 s) is woken by the capture thread's request, not the timeout
      console.log(`# sleeping consumer woke ${res.waited.wokeAfterMs} ms after it began to wait, which includes the sender process start-up (its timeout was 20 s)`);
      assert.ok(res.waited.ok, 'woken with data');
      assert.ok(res.waited.wokeAfterMs < 10_000, `woke after ${res.waited.wokeAfterMs} ms`);
      assert.ok(res.stats3.wakeups >= 1);
      assert.equal(res.waited.records, 14);
      assert.equal(res.stats3.packets, 14);
    } finally {
      sh(['ip', 'netns', 'del', nsA]);
      sh(['ip', 'netns', 'del', nsB]);
    }
  });

  test('capture on loopback: each packet once (the outgoing copy skipped and counted), as tcpdump -i lo', { skip: skipNetns ?? false, timeout: 30_000 }, () => {
    const ns = `stnn-cap-l-${process.pid % 100000}`;
    try {
      must(['ip', 'netns', 'add', ns]);
      must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...selfArgs()], {
        encoding: 'utf8', env: { ...process.env, STNN_AFPACKET_TEST_ROLE: 'loopback' }, timeout: 20_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { stats: import('../../src/capture/afpacket.js').AfPacketStats; records: Rec[]; linkType: number };
      assert.equal(res.linkType, LINKTYPE_ETHERNET);
      // five requests and five echoes, each exactly once, in order, with its bytes
      const got = res.records.map((x) => {
        const b = Buffer.from(x.hex, 'hex');
        return { wire: x.wireLen, sport: u16(b, 34), dport: u16(b, 36), payload: b.subarray(42) };
      });
      assert.equal(got.length, 2 * UDP_LENS.length, JSON.stringify(got.map((g) => [g.wire, g.sport, g.dport])));
      for (let i = 0; i < UDP_LENS.length; i++) {
        const [req, echo] = [got[2 * i]!, got[2 * i + 1]!];
        assert.equal(req.dport, LO_PORT);
        assert.equal(echo.sport, LO_PORT);
        for (const g of [req, echo]) {
          assert.equal(g.wire, 14 + 20 + 8 + UDP_LENS[i]!);
          assert.deepEqual(g.payload, payloadOf(i, UDP_LENS[i]!));
        }
      }
      // the kernel delivered 20 (each datagram sent and received); 10 kept, 10 skipped
      assert.equal(res.stats.packets, 10);
      assert.equal(res.stats.loopbackDuplicates, 10);
      assert.equal(res.stats.kernelPackets, 20);
      assert.equal(res.stats.bytes, got.reduce((n, g) => n + g.wire, 0));
    } finally {
      sh(['ip', 'netns', 'del', ns]);
    }
  });

  test('the interface vanishing under a running capture is reported, and stop() still works', { skip: skipNetns ?? false, timeout: 30_000 }, () => {
    const ns = `stnn-cap-g-${process.pid % 100000}`;
    try {
      must(['ip', 'netns', 'add', ns]);
      must(['ip', '-n', ns, 'link', 'add', 'stgone0', 'type', 'veth', 'peer', 'name', 'stgone1']);
      must(['ip', '-n', ns, 'link', 'set', 'stgone0', 'up']);
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...selfArgs()], {
        encoding: 'utf8', env: { ...process.env, STNN_AFPACKET_TEST_ROLE: 'ifgone', STNN_AFPACKET_IF: 'stgone0' }, timeout: 20_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.ok(res.deleted);
      assert.equal(res.during.running, true, 'the thread keeps running');
      assert.match(res.during.lastError, /Network is down/);
      assert.equal(res.final.running, false);
      assert.ok(res.finished, 'the ring is closed');
    } finally {
      sh(['ip', 'netns', 'del', ns]);
    }
  });
}
