/**
 * Verdicts through a real rsyslogd over every transport, and across a receiver outage.
 * Skipped (with the reason printed) when rsyslogd is not installed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Rsyslog, rsyslogSkipReason } from '../helpers/rsyslog.js';
import { createSink } from '../../src/sinks/sink.js';
import type { SyslogConfig } from '../../src/sinks/sink.js';
import type { SyslogSink } from '../../src/sinks/syslog.js';
import { record } from './fixtures.js';

const skip = rsyslogSkipReason();
if (skip) console.log(`# skipping rsyslog tests: ${skip}`);
// Node has no AF_UNIX datagram sockets: the unix-dgram transport relays through python3.
const noPython = spawnSync('python3', ['-c', 'pass']).status === 0 ? false : 'python3 is not installed (the unix datagram relay needs it)';

let rs: Rsyslog;
before(async () => {
  if (!skip) rs = await Rsyslog.start();
});
after(async () => {
  if (rs) await rs.dispose();
});

const CLOCK = () => 1700000003123;
const SD = (i: number) =>
  `[stnn@32473 app="youtube" confidence="0.875" community_id="1:flow${i}=" transport="tcp" src_ip="192.0.2.10" ` +
  `src_port="${51514 + i}" dst_ip="198.51.100.7" dst_port="443" sni="a\\"b\\\\c\\]d.example"]`;

interface Parsed {
  pri: string;
  ts: string;
  host: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/** Splits an RSYSLOG_SyslogProtocol23Format line. */
function parse(line: string): Parsed {
  const m = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*?[^\\]\]|-) (.*)$/.exec(line);
  assert.ok(m, `not an RFC 5424 line: ${line.slice(0, 120)}`);
  return { pri: m[1]!, ts: m[2]!, host: m[3]!, app: m[4]!, procid: m[5]!, msgid: m[6]!, sd: m[7]!, msg: m[8]! };
}

function expectedJson(i: number) {
  const r = record(i);
  delete (r.stnn as Record<string, unknown>).features;
  return r;
}

const transports: [string, Partial<SyslogConfig>][] = [
  ['tcp', { transport: 'tcp' }],
  ['udp', { transport: 'udp' }],
  ['unix-dgram', { transport: 'unix', socketType: 'dgram' }],
  ['unix-stream', { transport: 'unix', socketType: 'stream' }],
];

for (const [label, t] of transports) {
  const why = skip || (label === 'unix-dgram' && noPython);
  test(`rsyslogd receives every verdict once over ${label}, fields intact`, { skip: why }, async () => {
    const N = 40;
    const app = `stnn-${label}`;
    const where = t.transport === 'unix' ? { path: t.socketType === 'dgram' ? rs.dgramPath : rs.streamPath } : { port: t.transport === 'tcp' ? rs.tcpPort : rs.udpPort };
    const sink = createSink({ type: 'syslog', ...t, ...where, appName: app, hostname: 'sensor1', procId: 4242, clock: CLOCK } as SyslogConfig);
    for (let i = 1; i <= N; i++) sink.write(record(i));
    await sink.flush();
    await sink.close();
    const mine = () => rs.lines().filter((l) => l.includes(` ${app} 4242 verdict `));
    const deadline = Date.now() + 5000;
    while (mine().length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // duplicates would show up by now
    const lines = mine();
    assert.equal(lines.length, N);
    assert.deepEqual(sink.stats(), { sent: N, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0, truncated: 0 });
    const seen = new Set<number>();
    for (const line of lines) {
      const p = parse(line);
      assert.equal(p.pri, '134');
      assert.equal(p.ts, '2023-11-14T22:13:23.123Z');
      assert.equal(p.host, 'sensor1');
      assert.equal(p.msgid, 'verdict');
      assert.ok(p.msg.startsWith('\ufeff{'), 'MSG starts with the BOM');
      const rec = JSON.parse(p.msg.slice(1)) as ReturnType<typeof record>;
      const i = (rec.source as { port: number }).port - 51514;
      assert.ok(!seen.has(i), `record ${i} twice`);
      seen.add(i);
      assert.equal(p.sd, SD(i));
      assert.deepEqual(rec, expectedJson(i));
    }
    assert.equal(seen.size, N);
  });
}

test('TCP receiver outage: every verdict arrives exactly once, in order, through the spool', { skip }, async () => {
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stnn-outage-'));
  const app = 'stnn-outage';
  const sink = createSink({
    type: 'syslog', transport: 'tcp', port: rs.tcpPort, appName: app, hostname: 'sensor1', procId: 7,
    spool: { dir: spoolDir, maxBytes: 4 << 20 }, backoffMinMs: 50, backoffMaxMs: 200,
  });
  const mine = () => rs.lines().filter((l) => l.includes(` ${app} 7 verdict `));
  const waitMine = async (n: number) => {
    const deadline = Date.now() + 8000;
    while (mine().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return mine();
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let next = 0;
  const writeSome = async (n: number) => {
    for (let k = 0; k < n; k++) {
      sink.write(record(next++));
      await sleep(4);
    }
  };
  await writeSome(30);
  assert.equal((await waitMine(30)).length, 30);
  await rs.stop(); // the receiver goes away (rsyslogd closes the connection on SIGTERM)…
  const noticed = Date.now() + 5000;
  while ((sink as SyslogSink).up && Date.now() < noticed) await sleep(5); // …and the sink has seen the close
  await writeSome(50); // …while verdicts keep coming
  const during = sink.stats();
  assert.ok(during.errors >= 1, 'the sink saw the outage');
  assert.ok(during.spooled >= 45, `spooled ${during.spooled}`);
  assert.ok(during.spoolBytes > 0);
  assert.equal(fs.readdirSync(spoolDir).filter((f) => f.endsWith('.spool')).length, 1, 'records wait on disk');
  await rs.start(); // back
  await writeSome(30);
  await sink.flush();
  const lines = await waitMine(110);
  await sleep(150);
  const got = mine().map((l) => (JSON.parse(parse(l).msg.slice(1)).source.port as number) - 51514);
  assert.equal(lines.length, 110);
  assert.deepEqual(got, Array.from({ length: 110 }, (_, i) => i), 'each once, in order');
  const st = sink.stats();
  assert.equal(st.sent, 110);
  assert.equal(st.dropped, 0);
  assert.equal(st.spoolBytes, 0);
  await sink.close();
  assert.deepEqual(fs.readdirSync(spoolDir).filter((f) => f.endsWith('.spool')), []);
});
