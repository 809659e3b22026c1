/**
 * --out never destroys an input: features, classify and dataset build refuse (exit 2, one line
 * naming the option and the file) an output that is one of the input captures, whatever the
 * spelling (another path, a symlink, a hard link, a file in an input directory), before anything
 * is opened for writing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStnn } from '../helpers/cli.js';
import { shipped } from '../helpers/paths.js';

const { sample: SAMPLE, labels: LABELS, models: MODELS } = shipped();

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stnn-outpath-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const stnn = (args: string[]) => runStnn(args, dir);

const original = () => readFileSync(SAMPLE);

test('features/classify/dataset build --out equal to an input capture: exit 2, capture intact', () => {
  copyFileSync(SAMPLE, join(dir, 'c.pcap'));
  const cases: [string[], string][] = [
    [['features', 'c.pcap', '--out', 'c.pcap'], "stnn: --out: 'c.pcap' is also an input ('c.pcap'): refusing to overwrite it\n"],
    [['classify', 'c.pcap', '--models', MODELS, '--out', 'c.pcap'], "stnn: --out: 'c.pcap' is also an input ('c.pcap'): refusing to overwrite it\n"],
    [['dataset', 'build', 'c.pcap', '--labels', LABELS, '--out', 'c.pcap'], "stnn: --out: 'c.pcap' is also an input ('c.pcap'): refusing to overwrite it\n"],
  ];
  for (const [args, err] of cases) {
    const r = stnn(args);
    assert.equal(r.stderr, err, args.join(' '));
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stdout, '');
    assert.deepEqual(readFileSync(join(dir, 'c.pcap')), original(), args.join(' '));
  }
});

test('--out naming an input another way (other spelling, hard link, symlink, file in an input directory): refused', () => {
  mkdirSync(join(dir, 'caps'));
  copyFileSync(SAMPLE, join(dir, 'caps', 'a.pcap'));
  linkSync(join(dir, 'caps', 'a.pcap'), join(dir, 'hard.pcap'));
  symlinkSync(join(dir, 'caps', 'a.pcap'), join(dir, 'soft.pcap'));
  const r1 = stnn(['features', 'caps/a.pcap', '--out', './caps/../caps/a.pcap']);
  assert.equal(r1.stderr, "stnn: --out: './caps/../caps/a.pcap' is also an input ('caps/a.pcap'): refusing to overwrite it\n");
  assert.equal(r1.code, 2);
  const r2 = stnn(['classify', 'caps/a.pcap', '--models', MODELS, '--out', 'hard.pcap']);
  assert.equal(r2.stderr, "stnn: --out: 'hard.pcap' is also an input ('caps/a.pcap'): refusing to overwrite it\n");
  assert.equal(r2.code, 2);
  const r3 = stnn(['dataset', 'build', 'caps', '--labels', LABELS, '--out', 'soft.pcap']);
  assert.equal(r3.stderr, "stnn: --out: 'soft.pcap' is also an input ('caps/a.pcap'): refusing to overwrite it\n");
  assert.equal(r3.code, 2);
  const r4 = stnn(['dataset', 'build', 'caps', '--labels', LABELS, '--out', 'x.msgpack', '--test-captures', 'hard.pcap']);
  assert.equal(r4.code, 0, r4.stderr); // an output that is no input is still written
  assert.deepEqual(readFileSync(join(dir, 'caps', 'a.pcap')), original());
  assert.deepEqual(readFileSync(join(dir, 'hard.pcap')), original());
});
