import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { decodeDataset, encodeDataset, gatherRows, readDataset, splitRows, writeDataset, type Dataset } from '../../src/dataset/io.js';
import { StnnError } from '../../src/util/errors.js';

function sample(): Dataset {
  const names = ['f0', 'f1', 'f2'];
  // awkward float32 values: -0, subnormal, max, tiny, fractions not representable in binary
  const X = new Float32Array([-0, 1.401298464324817e-45, 3.4028234663852886e38, 0.1, -2.5, 1e-30, 7, 8, 9, 0.3333333, 1e20, -1e-20]);
  return {
    format: 'stnn-dataset/1',
    featureSet: 'stnn-115/1',
    names,
    n: 4,
    X,
    y: ['alpha', 'background', 'beta', 'alpha'],
    split: new Uint8Array([0, 1, 2, 0]),
    file: ['a.pcap', 'a.pcap', 'b.pcap', 'ü.pcapng'],
    sni: ['a.example', '', 'b.example', 'a.example'],
    meta: { seed: 42, splitBy: 'flow', labels: 'conf/labels.yaml' },
  };
}

const tmp = mkdtempSync(join(tmpdir(), 'stnn-io-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('dataset write → read: byte-identical features and equal fields', () => {
  const ds = sample();
  const path = join(tmp, 'set.msgpack');
  writeDataset(path, ds);
  assert.ok(!existsSync(`${path}.tmp-${process.pid}`));
  const back = readDataset(path);
  assert.deepEqual(Buffer.from(back.X.buffer, back.X.byteOffset, back.X.byteLength), Buffer.from(ds.X.buffer));
  assert.ok(Object.is(back.X[0], -0));
  assert.equal(back.X[1], 1.401298464324817e-45);
  assert.deepEqual(back.names, ds.names);
  assert.deepEqual(back.y, ds.y);
  assert.deepEqual([...back.split], [0, 1, 2, 0]);
  assert.deepEqual(back.file, ds.file);
  assert.deepEqual(back.sni, ds.sni);
  assert.deepEqual(back.meta, ds.meta);
  assert.equal(back.n, 4);
  assert.equal(back.featureSet, 'stnn-115/1');
  // the file is plain MessagePack: X is a bin of n·d little-endian float32
  const raw = new Packr({ useRecords: false }).unpack(readFileSync(path)) as Record<string, unknown>;
  assert.equal((raw.X as Uint8Array).byteLength, 48);
  assert.equal(Buffer.from(raw.X as Uint8Array).readFloatLE(4 * 4), -2.5);
  // writing again gives the same bytes
  assert.deepEqual(encodeDataset(back), readFileSync(path));
});

test('splitRows / gatherRows', () => {
  const ds = sample();
  assert.deepEqual(splitRows(ds, 0), [0, 3]);
  assert.deepEqual(splitRows(ds, 2), [2]);
  assert.deepEqual([...gatherRows(ds, [2, 0])], [...ds.X.subarray(6, 9), ...ds.X.subarray(0, 3)]);
});

function badFile(bytes: Uint8Array, re: RegExp) {
  const path = join(tmp, 'bad.msgpack');
  writeFileSync(path, bytes);
  assert.throws(
    () => readDataset(path),
    (e: unknown) => e instanceof StnnError && e.code === 'STNN_BAD_INPUT' && e.message.startsWith(`${path}: `) && re.test(e.message) && !e.message.includes('\n'),
  );
}

test('bad dataset files: one-line errors naming the file and the field', () => {
  const p = new Packr({ useRecords: false });
  const good = encodeDataset(sample());
  const raw = () => p.unpack(good) as Record<string, unknown>;
  badFile(good.subarray(0, good.length - 7), /not a stnn dataset \(MessagePack: /);
  badFile(Buffer.from('hello, world\n'), /not a stnn dataset|format: expected/);
  badFile(p.pack([1, 2, 3]), /top level is not a map/);
  badFile(p.pack({ format: 'other/2' }), /format: expected 'stnn-dataset\/1', got 'other\/2'/);
  badFile(p.pack({ ...raw(), X: 'nope' }), /X: expected binary data/);
  badFile(p.pack({ ...raw(), X: new Uint8Array(47) }), /X: 47 bytes is not a whole number of float32/);
  badFile(p.pack({ ...raw(), X: new Uint8Array(44) }), /X: expected 4×3 float32 values, got 11/);
  badFile(p.pack({ ...raw(), n: 5 }), /X: expected 5×3 float32 values, got 12/);
  badFile(p.pack({ ...raw(), n: -1 }), /n: expected a row count, got -1/);
  badFile(p.pack({ ...raw(), y: ['a', 'b'] }), /y: expected 4 strings, got 2/);
  badFile(p.pack({ ...raw(), file: ['a', 'b', 'c', 7] }), /file: row 3: not a string/);
  badFile(p.pack({ ...raw(), split: new Uint8Array([0, 1, 3, 0]) }), /split: row 2: 3 is not 0 \(train\), 1 \(validation\) or 2 \(test\)/);
  badFile(p.pack({ ...raw(), names: [] }), /names: expected a non-empty list/);
  badFile(p.pack({ ...raw(), featureSet: undefined }), /featureSet: missing/);
  const nan = new Float32Array(12);
  nan[7] = NaN;
  badFile(p.pack({ ...raw(), X: new Uint8Array(nan.buffer) }), /X: row 2, feature f1: not a finite number/);
  assert.throws(() => readDataset(join(tmp, 'missing.msgpack')), /missing\.msgpack: cannot read dataset: ENOENT/);
  const path = join(tmp, 'fs.msgpack');
  writeDataset(path, sample());
  assert.throws(() => readDataset(path, { featureSet: 'stnn-115/2' }), /featureSet: built with 'stnn-115\/1', this program uses 'stnn-115\/2'/);
  assert.throws(() => encodeDataset({ ...sample(), y: ['a', '', 'b', 'c'] }), /^StnnError: dataset: y: row 1: empty label$|dataset: y: row 1: empty label/);
  assert.throws(() => writeDataset(join(tmp, 'no-such-dir', 'x.msgpack'), sample()), /cannot write dataset: ENOENT/);
  assert.equal(decodeDataset(good, 'mem').n, 4);
});

test('writeDataset through a symlink: the link stays, the file it names is written (temp file beside the target)', async () => {
  const { lstatSync, mkdirSync, readdirSync, symlinkSync } = await import('node:fs');
  const ds = sample();
  const real = join(tmp, 'targets');
  const links = join(tmp, 'links');
  mkdirSync(real);
  mkdirSync(links);
  writeFileSync(join(real, 'set.msgpack'), 'old');
  symlinkSync(join(real, 'set.msgpack'), join(links, 'set.msgpack'));
  writeDataset(join(links, 'set.msgpack'), ds);
  assert.ok(lstatSync(join(links, 'set.msgpack')).isSymbolicLink());
  assert.deepEqual(readDataset(join(real, 'set.msgpack')).y, ds.y);
  // a dangling link: the file it names is created, the link kept
  symlinkSync('new.msgpack', join(links, 'dangling.msgpack'));
  writeDataset(join(links, 'dangling.msgpack'), ds);
  assert.ok(lstatSync(join(links, 'dangling.msgpack')).isSymbolicLink());
  assert.equal(readDataset(join(links, 'new.msgpack')).n, 4);
  assert.deepEqual(readdirSync(links).sort(), ['dangling.msgpack', 'new.msgpack', 'set.msgpack']);
  assert.deepEqual(readdirSync(real), ['set.msgpack']);
});

test('writeDataset into a character device or FIFO writes into it and leaves it in place', async (t) => {
  const { execFileSync, spawn } = await import('node:child_process');
  const { statSync } = await import('node:fs');
  const ds = sample();
  const fifo = join(tmp, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const copy = join(tmp, 'from-fifo.msgpack');
  const reader = spawn('sh', ['-c', 'cat "$0" > "$1"', fifo, copy], { stdio: 'ignore' });
  const done = new Promise((r) => reader.on('exit', r));
  writeDataset(fifo, ds);
  await done;
  assert.ok(statSync(fifo).isFIFO());
  assert.deepEqual(readFileSync(copy), encodeDataset(ds));
  if (process.getuid?.() !== 0) {
    t.diagnostic('not root: character device part skipped (mknod needs root)');
    return;
  }
  const nul = join(tmp, 'null');
  const full = join(tmp, 'full');
  execFileSync('mknod', ['-m', '666', nul, 'c', '1', '3']);
  execFileSync('mknod', ['-m', '666', full, 'c', '1', '7']);
  writeDataset(nul, ds);
  assert.ok(statSync(nul).isCharacterDevice());
  assert.throws(() => writeDataset(full, ds), (e: unknown) => e instanceof StnnError && e.exitCode === 1 && e.message === `${full}: cannot write dataset: ENOSPC`);
  assert.ok(statSync(full).isCharacterDevice());
  assert.ok(!existsSync(`${full}.tmp-${process.pid}`));
});
