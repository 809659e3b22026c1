import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TlsCounters, TlsTracker, tlsStateBound, DEFAULT_TLS_LIMITS } from '../../src/tls/tracker.js';
import {
  Conn, F_ACK, F_PSH, F_RST, F_SYN, alpnExt, cat, clientHelloBody, earlyDataExt, ext, filler, handshake, keyShareCH, prng,
  record, run, serverHelloBody, sniExt, supportedVersionSH, supportedVersionsCH, type Pkt,
} from './helpers.js';

// ---- the two reference handshakes ----

/** A Chrome-like TLS 1.3 ClientHello with an X25519MLKEM768 key share: 1,8xx bytes. */
function ch13(): Uint8Array {
  const body = clientHelloBody({
    exts: [
      ext(0x0a0a, []), sniExt('www.example.com'), ext(23, []), supportedVersionsCH([0x2a2a, 0x0304, 0x0303]),
      alpnExt([[0x3a, 0x3a], 'h2', 'http/1.1']), keyShareCH(0x11ec, 1216, [{ group: 0x001d, len: 32 }]),
      ext(21, new Array(400).fill(0)), ext(0xfafa, [0]),
    ],
  });
  return record(22, 0x0301, handshake(1, body));
}

interface Flight { dir: 0 | 1; data: Uint8Array; /** offset of the record that ends the handshake */ mark?: number }

/** TLS 1.3: CH | SH+CCS+encrypted flight | CCS+Finished(23) | ticket | data … */
function flights13(): Flight[] {
  const sh = record(22, 0x0303, handshake(2, serverHelloBody({ exts: [supportedVersionSH(0x0304), keyShareCH(0x001d, 32)] })));
  const ccs = record(20, 0x0303, [1]);
  return [
    { dir: 0, data: ch13() },
    { dir: 1, data: cat(sh, ccs, record(23, 0x0303, filler(2500, 1))) },
    { dir: 0, data: cat(ccs, record(23, 0x0303, filler(53, 2))), mark: 6 },
    { dir: 1, data: cat(record(23, 0x0303, filler(200, 3)), record(23, 0x0303, filler(200, 4))) },
    { dir: 0, data: record(23, 0x0303, filler(400, 5)) },
    { dir: 1, data: cat(record(23, 0x0303, filler(16401, 6)), record(23, 0x0303, filler(3000, 7))) },
  ];
}

/** TLS 1.2: CH | SH + Certificate spread over two records + SHD | CKE+CCS+Fin | CCS+Fin | data(23) … */
function flights12(): Flight[] {
  const ch = record(22, 0x0301, handshake(1, clientHelloBody({ exts: [sniExt('shop.example.org'), alpnExt(['h2', 'http/1.1'])] })));
  const sh = handshake(2, serverHelloBody({ cipher: 0xc02f, exts: [alpnExt(['h2']), ext(0xff01, [0])] }));
  const cert = handshake(11, filler(3000, 9));
  const shd = handshake(14, []);
  const msgs = cat(sh, cert, shd);
  return [
    { dir: 0, data: ch },
    { dir: 1, data: cat(record(22, 0x0303, msgs.subarray(0, 1500)), record(22, 0x0303, msgs.subarray(1500))) },
    { dir: 0, data: cat(record(22, 0x0303, handshake(16, filler(66))), record(20, 0x0303, [1]), record(22, 0x0303, filler(40))) },
    { dir: 1, data: cat(record(20, 0x0303, [1]), record(22, 0x0303, filler(40))) },
    { dir: 0, data: cat(record(23, 0x0303, filler(300)), record(23, 0x0303, filler(30))), mark: 0 },
    { dir: 1, data: cat(record(23, 0x0303, filler(5000)), record(23, 0x0303, [])) },
    { dir: 0, data: record(23, 0x0303, filler(50)) },
  ];
}

const INFO13 = { sni: 'www.example.com', alpnOffered: ['h2', 'http/1.1'], versionOffered: 'TLSv1.3', versionNegotiated: 'TLSv1.3' };
const INFO12 = { sni: 'shop.example.org', alpnOffered: ['h2', 'http/1.1'], alpnNegotiated: 'h2', versionOffered: 'TLSv1.2', versionNegotiated: 'TLSv1.2' };

/**
 * Turns flights into packets: SYN, SYN-ACK, ACK, then each flight cut by `cut`,
 * optionally reordered within windows and with retransmitted/overlapping copies,
 * followed by a pure ACK from the other side. Returns the packets and the index of
 * the packet whose arrival delivers (in sequence order) the first byte of the
 * marked record, computed by plain byte coverage.
 */
function build(flights: Flight[], cut: (len: number) => number[], r: () => number, opt: { reorder?: boolean; retrans?: boolean; isn?: [number, number] } = {}) {
  const c = new Conn(...(opt.isn ?? [1000, 5000]));
  const pkts: Pkt[] = [c.syn(), c.synAck(), c.ack(0)];
  const markInfo: { dir: 0 | 1; off: number }[] = [];
  const base: [number, number] = [c.next[0], c.next[1]];
  for (const f of flights) {
    const start = (c.next[f.dir] - base[f.dir]) >>> 0;
    if (f.mark !== undefined) markInfo.push({ dir: f.dir, off: start + f.mark });
    let segs = c.sendSplit(f.dir, f.data, cut(f.data.length));
    if (opt.reorder) {
      // shuffle within windows of 6 segments (the store holds 16)
      const out: Pkt[] = [];
      for (let i = 0; i < segs.length; i += 6) {
        const w = segs.slice(i, i + 6);
        for (let j = w.length - 1; j > 0; j--) { const k = Math.floor(r() * (j + 1)); [w[j], w[k]] = [w[k]!, w[j]!]; }
        out.push(...w);
      }
      segs = out;
    }
    if (opt.retrans) {
      const out: Pkt[] = [];
      for (const s of segs) {
        out.push(s);
        if (r() < 0.3 && out.length > 0) {
          // a retransmission of an earlier segment of this flight, or an overlapping one
          const e = out[Math.floor(r() * out.length)]!;
          if (r() < 0.5 || e.data.length < 2) out.push({ ...e });
          else {
            const from = Math.floor(r() * e.data.length);
            const flightOff = (e.seq - (base[f.dir] + start)) | 0;
            const end = Math.min(f.data.length, flightOff + e.data.length + 1 + Math.floor(r() * 40));
            out.push({ dir: f.dir, seq: (e.seq + from) >>> 0, flags: F_ACK | F_PSH, data: f.data.subarray(flightOff + from, end) });
          }
        }
      }
      segs = out;
    }
    pkts.push(...segs, c.ack(f.dir === 0 ? 1 : 0));
  }
  // expected boundary: first packet (arrival order) whose bytes complete the coverage up to a mark
  const covered: [Set<number>, Set<number>] = [new Set(), new Set()];
  const frontier = [0, 0];
  let boundary = -1;
  pkts.forEach((p, i) => {
    if (p.data.length === 0 || boundary >= 0) return;
    const rel = (p.seq - base[p.dir]) >>> 0;
    for (let k = 0; k < p.data.length; k++) covered[p.dir].add(rel + k);
    const before = frontier[p.dir]!;
    while (covered[p.dir].has(frontier[p.dir]!)) frontier[p.dir]!++;
    for (const m of markInfo) if (m.dir === p.dir && before <= m.off && m.off < frontier[p.dir]!) boundary = i;
  });
  return { pkts, boundary };
}

function expectPhases(n: number, boundary: number, lastHandshake: boolean): number[] {
  return Array.from({ length: n }, (_, i) => (i < boundary ? 0 : i > boundary ? 1 : lastHandshake ? 0 : 1));
}

const whole = (len: number) => [len];
const mss = (len: number) => Array(Math.ceil(len / 1448)).fill(1448);
const bytes = (len: number) => Array(len).fill(1);
const randomCut = (r: () => number) => (len: number) => { const out: number[] = []; let n = 0; while (n < len) { const s = 1 + Math.floor(r() * 700); out.push(s); n += s; } return out; };

test('TLS 1.3 handshake, MSS segments: status, info and per-packet phases (client Finished is the last handshake packet)', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  const { pkts, boundary } = build(flights13(), mss, prng(1));
  // SYN, SYN-ACK, ACK, CH×2, ACK, SH+CCS+encrypted×2 (2,640 bytes), ACK, CCS+Finished, …
  assert.equal(boundary, 9);
  const phases = run(t, pkts);
  assert.deepEqual(phases.slice(0, 12), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  assert.deepEqual(phases, expectPhases(pkts.length, 9, true));
  assert.equal(t.status, 'tls');
  assert.equal(t.handshakeDone, true);
  assert.deepEqual(t.info(), INFO13);
  assert.equal(counters.client_hellos, 1);
  assert.equal(counters.server_hellos, 1);
  assert.equal(counters.tls_flows, 1);
  assert.equal(counters.bad_records + counters.gaps + counters.hello_malformed, 0);
  assert.equal(t.stateBytes(), 0);
  assert.ok(ch13().length > 1800 && ch13().length < 1900, String(ch13().length));
});

test('TLS 1.2 handshake: the packet with the first ApplicationData record is the first data packet', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  const { pkts, boundary } = build(flights12(), whole, prng(2));
  // SYN, SYN-ACK, ACK, CH, ACK, SH.., ACK, CKE.., ACK, CCS.., ACK, data(23)
  assert.equal(boundary, 11);
  assert.deepEqual(run(t, pkts), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(t.info(), INFO12);
  assert.equal(counters.client_hellos, 1);
  assert.equal(counters.server_hellos, 1);
  // record headers read until the tracker let go: CH; 2 server; 3 client; 2 server; the two data records of
  // the packet that ended the handshake (the rest of that packet is still read)
  assert.equal(counters.records, 10);
});

test('every split: byte by byte, random cuts, reordered, retransmitted and overlapping segments give the same result', () => {
  const cases: [string, () => Flight[], typeof INFO13 | typeof INFO12, boolean][] = [
    ['1.3', flights13, INFO13, true],
    ['1.2', flights12, INFO12, false],
  ];
  let retrans = 0, stored = 0;
  for (const [name, mk, info, last] of cases) {
    for (let seed = 1; seed <= 40; seed++) {
      const r = prng(seed * 7919);
      const mode = seed % 4;
      const cut = seed === 1 ? bytes : randomCut(r);
      const isn: [number, number] = seed % 3 === 0 ? [0xfffffff0, 0xffffff00] : [seed * 1000, seed * 99991];
      const { pkts, boundary } = build(mk(), cut, r, { reorder: mode >= 2, retrans: mode % 2 === 1, isn });
      const counters = new TlsCounters();
      const t = new TlsTracker(counters);
      const phases = run(t, pkts);
      const label = `${name} seed ${seed} mode ${mode}`;
      assert.ok(boundary > 0, label);
      assert.deepEqual(phases, expectPhases(pkts.length, boundary, last), label);
      assert.equal(t.status, 'tls', label);
      assert.deepEqual(t.info(), info, label);
      assert.equal(counters.bad_records + counters.gaps + counters.hello_malformed + counters.reorder_dropped, 0, label);
      retrans += counters.retransmissions;
      stored += counters.reorder_stored;
      assert.equal(t.stateBytes(), 0, label);
    }
  }
  // the paths were exercised
  assert.ok(retrans > 30 && stored > 30, `${retrans} ${stored}`);
});

test('a ClientHello split over two records and four segments delivered in reverse order', () => {
  const hs = handshake(1, clientHelloBody({ exts: [sniExt('two.records.test'), supportedVersionsCH([0x0304]), keyShareCH(0x11ec, 1216)] }));
  const data = cat(record(22, 0x0301, hs.subarray(0, 700)), record(22, 0x0301, hs.subarray(700)));
  const c = new Conn();
  c.withAcks = false; // packets are built out of order
  const segs = c.sendSplit(0, data, [400, 400, 400]);
  assert.equal(segs.length, 4);
  const t = new TlsTracker(new TlsCounters());
  const pkts = [c.syn(), c.synAck(), c.ack(0), ...segs.reverse()];
  const phases = run(t, pkts);
  assert.deepEqual(phases, [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(t.status, 'tls'); // decided when the first segment arrived last
  assert.equal(t.info().sni, 'two.records.test');
  assert.equal(t.info().versionOffered, 'TLSv1.3');
});

test('segments held out of order are copies: the input buffer (a reused Buffer, as the capture readers hand out) may be overwritten', () => {
  const hs = handshake(1, clientHelloBody({ exts: [keyShareCH(0x11ec, 1216), supportedVersionsCH([0x0304]), sniExt('held.copies.test')] }));
  const data = record(22, 0x0301, hs);
  const c = new Conn();
  c.withAcks = false;
  const segs = c.sendSplit(0, data, [400, 400, 400]);
  const t = new TlsTracker(new TlsCounters());
  const shared = Buffer.alloc(4096);
  for (const p of [c.syn(), c.synAck(), c.ack(0), ...segs.reverse()]) {
    shared.set(p.data, 3);
    t.onPacket(p.dir, p.seq >>> 0, p.flags, shared, 3, p.data.length, p.data.length);
    shared.fill(0xee); // the reader reuses its buffer for the next frames
  }
  assert.equal(t.status, 'tls');
  assert.equal(t.info().sni, 'held.copies.test');
});

test('status: not-tls for HTTP, an SSLv2 ClientHello, a handshake record without ClientHello; undecided until 6 bytes', () => {
  const cases: [string, Uint8Array, string][] = [
    ['http', new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'not-tls'],
    ['sslv2', new Uint8Array([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10]), 'not-tls'],
    ['server hello first', record(22, 0x0303, handshake(2, serverHelloBody())), 'not-tls'],
    ['appdata first', record(23, 0x0303, filler(10)), 'not-tls'],
    ['zero-length handshake record', record(22, 0x0301, []), 'not-tls'],
    ['version 2.x', record(22, 0x0201, handshake(1, clientHelloBody())), 'not-tls'],
  ];
  for (const [name, data, want] of cases) {
    const counters = new TlsCounters();
    const t = new TlsTracker(counters);
    const c = new Conn();
    const phases = run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, data), c.send(1, new Uint8Array(filler(100))), c.send(0, record(23, 0x0303, filler(9)))]);
    assert.equal(t.status, want, name);
    assert.deepEqual(phases, [0, 0, 0, 0, 0, 0], name);
    assert.equal(counters.not_tls_flows, 1, name);
    assert.equal(counters.bad_records + counters.records, 0, name);
    assert.equal(counters.sslv2_hellos, name === 'sslv2' ? 1 : 0, name);
    assert.equal(t.stateBytes(), 0, name);
  }
  // five bytes of header say nothing yet; the sixth (message type 1) decides
  const t = new TlsTracker(new TlsCounters());
  const c = new Conn();
  const ch = ch13();
  run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, ch.subarray(0, 5))]);
  assert.equal(t.status, 'undecided');
  run(t, [c.send(0, ch.subarray(5, 6))]);
  assert.equal(t.status, 'tls');
});

test('server bytes before the client decides are held, then followed once the flow is TLS', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  const f = flights12();
  const c = new Conn();
  const chPkt = c.send(0, f[0]!.data);
  const shPkts = c.sendSplit(1, f[1]!.data, [1000]);
  const phases = run(t, [c.syn(), c.synAck(), c.ack(0), ...shPkts, chPkt]);
  assert.deepEqual(phases, [0, 0, 0, 0, 0, 0]);
  assert.equal(t.status, 'tls');
  assert.deepEqual(t.info(), { ...INFO12 });
  // a non-TLS flow whose server speaks first: its bytes are never parsed as records
  const c2 = new TlsCounters();
  const t2 = new TlsTracker(c2);
  const k = new Conn();
  run(t2, [k.syn(), k.synAck(), k.ack(0), k.send(1, new TextEncoder().encode('220 mail.example ESMTP\r\n')), k.send(0, new TextEncoder().encode('EHLO x\r\n'))]);
  assert.equal(t2.status, 'not-tls');
  assert.equal(c2.bad_records + c2.records, 0);
});

test('pure ACKs, FIN and RST take the current phase; RST payload is not stream data', () => {
  const t = new TlsTracker(new TlsCounters());
  const c = new Conn();
  const f = flights12();
  const p: Pkt[] = [c.syn(), c.synAck(), c.ack(0)];
  for (const fl of f.slice(0, 4)) p.push(c.send(fl.dir, fl.data));
  const rst: Pkt = { dir: 0, seq: c.next[0], flags: F_RST | F_ACK, data: record(23, 0x0303, filler(5)) };
  p.push(rst, c.ack(1));
  p.push(c.send(0, f[4]!.data), c.ack(1), { ...c.ack(0), flags: F_ACK | 0x01 });
  assert.deepEqual(run(t, p), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
});

test('bare ACKs with a few zero bytes at the next sequence number are padding, not stream data', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  const c = new Conn();
  const f = flights12();
  const pad = (dir: 0 | 1, n: number): Pkt => ({ dir, seq: c.next[dir], flags: F_ACK, data: new Uint8Array(n) });
  const p: Pkt[] = [c.syn(), { ...c.synAck(), data: new Uint8Array(2) }, pad(0, 2)];
  for (const fl of f.slice(0, 4)) p.push(c.send(fl.dir, fl.data), pad(fl.dir === 0 ? 1 : 0, 6));
  p.push(pad(0, 1), c.send(0, f[4]!.data));
  assert.deepEqual(run(t, p), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(t.status, 'tls');
  assert.deepEqual(t.info(), INFO12);
  assert.equal(counters.ack_padding, 7);
  assert.equal(counters.bad_records + counters.gaps + counters.retransmissions, 0);
  // real data that happens to be a zero-filled bare ACK: the next segment starts after it, the zeros are fed
  const c2 = new TlsCounters();
  const t2 = new TlsTracker(c2);
  const k = new Conn();
  const rec = record(22, 0x0303, handshake(2, serverHelloBody()));
  const body = cat(rec, record(22, 0x0303, [0, 0, 0, 0, 0, 0, 0, 0]), record(23, 0x0303, [5]));
  const segs = k.sendSplit(1, body, [rec.length + 5, 6]);
  run(t2, [k.syn(), k.synAck(), k.send(0, f[0]!.data), segs[0]!, { ...segs[1]!, flags: F_ACK }, segs[2]!]);
  assert.equal(c2.ack_padding, 1);
  assert.equal(c2.holes_skipped + c2.bad_records + c2.reorder_stored, 0);
  assert.equal(c2.records, 4); // CH, SH, the 8-zero record, the data record
  assert.equal(t2.handshakeDone, true);
});

test('flow picked up mid-stream (no SYN): stream starts at the first payload seen', () => {
  const t = new TlsTracker(new TlsCounters());
  const c = new Conn(0x7ffffff0, 0x12345678);
  const p: Pkt[] = [];
  for (const fl of flights13()) p.push(...c.sendSplit(fl.dir, fl.data, mss(fl.data.length)));
  const phases = run(t, p);
  assert.equal(t.status, 'tls');
  assert.deepEqual(t.info(), INFO13);
  // CH×2, SH×2, CCS+Fin (last handshake), then data
  assert.deepEqual(phases.slice(0, 8), [0, 0, 0, 0, 0, 1, 1, 1]);
  // picked up in the middle of application data: not TLS
  const t2 = new TlsTracker(new TlsCounters());
  run(t2, [{ dir: 0, seq: 77, flags: F_ACK, data: new Uint8Array(filler(500)) }]);
  assert.equal(t2.status, 'not-tls');
});

test('TLS 1.3 with early data: client 0-RTT records before the ServerHello do not end the handshake', () => {
  const ch = record(22, 0x0301, handshake(1, clientHelloBody({ exts: [sniExt('zero.rtt'), supportedVersionsCH([0x0304]), earlyDataExt()] })));
  const sh = record(22, 0x0303, handshake(2, serverHelloBody({ exts: [supportedVersionSH(0x0304)] })));
  const c = new Conn();
  const p = [c.syn(), c.synAck(), c.ack(0), c.send(0, ch), c.send(0, record(23, 0x0303, filler(100))),
    c.send(1, cat(sh, record(23, 0x0303, filler(900)))), c.send(0, record(23, 0x0303, filler(53))), c.ack(1), c.send(0, record(23, 0x0303, filler(70)))];
  const t = new TlsTracker(new TlsCounters());
  assert.deepEqual(run(t, p), [0, 0, 0, 0, 0, 0, 0, 1, 1]);
});

test('HelloRetryRequest: the server side waits for the real ServerHello', () => {
  const counters = new TlsCounters();
  const hrr = record(22, 0x0303, handshake(2, serverHelloBody({ retry: true, exts: [supportedVersionSH(0x0304)] })));
  const ch2 = record(22, 0x0303, handshake(1, clientHelloBody({ exts: [sniExt('second.hello')] })));
  const sh = record(22, 0x0303, handshake(2, serverHelloBody({ exts: [supportedVersionSH(0x0304)] })));
  const c = new Conn();
  const p = [c.syn(), c.synAck(), c.ack(0), c.send(0, ch13()), c.send(1, cat(hrr, record(20, 0x0303, [1]))),
    c.send(0, cat(record(20, 0x0303, [1]), ch2)), c.send(1, cat(sh, record(23, 0x0303, filler(800)))),
    c.send(0, record(23, 0x0303, filler(53))), c.send(1, record(23, 0x0303, filler(80)))];
  const t = new TlsTracker(counters);
  assert.deepEqual(run(t, p), [0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(counters.hello_retry_requests, 1);
  assert.equal(counters.server_hellos, 1);
  assert.equal(t.info().sni, 'www.example.com'); // from the first ClientHello
  assert.equal(t.info().versionNegotiated, 'TLSv1.3');
});

test('hostile records: oversize length stops that side, zero-length records are followed, garbage after the ClientHello', () => {
  // oversize record from the server: counted, server side stops, client data still ends a 1.2 handshake
  let counters = new TlsCounters();
  let t = new TlsTracker(counters);
  let c = new Conn();
  const f = flights12();
  let phases = run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, f[0]!.data),
    c.send(1, new Uint8Array([22, 3, 3, 0x48, 0x01, 0, 0])), c.send(1, f[1]!.data), c.send(0, record(23, 0x0303, []))]);
  assert.deepEqual(phases, [0, 0, 0, 0, 0, 0, 1]);
  assert.equal(counters.bad_records, 1);
  assert.equal(counters.oversize_records, 1);
  assert.equal(counters.empty_records, 1);
  assert.equal(t.info().versionNegotiated, undefined);
  // exactly 2^14+2048 is accepted
  counters = new TlsCounters();
  t = new TlsTracker(counters);
  c = new Conn();
  run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, f[0]!.data), c.send(1, record(22, 0x0303, filler(18432)))]);
  assert.equal(counters.bad_records, 0);
  // garbage inside the CH record after the message is skipped; a garbage record after it stops the client side
  counters = new TlsCounters();
  t = new TlsTracker(counters);
  c = new Conn();
  const chMsg = handshake(1, clientHelloBody({ exts: [sniExt('x.y')] }));
  phases = run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, record(22, 0x0301, cat(chMsg, filler(77)))),
    c.send(0, new TextEncoder().encode('\x00\x01garbage garbage')), c.send(0, record(23, 0x0303, filler(9)))]);
  assert.deepEqual(phases, [0, 0, 0, 0, 0, 0]);
  assert.equal(t.info().sni, 'x.y');
  assert.equal(counters.bad_records, 1);
  assert.equal(counters.records, 1);
});

test('snap length: cut bytes inside record bodies are skipped, a cut hiding a header stops the side', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  const c = new Conn();
  const f = flights12();
  const p: Pkt[] = [c.syn(), c.synAck(), c.ack(0)];
  for (const fl of f.slice(0, 4)) p.push(c.send(fl.dir, fl.data));
  // server data record of 3000 bytes, captured 96 bytes per segment of 1000
  const big = record(23, 0x0303, filler(2995));
  const before = p.length;
  p.push(c.send(0, record(23, 0x0303, filler(10))));
  for (const s of c.sendSplit(1, big, [1000, 1000])) p.push({ ...s, data: s.data.subarray(0, 96), wire: s.data.length });
  // next record's header falls in the cut part
  const two = cat(record(23, 0x0303, filler(200)), record(23, 0x0303, filler(200)));
  const s2 = c.send(1, two);
  p.push({ ...s2, data: s2.data.subarray(0, 100), wire: s2.data.length });
  const phases = run(t, p);
  assert.deepEqual(phases.slice(before), [1, 1, 1, 1, 1]);
  // the handshake is over and both hellos are known: the tracker let go before the cut packets
  assert.equal(counters.snap_cut_segments, 0);
  assert.equal(counters.holes_skipped, 0);

  // during the handshake: the ServerHello cut → hello abandoned, records still followed
  const c2 = new TlsCounters();
  const t2 = new TlsTracker(c2);
  const k = new Conn();
  const srv = f[1]!.data;
  const chp = k.send(0, f[0]!.data);
  const [sp1, sp2] = k.sendSplit(1, srv, [1505]);
  const ph = run(t2, [k.syn(), k.synAck(), k.ack(0), chp, { ...sp1!, data: srv.subarray(0, 40), wire: 1505 }, sp2!, k.send(1, record(23, 0x0303, filler(5)))]);
  assert.deepEqual(ph, [0, 0, 0, 0, 0, 0, 1]);
  assert.equal(c2.hello_gaps, 1);
  assert.equal(c2.gaps, 0);
  assert.equal(c2.records, 4); // CH, two server handshake records, server data
  assert.equal(t2.info().versionNegotiated, undefined);
  // a cut hiding the next header: the side stops
  const c3 = new TlsCounters();
  const t3 = new TlsTracker(c3);
  const m = new Conn();
  const ch = f[0]!.data;
  const cp = m.send(0, cat(ch, record(23, 0x0303, filler(5))));
  run(t3, [m.syn(), m.synAck(), m.ack(0), { ...cp, data: cp.data.subarray(0, ch.length + 2), wire: cp.data.length }]);
  assert.equal(c3.gaps, 1);
  assert.equal(c3.client_hellos, 1);
});

test('reorder store: bounded; when full the earliest hole is given up (skipped in a body, else the side stops)', () => {
  const limits = { ...DEFAULT_TLS_LIMITS, oooMaxSegments: 4, oooMaxBytes: 4000 };
  const f = flights13();
  // client app data after the handshake would not be tracked; test the store during the handshake:
  // the server's encrypted flight (one 2,505-byte type-23 record) loses its second segment
  let counters = new TlsCounters();
  let t = new TlsTracker(counters, limits);
  let c = new Conn();
  c.withAcks = false; // packets are built out of order
  const sf = cat(f[1]!.data, record(22, 0x0303, filler(30)), record(23, 0x0303, filler(30)));
  const segs = c.sendSplit(1, sf, Array(30).fill(100));
  segs.splice(3, 1); // lose bytes 300..400, inside the big type-23 record
  run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, f[0]!.data), ...segs]);
  assert.equal(counters.reorder_dropped, 1);
  assert.equal(counters.holes_skipped, 1);
  assert.equal(counters.gaps, 0);
  assert.ok(t.stateBytes() <= 4000);
  assert.equal(counters.records, 1 + 5); // CH; SH, CCS, 2505-byte record, the two trailing ones
  // the lost segment held the start of a record header: the side stops
  counters = new TlsCounters();
  t = new TlsTracker(counters, limits);
  c = new Conn();
  c.withAcks = false; // packets are built out of order
  const sh = f[1]!.data.subarray(0, f[1]!.data.length - 2505);
  const segs2 = c.sendSplit(1, cat(sh, record(23, 0x0303, filler(2500))), [sh.length - 2, 4]);
  const tail = segs2.slice(2);
  const more = c.sendSplit(1, new Uint8Array(filler(1000)), [100, 100, 100, 100, 100, 100]);
  run(t, [c.syn(), c.synAck(), c.ack(0), c.send(0, f[0]!.data), segs2[0]!, ...tail, ...more]);
  assert.equal(counters.gaps, 1);
  assert.equal(counters.reorder_dropped, 1);
  assert.equal(t.stateBytes(), 0);
});

test('a segment lost by the capture but acknowledged by the peer is given up at once (with ACK numbers)', () => {
  for (const withAcks of [true, false]) {
    const counters = new TlsCounters();
    const t = new TlsTracker(counters);
    const c = new Conn();
    c.withAcks = withAcks;
    const f = flights13();
    const ch = c.sendSplit(0, f[0]!.data, [1000]); // the second segment never reaches the capture
    const p: Pkt[] = [c.syn(), c.synAck(), c.ack(0), ch[0]!];
    p.push(...c.sendSplit(1, f[1]!.data, mss(f[1]!.data.length)), c.ack(0));
    p.push(c.send(0, f[2]!.data), c.send(1, f[3]!.data), c.send(0, f[4]!.data));
    const phases = run(t, p);
    if (withAcks) {
      // the server's ACK for the whole ClientHello arrives with its flight; the client's CCS+Finished
      // then lands past the hole, which is given up: the ClientHello is lost, the Finished is read
      assert.deepEqual(phases, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
      assert.equal(counters.holes_acked, 1);
      assert.equal(counters.hello_gaps, 1);
      assert.equal(t.info().versionNegotiated, 'TLSv1.3');
    } else {
      // without ACK numbers the bytes wait in the store for a hole that never fills
      assert.deepEqual(phases, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      assert.equal(counters.holes_acked, 0);
      assert.equal(counters.reorder_stored, 2);
      assert.ok(t.stateBytes() > 0);
    }
    assert.equal(t.status, 'tls');
  }
});

test('TLS 1.3 fallback: client stream stopped before its Finished → first client payload after the ServerHello is the last handshake packet', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  const c = new Conn();
  const f = flights13();
  const first = cat(f[0]!.data, record(20, 0x0303, [1]));
  const cp = c.send(0, first);
  // captured: 300 bytes; the rest of the ClientHello and the CCS header are cut
  const p: Pkt[] = [c.syn(), c.synAck(), c.ack(0), { ...cp, data: first.subarray(0, 300), wire: first.length }];
  p.push(...c.sendSplit(1, f[1]!.data, mss(f[1]!.data.length)), c.ack(0));
  // a bare ACK with padding bytes is not the Finished
  p.push({ dir: 0, seq: c.next[0], flags: F_ACK, data: new Uint8Array(2) });
  p.push(c.send(0, record(23, 0x0303, filler(53))), c.send(1, f[3]!.data), c.send(0, f[4]!.data));
  const phases = run(t, p);
  assert.equal(counters.gaps, 1);
  assert.equal(counters.phase_fallback, 1);
  assert.equal(counters.ack_padding, 1);
  assert.deepEqual(phases, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  assert.equal(t.info().sni, undefined);
  assert.equal(t.info().versionNegotiated, 'TLSv1.3');
  // the same cut in TLS 1.2: the server's first ApplicationData record still ends the handshake
  const c2 = new TlsCounters();
  const t2 = new TlsTracker(c2);
  const k = new Conn();
  const g = flights12();
  const kp = k.send(0, cat(g[0]!.data, record(23, 0x0303, filler(9))));
  const ph2 = run(t2, [k.syn(), k.synAck(), k.ack(0), { ...kp, data: kp.data.subarray(0, 20), wire: kp.data.length },
    k.send(1, g[1]!.data), k.send(0, g[2]!.data), k.send(1, g[3]!.data), k.send(0, g[4]!.data), k.send(1, g[5]!.data)]);
  assert.deepEqual(ph2, [0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(c2.gaps, 1);
  assert.equal(c2.phase_fallback, 0);
  assert.equal(t2.info().alpnNegotiated, 'h2');
});

test('hello larger than the cap is counted and not gathered; SYN retransmitted with a new ISN before data rebases', () => {
  const counters = new TlsCounters();
  const t = new TlsTracker(counters, { ...DEFAULT_TLS_LIMITS, maxHelloBytes: 1000 });
  const c = new Conn();
  const ch = ch13();
  run(t, [c.syn(), c.synAck(), c.ack(0), ...c.sendSplit(0, ch, [500])]);
  assert.equal(t.status, 'tls');
  assert.equal(counters.hello_too_large, 1);
  assert.equal(t.info().sni, undefined);
  assert.equal(t.stateBytes(), 0);
  // two SYN-ACKs with different sequence numbers: the second one counts
  const t2 = new TlsTracker(new TlsCounters());
  const k = new Conn(100, 9000);
  const f = flights12();
  run(t2, [k.syn(), { dir: 1, seq: 424242, flags: F_SYN | F_ACK, data: new Uint8Array(0) }, k.synAck(), k.ack(0), k.send(0, f[0]!.data), k.send(1, f[1]!.data)]);
  assert.deepEqual(t2.info(), INFO12);
});

test('a Hello spanning segments is gathered in a buffer of its size and freed once parsed', () => {
  const t = new TlsTracker(new TlsCounters());
  const c = new Conn();
  c.withAcks = false; // packets are built out of order
  const ch = ch13();
  const segs = c.sendSplit(0, ch, [1000]);
  run(t, [c.syn(), c.synAck(), c.ack(0), segs[0]!]);
  assert.equal(t.stateBytes(), ch.length - 9); // the message body: record minus 5-byte header and 4-byte message header
  run(t, [segs[1]!]);
  assert.equal(t.stateBytes(), 0);
  assert.equal(t.info().sni, 'www.example.com');
  // held out-of-order bytes are counted too
  const t2 = new TlsTracker(new TlsCounters());
  const k = new Conn();
  k.withAcks = false; // packets are built out of order
  const s2 = k.sendSplit(0, ch, [1000]);
  run(t2, [k.syn(), k.synAck(), k.ack(0), s2[1]!]);
  assert.equal(t2.stateBytes(), ch.length - 1000);
  t2.release();
  assert.equal(t2.stateBytes(), 0);
});

test('random garbage, flags and sequence numbers: never throws, state stays under the bound', () => {
  const r = prng(12345);
  const bound = tlsStateBound();
  assert.equal(bound, 196608);
  const f = flights13();
  let maxSeen = 0;
  // random bytes, a third of them drawn from values that look like record headers
  const pool = new Uint8Array(40000);
  for (let j = 0; j < pool.length; j++) pool[j] = r() < 0.3 ? [22, 23, 3, 0, 1, 2][Math.floor(r() * 6)]! : Math.floor(r() * 256);
  for (let flow = 0; flow < 300; flow++) {
    const t = new TlsTracker(new TlsCounters());
    const c = new Conn(Math.floor(r() * 2 ** 32), Math.floor(r() * 2 ** 32));
    const pk: Pkt[] = [c.syn(), c.synAck()];
    // start TLS-like half of the time, then mutate
    if (r() < 0.5) pk.push(...c.sendSplit(0, f[0]!.data, [700]));
    for (let i = 0; i < 60; i++) {
      const dir = (r() < 0.5 ? 0 : 1) as 0 | 1;
      const len = Math.floor(r() * (r() < 0.1 ? 30000 : 1500));
      const from = Math.floor(r() * (pool.length - len));
      const data = pool.subarray(from, from + len);
      const seq = r() < 0.6 ? c.next[dir] + Math.floor((r() - 0.3) * 3000) : Math.floor(r() * 2 ** 32);
      if (r() < 0.6) c.next[dir] = (c.next[dir] + len) >>> 0;
      const wire = r() < 0.2 ? len + Math.floor(r() * 3000) : len;
      pk.push({ dir, seq: seq >>> 0, flags: Math.floor(r() * 64), data, wire });
    }
    for (const p of pk) {
      run(t, [p]);
      const b = t.stateBytes();
      if (b > maxSeen) maxSeen = b;
      assert.ok(b <= bound, `flow ${flow}: ${b}`);
    }
    t.info();
  }
  assert.ok(maxSeen > 10000, String(maxSeen)); // the store and hello buffers were really used
  // odd arguments: offsets past the buffer, negative lengths
  const t = new TlsTracker(new TlsCounters());
  assert.equal(t.onPacket(0, 1, 0x18, new Uint8Array(4), 2, 100, 100), 0);
  assert.equal(t.onPacket(0, 1, 0x18, new Uint8Array(4), 0, -1, -1), 0);
  assert.throws(() => new TlsTracker(new TlsCounters(), { ...DEFAULT_TLS_LIMITS, oooMaxBytes: 0 }), /oooMaxBytes/);
});

test('counters: names in a fixed order, summed by add()', () => {
  assert.deepEqual(TlsCounters.names.slice(0, 4), ['tls_flows', 'not_tls_flows', 'sslv2_hellos', 'records']);
  for (const n of ['client_hellos', 'server_hellos', 'gaps', 'oversize_records', 'bad_records', 'reorder_dropped', 'hello_too_large']) {
    assert.ok(TlsCounters.names.includes(n), n);
  }
  const a = new TlsCounters();
  const b = new TlsCounters();
  a.records = 3;
  b.records = 4;
  b.gaps = 1;
  a.add(b);
  assert.equal(a.toObject().records, 7);
  assert.equal(a.toObject().gaps, 1);
  assert.equal(Object.keys(a.toObject()).length, TlsCounters.names.length);
});

test('reset(): a used tracker is a new one again (flow tables reuse trackers)', () => {
  const fresh = new TlsTracker(new TlsCounters());
  const counters = new TlsCounters();
  const t = new TlsTracker(counters);
  // used every way: a reordered, retransmitted TLS 1.3 handshake, then released
  const { pkts } = build(flights13(), randomCut(prng(7)), prng(7), { reorder: true, retrans: true });
  const first = run(t, pkts);
  t.release();
  t.reset();
  // same fields as a new tracker (the counters object aside), and the same behaviour
  // (through JSON: new trackers start some uint32 fields at -0, see DecodedPacket; reset() writes 0)
  const fields = (x: TlsTracker) => { const o = { ...x } as Record<string, unknown>; delete o.counters; return JSON.parse(JSON.stringify(o)); };
  assert.deepEqual(fields(t), fields(fresh));
  assert.deepEqual(run(t, pkts), first);
  assert.deepEqual(t.info(), INFO13);
  // a tracker left undecided with held server bytes and a half-gathered Hello
  const u = new TlsTracker(counters);
  const half = build(flights13(), bytes, prng(3)).pkts.slice(0, 40);
  run(u, half);
  u.reset();
  assert.deepEqual(fields(u), fields(fresh));
});
