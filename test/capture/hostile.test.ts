/**
 * Hostile files: random byte flips and cuts of valid pcap/pcapng files must end
 * in a coded StnnError or a clean end, never another exception, and never a
 * buffer larger than the record limit.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCapture, newRawFrame } from '../../src/capture/reader.js';
import { MAX_RECORD_BYTES } from '../../src/capture/pcap.js';
import { decodeFrame, DecodeCounters, DecodedPacket } from '../../src/decode/index.js';
import { StnnError } from '../../src/util/errors.js';
import { buildPcap, buildPcapngSections, tcpFrame, udpFrame, type GenFrame } from '../helpers/pcapgen.js';

const dir = mkdtempSync(join(tmpdir(), 'stnn-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const frames: GenFrame[] = [];
for (let i = 0; i < 12; i++) {
  frames.push({
    sec: 1000 + i,
    nsec: i * 1000,
    iface: i % 2,
    bytes:
      i % 3 === 0
        ? udpFrame({ src: '2001:db8::1', dst: '2001:db8::2', sport: 53, dport: 1000 + i, payload: 'x'.repeat(i * 10) })
        : tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 443, dport: 2000 + i, seq: i, flags: 'PA', payload: 'y'.repeat(i * 7), vlan: i % 4 === 1 ? 5 : undefined }),
  });
}
const seeds = [
  buildPcap(frames.map((f) => ({ ...f, iface: undefined }))),
  buildPcap(frames.map((f) => ({ ...f, iface: undefined })), { bigEndian: true, nanos: true }),
  buildPcapngSections([
    { interfaces: [{ link: 'ethernet', tsresol: 9 }, { link: 'ethernet', tsresol: 0x80 | 20 }], frames: frames.slice(0, 6), extraBlocks: [{ type: 5, body: new Uint8Array(20) }] },
    { bigEndian: true, interfaces: [{ link: 'ethernet' }, { link: 'ethernet', snaplen: 64 }], frames: frames.slice(6).map((f, i) => ({ ...f, block: i % 3 === 0 ? ('spb' as const) : ('epb' as const), iface: i % 3 === 0 ? 0 : f.iface })) },
  ]),
];

test('mutated and cut captures end in a coded error or a clean end', () => {
  let s = 99;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
  const f = newRawFrame();
  const out = new DecodedPacket();
  const c = new DecodeCounters();
  const outcomes = new Map<string, number>();
  const path = join(dir, 'm.cap');
  for (let i = 0; i < 1500; i++) {
    const seed = seeds[i % seeds.length]!;
    let b = seed.slice();
    const flips = 1 + rnd(4);
    for (let k = 0; k < flips; k++) {
      // Favour the headers, where lengths live.
      const at = rnd(4) === 0 ? rnd(64) : rnd(b.length);
      b[at] = rnd(4) === 0 ? 0xff : rnd(256);
    }
    if (rnd(3) === 0) b = b.subarray(0, rnd(b.length + 1));
    writeFileSync(path, b);
    let outcome: string;
    try {
      const r = openCapture(path, 64 + rnd(512));
      let n = 0;
      while (r.next(f)) {
        n++;
        assert.ok(f.off >= 0 && f.off + f.capLen <= f.buf.length, 'frame inside the buffer');
        assert.ok(f.buf.length <= MAX_RECORD_BYTES * 2);
        decodeFrame(f, out, c);
      }
      assert.ok(n <= b.length / 12, "no more records than the bytes allow");
      outcome = 'end';
    } catch (e) {
      if (!(e instanceof StnnError)) throw e;
      assert.ok(e.code === 'STNN_BAD_INPUT' || e.code === 'STNN_CAPTURE_TRUNCATED', e.code);
      assert.ok(e.message.startsWith(`${path}: `) && !e.message.includes('\n'), e.message);
      outcome = e.code;
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // All three outcomes occur (the mutations are not all harmless, not all fatal).
  assert.ok((outcomes.get('end') ?? 0) > 100, JSON.stringify([...outcomes]));
  assert.ok((outcomes.get('STNN_CAPTURE_TRUNCATED') ?? 0) > 100, JSON.stringify([...outcomes]));
  assert.ok((outcomes.get('STNN_BAD_INPUT') ?? 0) > 10, JSON.stringify([...outcomes]));
});
