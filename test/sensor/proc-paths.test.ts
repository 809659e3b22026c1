/**
 * An output path or spool directory that cannot be made (under /proc, where Node 20's recursive
 * mkdir spins forever): one configuration line naming the key, exit 2, from --check and from a
 * start alike, at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { sensorArgv } from './helpers.js';

const SAMPLE = join(repoRoot(), 'data', 'testbed', 'sample.pcap');
const skip = !existsSync('/proc/self') && 'no /proc';
let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stnn-proc-paths-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function sensor(name: string, lines: string[], check: boolean) {
  const cfg = join(dir, name);
  writeFileSync(cfg, lines.join('\n') + '\n');
  const r = spawnSync(process.execPath, sensorArgv(['--config', cfg, '--pcap', SAMPLE, ...(check ? ['--check'] : [])]), { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, signal: r.signal, lines: r.stderr.split('\n').filter((l) => l && !l.startsWith('stnn sensor: defaults for the keys not set:')) };
}

for (const check of [true, false]) {
  test(`jsonl path under /proc${check ? ' (--check)' : ''}: one line naming outputs[k].path, exit 2`, { skip }, () => {
    const r = sensor('jsonl.yaml', ['metrics: { listen: off }', 'outputs: [{ type: "null" }, { type: jsonl, path: /proc/stnn-x/y/v.jsonl }]'], check);
    assert.equal(r.signal, null, 'no hang');
    assert.deepEqual(r.lines, [`stnn: ${join(dir, 'jsonl.yaml')}: outputs[1].path: sink jsonl: cannot open /proc/stnn-x/y/v.jsonl: cannot create directory /proc/stnn-x: ENOENT (no such file or directory)`]);
    assert.equal(r.code, 2);
  });

  test(`spool dir under /proc${check ? ' (--check)' : ''}: one line naming outputs[k].spool.dir, exit 2`, { skip }, () => {
    const r = sensor('spool.yaml', [
      'metrics: { listen: off }',
      'outputs:',
      '  - { type: syslog, name: siem, transport: udp, host: 127.0.0.1, port: 9, spool: { dir: /proc/stnn-x/spool } }',
    ], check);
    assert.equal(r.signal, null, 'no hang');
    assert.deepEqual(r.lines, [`stnn: ${join(dir, 'spool.yaml')}: outputs[0].spool.dir: spool /proc/stnn-x/spool: cannot create directory /proc/stnn-x: ENOENT (no such file or directory)`]);
    assert.equal(r.code, 2);
  });
}
