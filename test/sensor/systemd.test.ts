import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const unit = path.join(repoRoot(), 'systemd', 'stnn.service');

/** key → values of the [Service] section (a key may repeat). */
function service(): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(unit, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) { section = s[1]!; continue; }
    if (section !== 'Service') continue;
    const i = line.indexOf('=');
    const k = line.slice(0, i);
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1)]);
  }
  return m;
}

test('the unit runs unprivileged with CAP_NET_RAW only, hardened, drains on stop and reloads on HUP', () => {
  const s = service();
  const one = (k: string) => s.get(k)?.join(' ');
  assert.equal(one('User'), 'stnn');
  assert.equal(one('DynamicUser'), 'no');
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_RAW');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_RAW');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ProtectHome'), 'yes');
  assert.equal(one('PrivateTmp'), 'yes');
  assert.equal(one('StateDirectory'), 'stnn');
  assert.equal(one('RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6 AF_PACKET AF_NETLINK');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('RestartPreventExitStatus'), '2');
  assert.match(one('ExecStart')!, / sensor --config \/etc\/stnn\/stnn\.yaml$/);
  assert.ok(Number(one('TimeoutStopSec')) >= 30);
});

const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;

test('systemd-analyze verify accepts the unit', { skip: analyze ? false : 'systemd-analyze is not installed' }, () => {
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  // It names a missing ExecStart binary (/usr/bin/node) on machines without one; nothing else may show.
  const complaints = r.stderr.split('\n').filter((l) => l && !/is not executable|No such file or directory/.test(l));
  assert.deepEqual(complaints, []);
});
