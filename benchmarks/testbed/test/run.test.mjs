// The generator end to end. Option errors need nothing; the real run needs root, network
// namespaces and the Debian tools, and is skipped (saying why) without them. ~25 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanHellos } from '../lib/pcapscan.mjs';
import { parseLabelRules, labelFor } from '../../../src/dataset/labels.js';

const RUN = fileURLToPath(new URL('../run.mjs', import.meta.url));
const node = (args, timeout = 10000) => spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout });

test('options: bad values are one-line usage errors (exit 2); --help exits 0', () => {
  const cases = [
    [['--out', '/tmp/x', '--seed', 'abc', '--sample', '1'], /^run\.mjs: --seed: expected an integer in \[0, 2147483648\], got 'abc'$/],
    [['--out', '/tmp/x', '--sample', '0'], /^run\.mjs: --sample: expected an integer in \[1, 1000\], got '0'$/],
    [['--out', '/tmp/x', '--train-sessions', '5', '--scale=-1'], /^run\.mjs: --scale: expected a number in \(0, 10\], got '-1'$/],
    [['--out', '/tmp/x'], /^run\.mjs: nothing to do/],
  ];
  for (const [args, re] of cases) {
    const r = node(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr.trim().split('\n')[0], re);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  const missing = node(['--sample', '1']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /^run\.mjs: --out: required/);
  const unknown = node(['--bogus']);
  assert.equal(unknown.status, 2);
  const help = node(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--train-sessions N/);
});

function whyNot() {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const t of ['ip', 'tcpdump', 'ethtool', 'openssl', 'curl', 'python3']) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      return `${t} is not installed`;
    }
  }
  try {
    const pid = Number(readFileSync('/run/stnn-testbed.pid', 'utf8'));
    process.kill(pid, 0);
    return `another testbed run (pid ${pid}) is going on`;
  } catch {
    return null;
  }
}

test('a one-session-per-application sample: every planned SNI is captured, namespaces removed', { skip: whyNot() ?? false, timeout: 120000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'stnn-tb-test-'));
  try {
    const r = node(['--out', out, '--sample', '1', '--seed', '11', '--concurrency', '8'], 110000);
    assert.equal(r.status, 0, r.stderr);
    const plan = JSON.parse(readFileSync(join(out, 'sample.json'), 'utf8'));
    assert.equal(plan.sessions.length, 8);
    assert.equal(plan.client.ok, 8, JSON.stringify(plan.client.errors));
    assert.equal(plan.tcpdump.dropped, 0);
    const { snis, versions } = scanHellos(readFileSync(join(out, 'sample.pcap')));
    const planned = [...new Set(plan.sessions.map((s) => s.sni))].sort();
    assert.deepEqual([...new Set(snis)].sort(), planned);
    const rules = parseLabelRules(readFileSync(join(out, 'labels.yaml'), 'utf8'), 'labels.yaml');
    for (const s of plan.sessions) assert.equal(labelFor(rules, s.sni), s.app);
    // every TLS flow got a ServerHello, of the version its session asked for
    assert.equal(versions['1.2'] + versions['1.3'], snis.length);
    const asked12 = plan.sessions.filter((s) => s.tls === '1.2').length;
    assert.ok(versions['1.2'] >= asked12, JSON.stringify(versions));
    const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.doesNotMatch(ns, /stnn-tb-/);
    assert.equal(existsSync('/run/stnn-testbed.pid'), false);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
