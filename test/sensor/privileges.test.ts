/**
 * What the unit grants is enough (systemd/stnn.service: an unprivileged user holding only
 * CAP_NET_RAW): such a process captures on an interface and puts it in promiscuous mode
 * (PACKET_MR_PROMISC on the packet socket, no CAP_NET_ADMIN): the interface's promiscuity count
 * is 1 while the sensor runs and 0 after it stopped. The documented configuration and
 * docs/sensor.md say the same.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afpacketLoadError } from '../../src/capture/afpacket.js';
import { repoRoot } from '../helpers/paths.js';
import { killSensors, spawnSensor, until } from './helpers.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const addon = afpacketLoadError();
const skip = addon
  ? `the stnn-afpacket addon is not built: ${addon}`
  : process.getuid?.() !== 0
    ? 'needs root (a network namespace, dropping privileges)'
    : !has('setpriv') || !has('ip')
      ? 'setpriv (util-linux) or ip (iproute2) is not installed'
      : false;

const id = process.pid % 100000;
const NS = `stnnP${id}`;
let dir = '';
after(() => {
  killSensors();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (!skip) spawnSync('ip', ['netns', 'del', NS]);
});

function promiscuity(): number {
  const r = spawnSync('ip', ['-n', NS, '-j', '-d', 'link', 'show', 'p0'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { promiscuity: number }[])[0]!.promiscuity;
}

/** Capability sets and real uid of a running process, from /proc. */
function creds(pid: number): { uid: number; eff: bigint; prm: bigint; bnd: bigint; amb: bigint } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => /^(\S+)/.exec(new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(s)![1]!)![1]!;
  const hex = (k: string) => BigInt(`0x${field(k)}`);
  return { uid: Number(field('Uid')), eff: hex('CapEff'), prm: hex('CapPrm'), bnd: hex('CapBnd'), amb: hex('CapAmb') };
}

const CAP_NET_RAW = 1n << 13n;

test('an unprivileged user with only CAP_NET_RAW puts the interface in promiscuous mode, and it drops back at stop', { skip, timeout: 60_000 }, async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-priv-'));
  chmodSync(dir, 0o755);
  assert.equal(spawnSync('ip', ['netns', 'add', NS]).status, 0);
  for (const args of [['link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1'], ['link', 'set', 'p0', 'up'], ['link', 'set', 'p1', 'up']]) {
    const r = spawnSync('ip', ['-n', NS, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const cfg = path.join(dir, 'p0.yaml');
  writeFileSync(cfg, 'capture: { interface: p0, shards: 1, promiscuous: true }\nmetrics: { listen: off }\noutputs: [{ type: "null" }]\n', { mode: 0o644 });
  assert.equal(promiscuity(), 0);
  // As the unit runs it: user nobody, CAP_NET_RAW ambient, nothing else in any set.
  const s = spawnSensor(['--config', cfg], [
    'ip', 'netns', 'exec', NS,
    'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
    '--inh-caps=-all,+net_raw', '--ambient-caps=-all,+net_raw', '--bounding-set=-all,+net_raw',
  ]);
  await until(() => s.stderr().includes('capturing on p0 with 1 shard(s)') || !s.running(), 30_000, 'the capture to start');
  assert.ok(s.running(), s.stderr());
  // ip netns exec and setpriv exec the sensor: the child is the node process itself
  assert.deepEqual(creds(s.child.pid!), { uid: 65534, eff: CAP_NET_RAW, prm: CAP_NET_RAW, bnd: CAP_NET_RAW, amb: CAP_NET_RAW });
  assert.equal(promiscuity(), 1);
  s.child.kill('SIGTERM');
  const r = await s.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(promiscuity(), 0);
});

test('the documented configuration and docs/sensor.md agree: promiscuous mode needs no CAP_NET_ADMIN', () => {
  const yaml = readFileSync(path.join(repoRoot(), 'conf', 'stnn.yaml'), 'utf8');
  const doc = readFileSync(path.join(repoRoot(), 'docs', 'sensor.md'), 'utf8');
  const comment = /((?:^ *#.*\n)+) *promiscuous:/m.exec(yaml)![1]!;
  assert.match(comment, /CAP_NET_RAW/);
  assert.doesNotMatch(comment, /needs CAP_NET_ADMIN/);
  assert.match(doc.replace(/\s+/g, ' '), /so `CAP_NET_ADMIN` is not needed/);
});
