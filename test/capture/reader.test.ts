import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture, newRawFrame, type RawFrame } from '../../src/capture/reader.js';
import { StnnError } from '../../src/util/errors.js';
import {
  buildPcap,
  buildPcapng,
  buildPcapngSections,
  concat,
  tcpFrame,
  udpFrame,
  type GenFrame,
} from '../helpers/pcapgen.js';

const dir = mkdtempSync(join(tmpdir(), 'stnn-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function file(bytes: Uint8Array, ext = 'cap'): string {
  const p = join(dir, `f${seq++}.${ext}`);
  writeFileSync(p, bytes);
  return p;
}

interface Got {
  linkType: number;
  interfaceId: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  wireLen: number;
  bytes: number[];
}
function snapshot(f: RawFrame): Got {
  return {
    linkType: f.linkType,
    interfaceId: f.interfaceId,
    tsSec: f.tsSec,
    tsNsec: f.tsNsec,
    capLen: f.capLen,
    wireLen: f.wireLen,
    bytes: [...f.buf.subarray(f.off, f.off + f.capLen)],
  };
}
function readAll(path: string, chunk?: number): Got[] {
  const r = openCapture(path, chunk);
  const f = newRawFrame();
  const res: Got[] = [];
  while (r.next(f)) res.push(snapshot(f));
  assert.equal(r.next(f), false, 'stays at end');
  assert.equal(r.bytesRead, r.totalBytes);
  r.close();
  return res;
}

const A = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 443, seq: 1000, flags: 'S' }); // 54 bytes
const B = udpFrame({ src: '2001:db8::1', dst: '2001:db8::2', sport: 53, dport: 5353, payload: 'abcdefgh' }); // 70 bytes
const C = Uint8Array.from({ length: 1500 }, (_, i) => i & 0xff);

test('generated frames have the expected sizes', () => {
  assert.equal(A.length, 14 + 20 + 20);
  assert.equal(B.length, 14 + 40 + 8 + 8);
});

for (const bigEndian of [false, true]) {
  for (const nanos of [false, true]) {
    test(`pcap ${bigEndian ? 'big' : 'little'}-endian, ${nanos ? 'nano' : 'micro'}seconds`, () => {
      const frames: GenFrame[] = [
        { sec: 1700000000, nsec: 123456789, bytes: A },
        { sec: 1700000001, nsec: 999999000, bytes: B, capLen: 40 },
      ];
      const bytes = buildPcap(frames, { bigEndian, nanos, linkType: 1 });
      // 24-byte header + (16 + 54) + (16 + 40)
      assert.equal(bytes.length, 24 + 70 + 56);
      const path = file(bytes);
      const r = openCapture(path);
      assert.equal(r.format, 'pcap');
      assert.equal(r.totalBytes, 150);
      assert.equal(r.bytesRead, 24);
      const f = newRawFrame();
      assert.equal(r.next(f), true);
      assert.deepEqual(snapshot(f), {
        linkType: 1,
        interfaceId: 0,
        tsSec: 1700000000,
        tsNsec: nanos ? 123456789 : 123456000,
        capLen: 54,
        wireLen: 54,
        bytes: [...A],
      });
      assert.equal(r.bytesRead, 94);
      assert.equal(r.next(f), true);
      assert.deepEqual(snapshot(f), {
        linkType: 1,
        interfaceId: 0,
        tsSec: 1700000001,
        tsNsec: 999999000,
        capLen: 40,
        wireLen: 70,
        bytes: [...B.subarray(0, 40)],
      });
      assert.equal(r.next(f), false);
      assert.equal(r.bytesRead, 150);
      r.close();
      r.close();
    });
  }
}

test('pcap link type keeps only the low 16 bits (FCS bits above)', () => {
  const bytes = buildPcap([{ ts: 1, bytes: A }], { linkType: (1 << 28) | (1 << 26) | 113 });
  assert.equal(readAll(file(bytes))[0]!.linkType, 113);
});

test('pcap microsecond field of 1e6 or more carries into the seconds', () => {
  const bytes = buildPcap([{ ts: 0, bytes: A }]);
  // Record timestamp at offset 24: sec = 5, usec = 2_500_000.
  const dv = new DataView(bytes.buffer);
  dv.setUint32(24, 5, true);
  dv.setUint32(28, 2_500_000, true);
  const [f] = readAll(file(bytes));
  assert.equal(f!.tsSec, 7);
  assert.equal(f!.tsNsec, 500000000);
});

test('Kuznetsov modified pcap: 24-byte record headers', () => {
  const hdr = buildPcap([], {});
  new DataView(hdr.buffer).setUint32(0, 0xa1b2cd34, true);
  const rec = new Uint8Array(24 + A.length);
  const dv = new DataView(rec.buffer);
  dv.setUint32(0, 10, true);
  dv.setUint32(4, 20, true);
  dv.setUint32(8, A.length, true);
  dv.setUint32(12, 60, true);
  rec.set(A, 24);
  const [f] = readAll(file(concat(hdr, rec)));
  assert.equal(f!.tsSec, 10);
  assert.equal(f!.tsNsec, 20000);
  assert.equal(f!.wireLen, 60);
  assert.deepEqual(f!.bytes, [...A]);
});

test('frames larger than the chunk and records across chunk borders read the same as with big chunks', () => {
  const frames: GenFrame[] = [];
  for (let i = 0; i < 50; i++) frames.push({ sec: i, nsec: i * 1000, bytes: i % 3 === 0 ? C : i % 3 === 1 ? A : B });
  const p1 = file(buildPcap(frames));
  const p2 = file(buildPcapng(frames, { interfaces: [{ tsresol: 9 }] }));
  const ref = readAll(p1);
  assert.equal(ref.length, 50);
  assert.deepEqual(ref[3]!.bytes, [...C]);
  assert.deepEqual(ref[4]!.bytes, [...A]);
  for (const chunk of [64, 100, 1000, 4096]) {
    assert.deepEqual(readAll(p1, chunk), ref, `pcap chunk ${chunk}`);
    assert.deepEqual(readAll(p2, chunk), ref, `pcapng chunk ${chunk}`);
  }
});

test('pcapng: two interfaces with their own link types and resolutions, both byte orders', () => {
  for (const bigEndian of [false, true]) {
    const sll = Uint8Array.from({ length: 30 }, (_, i) => 100 + i);
    const bytes = buildPcapng(
      [
        { sec: 1700000000, nsec: 123456789, bytes: A, iface: 0 },
        { sec: 1700000000, nsec: 500000000, bytes: sll, iface: 1, wireLen: 80 },
        { sec: 1700000002, nsec: 0, bytes: B, iface: 0, capLen: 20 },
      ],
      {
        bigEndian,
        interfaces: [
          { link: 'ethernet', tsresol: 9 },
          { linkType: 113, snaplen: 65535, tsresol: 0x80 | 10 },
        ],
      },
    );
    const got = readAll(file(bytes, 'pcapng'));
    assert.deepEqual(
      got.map((g) => [g.linkType, g.interfaceId, g.tsSec, g.tsNsec, g.capLen, g.wireLen]),
      [
        [1, 0, 1700000000, 123456789, 54, 54],
        // 2^-10 s units: 0.5 s = 512 units exactly.
        [113, 1, 1700000000, 500000000, 30, 80],
        [1, 0, 1700000002, 0, 20, 70],
      ],
      bigEndian ? 'big-endian' : 'little-endian',
    );
    assert.deepEqual(got[1]!.bytes, [...sll]);
    assert.deepEqual(got[2]!.bytes, [...B.subarray(0, 20)]);
  }
});

test('pcapng timestamps: default microseconds, binary 2^-10, picoseconds, if_tsoffset, 64-bit nanoseconds', () => {
  const bytes = buildPcapng(
    [
      { sec: 1764789123, nsec: 654321000, bytes: A, iface: 0 },
      // 252929688 ns is written as 259 units of 2^-10 s = 0.2529296875 s, read back as 252929687 ns (floor)
      { sec: 1764789123, nsec: 252929688, bytes: A, iface: 1 },
      // 2^64 picoseconds are only 213 days: a time from 1970 fits.
      { sec: 5000000, nsec: 987654321, bytes: A, iface: 2 },
      { sec: 1764789124, nsec: 1, bytes: A, iface: 3 },
      { sec: 1764789125, nsec: 999999999, bytes: A, iface: 4 },
    ],
    {
      interfaces: [
        {},
        { tsresol: 0x80 | 10 },
        { tsresol: 12 },
        { tsresol: 9, tsoffset: 1700000000 },
        { tsresol: 9 },
      ],
    },
  );
  const got = readAll(file(bytes, 'pcapng')).map((g) => [g.interfaceId, g.tsSec, g.tsNsec]);
  assert.deepEqual(got, [
    [0, 1764789123, 654321000],
    [1, 1764789123, 252929687],
    [2, 5000000, 987654321],
    [3, 1764789124, 1],
    [4, 1764789125, 999999999],
  ]);
});

test('pcapng timestamps past 2^53 units (microseconds after the year 2255, tenths of ms, ns): exact seconds and nanoseconds', () => {
  // 2^53 µs is 9,007,199,254.74 s: the times below need the split division (hi mod div)
  const times: [number, number][] = [
    [9007199254, 740991000], [9007199255, 0], [15764789123, 654321000], [18446744073709, 551615000],
  ];
  for (const tsresol of [undefined, 4, 3, 0]) {
    const unit = 10 ** (9 - (tsresol ?? 6));
    const frames = times.map(([sec, nsec]) => ({ sec, nsec: nsec - (nsec % unit), bytes: A, iface: 0 }));
    const bytes = buildPcapng(frames, { interfaces: [tsresol === undefined ? {} : { tsresol }] });
    const got = readAll(file(bytes, 'pcapng')).map((g) => [g.tsSec, g.tsNsec]);
    assert.deepEqual(got, frames.map((f) => [f.sec, f.nsec]), `tsresol ${tsresol}`);
  }
});

test('pcapng: hand-written block bytes (EPB with options, if_tsoffset, binary resolution 2^-20)', () => {
  // SHB (28 bytes), IDB with if_tsresol=0x94 and if_tsoffset=100 and end-of-options (44 bytes),
  // EPB with 5 data bytes padded to 8 and one option (comment "hi") (48 bytes).
  const le = (n: number, w: number) => Array.from({ length: w }, (_, i) => Math.floor(n / 2 ** (8 * i)) & 0xff);
  const shb = [...le(0x0a0d0d0a, 4), ...le(28, 4), ...le(0x1a2b3c4d, 4), 1, 0, 0, 0, ...le(0xffffffff, 4), ...le(0xffffffff, 4), ...le(28, 4)];
  const idb = [...le(1, 4), ...le(44, 4), 1, 0, 0, 0, ...le(0, 4), 9, 0, 1, 0, 0x94, 0, 0, 0, 14, 0, 8, 0, ...le(100, 8), 0, 0, 0, 0, ...le(44, 4)];
  // ts = 3 s + 0.75 s in 2^-20 units = 3.75 * 1048576 = 3932160 = 0x003C0000
  const epb = [...le(6, 4), ...le(48, 4), ...le(0, 4), ...le(0, 4), ...le(3932160, 4), ...le(5, 4), ...le(9, 4), 1, 2, 3, 4, 5, 0, 0, 0, 1, 0, 2, 0, 0x68, 0x69, 0, 0, ...le(48, 4)];
  assert.equal(shb.length, 28);
  assert.equal(idb.length, 44);
  assert.equal(epb.length, 48);
  const got = readAll(file(Uint8Array.from([...shb, ...idb, ...epb]), 'pcapng'));
  assert.deepEqual(got, [{ linkType: 1, interfaceId: 0, tsSec: 103, tsNsec: 750000000, capLen: 5, wireLen: 9, bytes: [1, 2, 3, 4, 5] }]);
});

test('pcapng: SPB takes the previous time and interface 0, OPB is read, unknown blocks skipped', () => {
  const bytes = buildPcapngSections([
    {
      interfaces: [{ link: 'ethernet', snaplen: 60, tsresol: 9 }, { link: 'raw' }],
      extraBlocks: [
        { type: 0x0a, body: new Uint8Array(100) }, // decryption secrets
        { type: 0x80000001, body: Uint8Array.of(1, 2, 3, 4, 5) }, // custom, padded
        { type: 4, body: new Uint8Array(8) }, // name resolution
      ],
      frames: [
        { block: 'spb', bytes: A },
        { sec: 50, nsec: 7, bytes: A, iface: 1, block: 'opb' },
        { block: 'spb', bytes: C }, // snaplen 60 of interface 0 limits the captured bytes
      ],
    },
  ]);
  const got = readAll(file(bytes, 'pcapng'));
  assert.deepEqual(
    got.map((g) => [g.linkType, g.interfaceId, g.tsSec, g.tsNsec, g.capLen, g.wireLen]),
    [
      [1, 0, 0, 0, 54, 54],
      [101, 1, 50, 0, 54, 54], // interface 1 has microsecond resolution: 7 ns is lost
      [1, 0, 50, 0, 60, 1500],
    ],
  );
  assert.deepEqual(got[2]!.bytes, [...C.subarray(0, 60)]);
});

test('pcapng: several sections of different byte orders; interface ids run across sections', () => {
  const bytes = buildPcapngSections([
    { interfaces: [{ link: 'ethernet' }, { link: 'sll' }], frames: [{ ts: 1, bytes: A, iface: 1 }] },
    { bigEndian: true, interfaces: [{ link: 'raw', tsresol: 3 }], frames: [{ ts: 2.5, bytes: B }] },
    { interfaces: [{ link: 'sll2' }], frames: [{ ts: 3, bytes: A }, { ts: 4, bytes: A }] },
  ]);
  const got = readAll(file(bytes, 'pcapng')).map((g) => [g.linkType, g.interfaceId, g.tsSec, g.tsNsec]);
  assert.deepEqual(got, [
    [113, 1, 1, 0],
    [101, 2, 2, 500000000],
    [276, 3, 3, 0],
    [276, 3, 4, 0],
  ]);
});

function expectTruncated(path: string, n: number, message: string): void {
  const r = openCapture(path);
  const f = newRawFrame();
  let read = 0;
  assert.throws(
    () => {
      while (r.next(f)) read++;
    },
    (e: unknown) => e instanceof StnnError && e.code === 'STNN_CAPTURE_TRUNCATED' && e.exitCode === 1 && e.message === message,
  );
  assert.equal(read, n);
  assert.equal(r.next(f), false, 'after the error the reader stays ended');
}

test('truncated pcap: the error names the byte offset of the cut record', () => {
  const full = buildPcap([{ ts: 1, bytes: A }, { ts: 2, bytes: B }, { ts: 3, bytes: A }]);
  // Records start at 24, 94 (24 + 16 + 54), 180 (94 + 16 + 70); the file ends at 250.
  assert.equal(full.length, 250);
  let p = file(full.subarray(0, 240));
  expectTruncated(p, 2, `${p}: truncated record at byte offset 180 (record of 70 bytes, 60 present)`);
  p = file(full.subarray(0, 100));
  expectTruncated(p, 1, `${p}: truncated record at byte offset 94 (record header of 16 bytes, 6 present)`);
  p = file(full.subarray(0, 94 + 16));
  expectTruncated(p, 1, `${p}: truncated record at byte offset 94 (record of 86 bytes, 16 present)`);
});

test('corrupt pcap record length', () => {
  const full = buildPcap([{ ts: 1, bytes: A }, { ts: 2, bytes: A }]);
  new DataView(full.buffer).setUint32(94 + 8, 0x7fffffff, true);
  const p = file(full);
  expectTruncated(p, 1, `${p}: corrupt record at byte offset 94 (capture length 2147483647 exceeds the maximum 262144)`);
});

test('truncated and corrupt pcapng blocks', () => {
  const full = buildPcapng([{ ts: 1, bytes: A }, { ts: 2, bytes: B }]);
  // SHB 28, IDB 20, EPB 32 + 56 = 88 at 48, EPB 32 + 72 = 104 at 136; total 240.
  assert.equal(full.length, 240);
  let p = file(full.subarray(0, 200), 'pcapng');
  expectTruncated(p, 1, `${p}: truncated record at byte offset 136 (block of 104 bytes, 64 present)`);
  p = file(full.subarray(0, 140), 'pcapng');
  expectTruncated(p, 1, `${p}: truncated record at byte offset 136 (block header of 12 bytes, 4 present)`);
  const bad = full.slice();
  new DataView(bad.buffer).setUint32(136 + 4, 106, true);
  p = file(bad, 'pcapng');
  expectTruncated(p, 1, `${p}: corrupt record at byte offset 136 (block type 0x6 with total length 106)`);
  const bad2 = full.slice();
  new DataView(bad2.buffer).setUint32(136 + 100, 96, true);
  p = file(bad2, 'pcapng');
  expectTruncated(p, 1, `${p}: corrupt record at byte offset 136 (block total length 104 differs from trailing 96)`);
  const bad3 = full.slice();
  new DataView(bad3.buffer).setUint32(48 + 8, 1, true); // EPB for interface 1, never declared
  p = file(bad3, 'pcapng');
  expectTruncated(p, 0, `${p}: corrupt record at byte offset 48 (packet block for undeclared interface 1)`);
  // An unknown block running past the end of the file.
  const unk = concat(full, Uint8Array.of(0x99, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0));
  p = file(unk, 'pcapng');
  expectTruncated(p, 2, `${p}: truncated record at byte offset 240 (block of 256 bytes, 12 present)`);
});

test('bad input: missing, empty, directory, garbage, short and header-only files', () => {
  const cases: Array<[string, string]> = [];
  const missing = join(dir, 'nope.pcap');
  cases.push([missing, `${missing}: no such file`]);
  const empty = file(new Uint8Array(0));
  cases.push([empty, `${empty}: empty file`]);
  const sub = join(dir, 'adir');
  mkdirSync(sub);
  cases.push([sub, `${sub}: is a directory`]);
  const text = file(new TextEncoder().encode('hello world, not a capture\n'));
  cases.push([text, `${text}: not a pcap or pcapng file (magic 0x68656c6c)`]);
  const short = file(Uint8Array.of(0xd4, 0xc3));
  cases.push([short, `${short}: not a pcap or pcapng file (only 2 bytes)`]);
  const hdr = file(buildPcap([]).subarray(0, 20));
  cases.push([hdr, `${hdr}: truncated pcap file header (20 bytes, need 24)`]);
  const ng = file(buildPcapng([]).subarray(0, 16));
  cases.push([ng, `${ng}: truncated pcapng section header block (16 bytes, need 28)`]);
  const ngBom = buildPcapng([]);
  ngBom[8] = 0x11;
  const ngb = file(ngBom);
  cases.push([ngb, `${ngb}: not a valid pcapng file (bad byte-order magic)`]);
  const v3 = buildPcap([]);
  v3[4] = 3;
  const v3p = file(v3);
  cases.push([v3p, `${v3p}: unsupported pcap version 3.4`]);
  for (const [p, msg] of cases) {
    assert.throws(
      () => openCapture(p),
      (e: unknown) => e instanceof StnnError && e.code === 'STNN_BAD_INPUT' && e.exitCode === 2 && e.message === msg,
      msg,
    );
  }
});

test('a file cut inside its first block (pcap file header, pcapng section header) is bad input at open, at every cut point', () => {
  const badInput = (p: string, msg: string) =>
    assert.throws(
      () => openCapture(p),
      (e: unknown) => e instanceof StnnError && e.code === 'STNN_BAD_INPUT' && e.exitCode === 2 && e.message === msg,
      msg,
    );
  const pcap = buildPcap([{ ts: 1, bytes: A }]);
  for (let n = 4; n < 24; n++) {
    const p = file(pcap.subarray(0, n));
    badInput(p, `${p}: truncated pcap file header (${n} bytes, need 24)`);
  }
  const shbOptions = [
    { code: 2, value: 'Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz (with SSE4.2)' },
    { code: 3, value: 'Linux 6.1.0-13-amd64' },
    { code: 4, value: 'Dumpcap (Wireshark) 4.0.11 (Git v4.0.11 packaged as 4.0.11-1~deb12u1)' },
  ];
  for (const bigEndian of [false, true]) {
    const ng = buildPcapng([{ ts: 1, bytes: A }], { shbOptions, bigEndian });
    const shbLen = new DataView(ng.buffer, ng.byteOffset).getUint32(4, !bigEndian);
    assert.equal(shbLen, 28 + 4 + 56 + 4 + 20 + 4 + 72 + 4, 'SHB with three options and opt_endofopt');
    for (let n = 4; n < shbLen; n++) {
      const p = file(ng.subarray(0, n), 'pcapng');
      badInput(p, `${p}: truncated pcapng section header block (${n} bytes, need ${n < 12 ? 'at least 28' : shbLen})`);
    }
    // the section header whole: a capture; a cut after it is a truncated capture (exit 1)
    assert.deepEqual(readAll(file(ng.subarray(0, shbLen), 'pcapng')), []);
    const p = file(ng.subarray(0, shbLen + 8), 'pcapng');
    expectTruncated(p, 0, `${p}: truncated record at byte offset ${shbLen} (block header of 12 bytes, 8 present)`);
    const q = file(ng.subarray(0, shbLen + 40), 'pcapng');
    expectTruncated(q, 0, `${q}: truncated record at byte offset ${shbLen + 20} (block of 88 bytes, 20 present)`);
  }
  // a first block whose lengths say it is no section header
  const ng = buildPcapng([{ ts: 1, bytes: A }]);
  const badLen = ng.slice();
  new DataView(badLen.buffer).setUint32(4, 26, true);
  let p = file(badLen, 'pcapng');
  badInput(p, `${p}: not a valid pcapng file (section header block total length 26)`);
  const badTrail = ng.slice();
  new DataView(badTrail.buffer).setUint32(24, 32, true);
  p = file(badTrail, 'pcapng');
  badInput(p, `${p}: not a valid pcapng file (section header block total length 28 differs from trailing 32)`);
  const v2 = ng.slice();
  v2[12] = 2;
  p = file(v2, 'pcapng');
  badInput(p, `${p}: unsupported pcapng version 2`);
});

test('a capture with a header and no packets is valid and empty', () => {
  assert.deepEqual(readAll(file(buildPcap([]))), []);
  assert.deepEqual(readAll(file(buildPcapng([]))), []);
});

test('offsets beyond 4 GiB: blocks after two sparse 3.9 GiB unknown blocks are found', async () => {
  const { openSync, writeSync, closeSync, statSync } = await import('node:fs');
  const head = buildPcapng([]); // SHB + IDB, 48 bytes
  const epb = buildPcapng([{ sec: 7, nsec: 0, bytes: A }]).subarray(48); // one EPB, 88 bytes
  const p = join(dir, 'sparse.pcapng');
  const fd = openSync(p, 'w');
  writeSync(fd, head, 0, head.length, 0);
  const bigLen = 0xf0000000; // 3.75 GiB, a multiple of 4
  let pos = head.length;
  for (let i = 0; i < 2; i++) {
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, 0x00000bad, true);
    new DataView(h.buffer).setUint32(4, bigLen, true);
    writeSync(fd, h, 0, 8, pos);
    writeSync(fd, h.subarray(4), 0, 4, pos + bigLen - 4);
    pos += bigLen;
  }
  writeSync(fd, epb, 0, epb.length, pos);
  closeSync(fd);
  assert.equal(statSync(p).size, 48 + 2 * bigLen + 88);
  const r = openCapture(p);
  const f = newRawFrame();
  assert.equal(r.next(f), true);
  assert.equal(f.tsSec, 7);
  assert.deepEqual([...f.buf.subarray(f.off, f.off + f.capLen)], [...A]);
  assert.equal(r.bytesRead, 48 + 2 * bigLen + 88);
  assert.equal(r.next(f), false);
});

test('a FIFO (like /dev/stdin) is read in order, skipped blocks included; a cut one reports the offset', async () => {
  const { execFileSync, spawn } = await import('node:child_process');
  const big = new Uint8Array(3 << 20).fill(7); // an unknown block larger than the chunk
  const bytes = buildPcapngSections([
    { interfaces: [{ link: 'ethernet', tsresol: 9 }], frames: [{ sec: 1, nsec: 5, bytes: A }] },
    { interfaces: [{ link: 'raw' }], extraBlocks: [{ type: 0x99, body: big }], frames: [{ sec: 2, bytes: C }, { sec: 3, bytes: B }] },
  ]);
  const through = (data: Uint8Array, chunk: number) => {
    const src = file(data, 'pcapng');
    const fifo = join(dir, `fifo${seq++}`);
    execFileSync('mkfifo', [fifo]);
    const child = spawn('sh', ['-c', 'cat "$0" > "$1"', src, fifo], { stdio: 'ignore' });
    const done = new Promise((resolve) => child.on('exit', resolve));
    const r = openCapture(fifo, chunk);
    assert.equal(r.totalBytes, 0);
    const f = newRawFrame();
    const got: Array<[number, number, number, number]> = [];
    let err: unknown;
    try {
      while (r.next(f)) got.push([f.interfaceId, f.tsSec, f.tsNsec, f.capLen]);
    } catch (e) {
      err = e;
    }
    return { got, err, bytesRead: r.bytesRead, done, fifo };
  };
  const ok = through(bytes, 4096);
  await ok.done;
  assert.equal(ok.err, undefined);
  assert.deepEqual(ok.got, [
    [0, 1, 5, 54],
    [1, 2, 0, 1500],
    [1, 3, 0, 70],
  ]);
  assert.equal(ok.bytesRead, bytes.length);
  // SHB 28 + IDB 32 + EPB 88 = 148; SHB 28 + IDB 20 → the unknown block starts at 196.
  const cut = through(bytes.subarray(0, 196 + 1000), 4096);
  await cut.done;
  assert.ok(cut.err instanceof StnnError);
  assert.equal(cut.err.message, `${cut.fifo}: truncated record at byte offset 196 (block of ${12 + (3 << 20)} bytes, 1000 present)`);
  assert.deepEqual(cut.got, [[0, 1, 5, 54]]);
});
