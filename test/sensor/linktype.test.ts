/**
 * `stnn sensor --pcap` on a capture whose frames all have a link type the decoder does not know:
 * the final summary names the skipped link types as `stnn features` does, instead of ending on
 * "0 flow records" with no reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runStnn } from '../helpers/cli.js';
import { shipped } from '../helpers/paths.js';

let dir = '';
let capture = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-lt-'));
  const bytes = readFileSync(shipped().sample);
  bytes.writeUInt32LE(9999, 20); // the global header's link type
  capture = path.join(dir, 'lt9999.pcap');
  writeFileSync(capture, bytes);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the sensor names skipped link types in its final summary, as stnn features does', () => {
  const features = runStnn(['features', capture], dir);
  assert.equal(features.code, 0);
  assert.ok(features.stderr.split('\n').includes('stnn: skipped link types: 9999 (4779 frames)'), features.stderr);

  const conf = path.join(dir, 'c.yaml');
  writeFileSync(conf, 'metrics: { listen: off }\noutputs: [{ type: "null" }]\n');
  const r = runStnn(['sensor', '--config', conf, '--pcap', capture], dir);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  const done = lines.findIndex((l) => l.startsWith('stnn sensor: done: 4779 packets, '));
  assert.ok(done >= 0, r.stderr);
  assert.ok(lines[done]!.includes(' 0 flow records, '), lines[done]);
  assert.equal(lines[done + 1], 'stnn sensor: skipped link types: 9999 (4779 frames)');
});

test('a capture of known link types has no such line', () => {
  const conf = path.join(dir, 'c.yaml');
  writeFileSync(conf, 'metrics: { listen: off }\noutputs: [{ type: "null" }]\n');
  const r = runStnn(['sensor', '--config', conf, '--pcap', shipped().sample], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes('skipped link types'), r.stderr);
});
