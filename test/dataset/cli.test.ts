import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, splitWarnings } from '../../src/cli/dataset.js';
import type { Dataset } from '../../src/dataset/io.js';
import { StnnError } from '../../src/util/errors.js';
import { ndpiPcapDir, repoRoot } from '../helpers/paths.js';
import { captureStdout } from '../helpers/stdout.js';

const capture = captureStdout;

const usage = (re: RegExp) => (e: unknown) => e instanceof StnnError && e.exitCode === 2 && re.test(e.message);

test('stnn dataset: usage errors before any work', async () => {
  await assert.rejects(run(['build', 'x.pcap', '--out', 'o']), usage(/--labels FILE is required/));
  await assert.rejects(run(['build', 'x.pcap', '--labels', 'l']), usage(/--out FILE is required/));
  await assert.rejects(run(['build', 'x.pcap', '--labels', 'l', '--out', 'o', '--split-by', 'session']), usage(/--split-by: expected 'flow' or 'file', got 'session'/));
  await assert.rejects(run(['build', 'x.pcap', '--labels', 'l', '--out', 'o', '--seed', 'abc']), usage(/--seed: expected an integer/));
  await assert.rejects(run(['build', 'x.pcap', '--labels', 'l', '--out', 'o', '--fractions', '1,1,1']), usage(/sum to 1/));
  await assert.rejects(run(['build', 'x.pcap', '--labels', '/nonexistent.yaml', '--out', 'o']), usage(/\/nonexistent\.yaml: cannot read label rules/));
  // an output that could not be written fails before the captures are read (here: none exist)
  await assert.rejects(run(['build', 'x.pcap', '--labels', 'l', '--out', '/nonexistent-stnn/set.msgpack']), usage(/^--out: directory '\/nonexistent-stnn' does not exist$/));
  await assert.rejects(run(['build', 'x.pcap', '--labels', 'l', '--out', tmpdir()]), usage(new RegExp(`^--out: '${tmpdir()}' is a directory$`)));
  await assert.rejects(run(['frobnicate']), usage(/unknown subcommand 'frobnicate'/));
  await assert.rejects(run(['info', '/nonexistent.msgpack']), usage(/\/nonexistent\.msgpack: cannot read dataset: ENOENT/));
  const help = await capture(() => run(['build', '--help']));
  assert.equal(help.code, 0);
  assert.match(help.out, /--split-by <value>/);
});

test('stnn dataset build + info on a real capture', async () => {
  const pcap = join(ndpiPcapDir(), 'reddit.pcap');
  if (!existsSync(pcap)) return;
  const dir = mkdtempSync(join(tmpdir(), 'stnn-dscli-'));
  try {
    const out = join(dir, 'set.msgpack');
    const labels = join(repoRoot(), 'conf', 'labels.example.yaml');
    const b = await capture(() => run(['build', pcap, '--labels', labels, '--out', out, '--split-by', 'flow', '--seed', '3', '--quiet']));
    assert.equal(b.code, 0);
    const info = await capture(() => run(['info', out, '--json']));
    const j = JSON.parse(info.out);
    assert.equal(j.flows, 59);
    assert.equal(j.features, 115);
    assert.equal(j.files, 1);
    const reddit = j.classes.find((c: { cls: string }) => c.cls === 'reddit');
    assert.deepEqual(reddit, { cls: 'reddit', train: 14, validation: 3, test: 3, total: 20 }); // apportion(20) = 14/3/3
    const google = j.classes.find((c: { cls: string }) => c.cls === 'google');
    assert.deepEqual([google.train, google.validation, google.test], [16, 4, 3]); // 16.1, 3.45, 3.45 → +1 validation
    assert.equal(j.classes[j.classes.length - 1].cls, 'background');
    const text = await capture(() => run(['info', out]));
    assert.match(text.out, /59 flows from 1 capture files, 59 with an SNI/);
    assert.match(text.out, /\nreddit\s+14\s+3\s+3\s+20\n/);
    assert.match(text.out, /\nall\s+\d+\s+\d+\s+\d+\s+59\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('splitWarnings: applications missing from validation or test', () => {
  const ds = {
    y: ['a', 'a', 'b', 'b', 'background'],
    split: new Uint8Array([0, 1, 0, 2, 0]),
  } as unknown as Dataset;
  const full = { ...ds, names: ['f'], n: 5, file: ['x', 'x', 'x', 'x', 'x'], sni: ['', '', '', '', ''], meta: { splitBy: 'file' } } as unknown as Dataset;
  assert.deepEqual(splitWarnings(full), [
    'no validation flows for b: training needs them (early stopping, voting list); use --split-by flow or more captures',
    "no test flows for a: 'stnn eval' cannot measure them",
  ]);
  const byFlow = { ...full, meta: { splitBy: 'flow' } } as unknown as Dataset;
  assert.equal(
    splitWarnings(byFlow)[0],
    'no validation flows for b: training needs them (early stopping, voting list); label more flows of it or give validation a larger share (--fractions)',
  );
});
