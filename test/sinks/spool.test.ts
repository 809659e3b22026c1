import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spool, MemoryBacklog } from '../../src/sinks/spool.js';
import { checkSinkPaths, type SinkConfig } from '../../src/sinks/sink.js';
import { StnnError } from '../../src/util/errors.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'stnn-spool-'));
const rec = (i: number, len = 20) => Buffer.from(`r${i}`.padEnd(len, '.'));
const segs = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.spool')).sort();

test('append / peek / commit keep order; sizes count the 8-byte record header', () => {
  const dir = tmp();
  const s = new Spool({ dir, maxBytes: 1 << 20 });
  for (let i = 0; i < 5; i++) assert.equal(s.append(rec(i)), true);
  assert.equal(s.pending, 5);
  assert.equal(s.bytes, 5 * 28);
  assert.deepEqual(s.peek(3).map(String), [0, 1, 2].map((i) => String(rec(i))));
  s.commit(2);
  assert.equal(s.pending, 3);
  assert.deepEqual(s.peek(10).map(String), [2, 3, 4].map((i) => String(rec(i))));
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'cursor'), 'utf8')).offset, 56);
  s.commit(3);
  assert.equal(s.pending, 0);
  assert.equal(s.bytes, 0);
  assert.deepEqual(segs(dir), [], 'an empty spool keeps no segment file');
  assert.equal(s.append(rec(9)), true);
  assert.deepEqual(s.peek(5).map(String), [String(rec(9))]);
  s.close();
});

test('bound in bytes: past it, appends are refused (the caller counts drops)', () => {
  const s = new Spool({ dir: tmp(), maxBytes: 1024 });
  let ok = 0;
  for (let i = 0; i < 20; i++) if (s.append(rec(i, 100))) ok++;
  assert.equal(ok, 9); // 9 × 108 = 972 ≤ 1024 < 1080
  assert.equal(s.bytes, 972);
  s.peek(4);
  s.commit(4);
  assert.equal(s.append(rec(100, 100)), false, 'space comes back only when segments are freed');
  s.peek(5);
  s.commit(5);
  assert.equal(s.append(rec(101, 100)), true);
  s.close();
});

test('segments roll at segmentBytes and are deleted once consumed', () => {
  const dir = tmp();
  const s = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 4096 });
  for (let i = 0; i < 10; i++) s.append(rec(i, 992)); // 1000 bytes each: 4 per segment
  assert.equal(segs(dir).length, 3);
  const got = s.peek(6);
  assert.equal(got.length, 6);
  s.commit(6);
  assert.equal(segs(dir).length, 2, 'first segment removed');
  assert.equal(s.bytes, 6000);
  assert.deepEqual(s.peek(10).map((b) => b.subarray(0, 2).toString()), ['r6', 'r7', 'r8', 'r9']);
  s.close();
});

test('reopen resumes at the cursor; an uncommitted peek is sent again (at-least-once across a crash)', () => {
  const dir = tmp();
  const a = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 4096 });
  for (let i = 0; i < 10; i++) a.append(rec(i, 992));
  a.peek(5);
  a.commit(5);
  a.peek(3); // "sent", but the process stops before the commit
  a.close();
  const b = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 4096 });
  assert.equal(b.pending, 5);
  assert.equal(b.bytes, 6000); // segment 2 (records 4-7) and 3 (8-9) remain
  assert.deepEqual(b.peek(10).map((x) => x.subarray(0, 2).toString()), ['r5', 'r6', 'r7', 'r8', 'r9']);
  b.append(rec(10, 992));
  b.commit(5);
  assert.deepEqual(b.peek(10).map((x) => x.subarray(0, 3).toString()), ['r10']);
  b.close();
});

test('a torn tail is cut at open and counted; a CRC mismatch ends the segment there', () => {
  const dir = tmp();
  const a = new Spool({ dir, maxBytes: 1 << 20 });
  for (let i = 0; i < 3; i++) a.append(rec(i));
  a.close();
  const file = path.join(dir, segs(dir)[0]!);
  fs.appendFileSync(file, Buffer.from([0, 0, 0, 50, 1, 2, 3, 4, 65, 66])); // header says 50, 2 bytes follow
  const b = new Spool({ dir, maxBytes: 1 << 20 });
  assert.equal(b.pending, 3);
  assert.equal(b.corrupt, 1);
  assert.equal(fs.statSync(file).size, 84);
  b.close();
  const bytes = fs.readFileSync(file);
  bytes[28 + 8 + 3] ^= 0xff; // a payload byte of the second record
  fs.writeFileSync(file, bytes);
  const c = new Spool({ dir, maxBytes: 1 << 20 });
  assert.equal(c.pending, 1);
  assert.equal(c.corrupt, 1);
  assert.deepEqual(c.peek(5).map(String), [String(rec(0))]);
  c.close();
});

test('a spool directory belongs to one sink: a second one in use is a config error', () => {
  const dir = tmp();
  const a = new Spool({ dir });
  assert.throws(() => new Spool({ dir }), /already used by another sink of this process/);
  a.close();
  fs.writeFileSync(path.join(dir, 'lock'), '1'); // pid 1 is alive (init)
  assert.throws(() => new Spool({ dir }), /in use by process 1/);
  fs.writeFileSync(path.join(dir, 'lock'), '999999999'); // no such process: stale lock, taken over
  const b = new Spool({ dir });
  assert.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8'), String(process.pid));
  b.close();
  assert.equal(fs.existsSync(path.join(dir, 'lock')), false);
});

test('memory backlog has the same contract', () => {
  const m = new MemoryBacklog(100);
  assert.equal(m.append(Buffer.alloc(60)), true);
  assert.equal(m.append(Buffer.alloc(60)), false);
  assert.equal(m.append(Buffer.alloc(40)), true);
  assert.equal(m.pending, 2);
  assert.deepEqual(m.peek(5).map((b) => b.length), [60, 40]);
  m.commit(1);
  assert.equal(m.bytes, 40);
  assert.deepEqual(m.peek(5).map((b) => b.length), [40]);
});

test('random operations agree with an in-memory model (seeded), across reopens', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const dir = tmp();
  const opts = { dir, maxBytes: 20_000, segmentBytes: 4096 };
  let s = new Spool(opts);
  const model: Buffer[] = [];
  let modelBytes = 0; // bytes of records in the model (with headers)
  let next = 0;
  let dropped = 0;
  let empties = 0;
  for (let op = 0; op < 3000; op++) {
    // Phases that fill past the bound (drops) and drain to empty (segment deletion, reset).
    const filling = Math.floor(op / 500) % 2 === 0;
    const k = rnd(10);
    if (k < (filling ? 6 : 3)) {
      const b = Buffer.from(`#${next++}:`.padEnd(1 + rnd(900), 'z'));
      if (s.append(b)) {
        model.push(b);
        modelBytes += 8 + b.length;
      } else dropped++;
    } else if (k < 9) {
      const want = 1 + rnd(12);
      const got = s.peek(want);
      assert.deepEqual(got.map(String), model.slice(0, want).map(String));
      const n = filling ? rnd(Math.min(2, got.length) + 1) : rnd(got.length + 1);
      s.commit(n);
      for (const b of model.splice(0, n)) modelBytes -= 8 + b.length;
    } else {
      s.close();
      s = new Spool(opts);
    }
    assert.equal(s.pending, model.length);
    assert.ok(s.bytes >= modelBytes && s.bytes <= 20_000, `bytes ${s.bytes} model ${modelBytes}`);
    if (model.length === 0) {
      assert.equal(s.bytes, 0);
      empties++;
    }
  }
  assert.ok(empties > 0, 'drained to empty at least once');
  assert.ok(dropped > 0 && next - dropped > 1000, `appended ${next}, dropped ${dropped}`);
  s.close();
});

test('checkSinkPaths: what opening the sinks would refuse, found without creating anything', () => {
  const dir = tmp();
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  const bad = (cfgs: SinkConfig[], msg: string) =>
    assert.throws(() => checkSinkPaths(cfgs), (e: unknown) => e instanceof StnnError && e.code === 'STNN_CONFIG' && e.message === msg);
  bad([{ type: 'jsonl', path: path.join(file, 'a', 'v.jsonl') }], `sink jsonl: cannot open ${path.join(file, 'a', 'v.jsonl')}: ${file} is not a directory`);
  bad([{ type: 'jsonl', name: 'out', path: dir }], `sink out: cannot open ${dir}: ${dir} is a directory`);
  bad([{ type: 'syslog', transport: 'udp', spool: { dir: file } }], `spool ${file}: ${file} is not a directory`);
  bad([{ type: 'kafka', brokers: ['k:9092'], topic: 't', spool: { dir: path.join(file, 's') } }], `spool ${path.join(file, 's')}: ${file} is not a directory`);
  const s = path.join(dir, 'deep', 'spool');
  bad([{ type: 'syslog', transport: 'udp', spool: { dir: s } }, { type: 'kafka', brokers: ['k:9092'], topic: 't', spool: { dir: s + '/' } }],
    `spool ${s}/: already used by another sink of this process`);
  fs.mkdirSync(path.join(dir, 'locked'));
  fs.writeFileSync(path.join(dir, 'locked', 'lock'), '1'); // pid 1 is alive
  bad([{ type: 'syslog', transport: 'udp', spool: { dir: path.join(dir, 'locked') } }],
    `spool ${path.join(dir, 'locked')}: in use by process 1 (remove ${path.join(dir, 'locked', 'lock')} if that is wrong)`);
  // Fine: new files and directories below existing ones, an existing file, stdout, the null sink.
  checkSinkPaths([
    { type: 'jsonl', path: path.join(dir, 'x', 'y', 'v.jsonl') },
    { type: 'jsonl', path: file },
    { type: 'jsonl', path: '-' },
    { type: 'syslog', transport: 'udp', spool: { dir: s } },
    { type: 'null' },
  ]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['file', 'locked']);
  fs.rmSync(dir, { recursive: true, force: true });
});
