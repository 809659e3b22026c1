#!/usr/bin/env node
// The testbed: labelled TLS traffic from real servers and clients in network namespaces.
//
//   node benchmarks/testbed/run.mjs --out /work/testbed-data --train-sessions 100 --test-sessions 50 --seed 1
//   node benchmarks/testbed/run.mjs --out data/testbed --sample 2 --seed 424242
//
// Topology (root only; names are fixed so that a re-run first removes what a killed run left):
//
//   stnn-tb-cli  tbc0 10.77.0.2 ── tbm0 [stnn-tb-mid: shaper.py] tbm1 ── tbs0 10.77.0.10-18  stnn-tb-srv
//       tcpdump on tbc0, tc tbf (uplink rate)         delay/jitter/loss         tc tbf (downlink rate)
//
// See README.md beside this file.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { APPS, CLIENT_IP, planSet, planSample, labelsYaml } from './lib/plan.mjs';
import { Rng } from './lib/rng.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const NS = { cli: 'stnn-tb-cli', mid: 'stnn-tb-mid', srv: 'stnn-tb-srv' };
const DEV = { cli: 'tbc0', midCli: 'tbm0', midSrv: 'tbm1', srv: 'tbs0' };
const SERVER_BASE_IP = '10.77.0.10';

const USAGE = `usage: node benchmarks/testbed/run.mjs --out DIR [options]

Generates labelled TLS traffic between network namespaces and captures it with tcpdump.
Needs root, iproute2, ethtool, tcpdump, openssl, curl, python3 (and tshark for --count).

  --out DIR              output folder (created); big captures belong outside the repo
  --train-sessions N     sessions per application in the training set (default 0)
  --test-sessions M      sessions per application in the test set (default 0)
  --sample N             instead: one small pcap → DIR/sample.pcap, at most N sessions per
                         application, under a byte budget (light applications get more)
  --sample-max-kb K      in a sample, only sessions asking for at most K kB (default 350)
  --sample-total-kb T    in a sample, at most T kB asked for in all (default 3300)
  --seed S               integer seed; the test set uses S+1000003 (default 1)
  --runs R               runs (network conditions, one pcap each) per set (default 3)
  --concurrency C        sessions in flight at a time (default 16)
  --scale X              multiplies every byte size (default 1; the sample uses less)
  --count                count ClientHellos per SNI in each pcap with tshark afterwards
  --help                 this text`;

function fail(msg, code = 2) {
  process.stderr.write(`run.mjs: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  opts = parseArgs({
    options: {
      out: { type: 'string' },
      'train-sessions': { type: 'string', default: '0' },
      'test-sessions': { type: 'string', default: '0' },
      sample: { type: 'string' },
      'sample-max-kb': { type: 'string', default: '350' },
      'sample-total-kb': { type: 'string', default: '3300' },
      seed: { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '16' },
      scale: { type: 'string', default: '1' },
      count: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  fail(`${e.message.split("\n")[0]} (see --help)`);
}
if (opts.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const intOpt = (name, min, max, v = opts[name]) => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(`--${name}: expected an integer in [${min}, ${max}], got '${v}'`);
  return Number(v);
};
if (!opts.out) fail("--out: required (see --help)");
const OUT = resolve(opts.out);
const SEED = intOpt('seed', 0, 2 ** 31);
const RUNS = intOpt('runs', 1, 100);
const CONC = intOpt('concurrency', 1, 64);
const TRAIN = intOpt('train-sessions', 0, 100000);
const TEST = intOpt('test-sessions', 0, 100000);
const SAMPLE = opts.sample === undefined ? 0 : intOpt('sample', 1, 1000);
const SAMPLE_MAX = intOpt('sample-max-kb', 1, 1e7) * 1000;
const SAMPLE_TOTAL = intOpt('sample-total-kb', 1, 1e8) * 1000;
const SCALE = Number(opts.scale);
if (!Number.isFinite(SCALE) || SCALE <= 0 || SCALE > 10) fail(`--scale: expected a number in (0, 10], got '${opts.scale}'`);
if (!SAMPLE && TRAIN + TEST === 0) fail('nothing to do: give --train-sessions and/or --test-sessions, or --sample');
if (process.getuid?.() !== 0) fail('needs root (network namespaces, tcpdump)', 1);

// ---------------------------------------------------------------------------------------------
// processes and cleanup

const children = new Set();
function sh(cmd, args, { quiet = false } = {}) {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    if (quiet) return '';
    throw new Error(`${cmd} ${args.join(' ')}: ${String(e.stderr || e.message).trim().split('\n')[0]}`);
  }
}
const nsx = (ns, cmd, args, o) => sh('ip', ['netns', 'exec', ns, cmd, ...args], o);

function startChild(name, args, readyRe, stream = 'stdout') {
  const p = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(p);
  const out = { stdout: '', stderr: '' };
  p.stdout.on('data', (c) => (out.stdout += c));
  p.stderr.on('data', (c) => (out.stderr += c));
  const exited = new Promise((r) => p.on('close', (code, sig) => (children.delete(p), r({ code, sig }))));
  const ready = readyRe
    ? new Promise((resolveReady, reject) => {
        const t = setTimeout(() => reject(new Error(`${name}: not ready after 20 s: ${out.stderr.trim()}`)), 20000);
        p[stream].on('data', () => {
          if (readyRe.test(out[stream])) {
            clearTimeout(t);
            resolveReady();
          }
        });
        exited.then(({ code }) => reject(new Error(`${name} exited (${code}): ${out.stderr.trim().split('\n').slice(-2).join(' ')}`)));
      })
    : Promise.resolve();
  return { p, out, exited, ready };
}

async function stopChild(c, sig = 'SIGTERM', ms = 5000) {
  if (c.p.exitCode !== null || c.p.signalCode !== null) return c.exited;
  c.p.kill(sig);
  const t = setTimeout(() => c.p.kill('SIGKILL'), ms);
  const r = await c.exited;
  clearTimeout(t);
  return r;
}

/** Removes our namespaces and whatever still runs in them (from this or an earlier run). */
function teardown() {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const ns of Object.values(NS)) {
    const pids = sh('ip', ['netns', 'pids', ns], { quiet: true }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sh('ip', ['netns', 'del', ns], { quiet: true });
  }
}

// one run at a time: the namespaces have fixed names
const LOCK = '/run/stnn-testbed.pid';
function takeLock() {
  try {
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    if (pid && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        fail(`another testbed run (pid ${pid}) is using the namespaces; wait for it or stop it`, 1);
      } catch (e) {
        if (e.code !== 'ESRCH') throw e;
      }
    }
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  writeFileSync(LOCK, String(process.pid));
  haveLock = true;
}
let haveLock = false;

let workDir = null;
function cleanupAll() {
  if (!haveLock) return;
  teardown();
  rmSync(LOCK, { force: true });
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`run.mjs: ${sig}, cleaning up\n`);
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------
// network

function setupNetwork() {
  teardown();
  for (const ns of Object.values(NS)) sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', DEV.cli, 'netns', NS.cli, 'type', 'veth', 'peer', 'name', DEV.midCli, 'netns', NS.mid]);
  sh('ip', ['link', 'add', DEV.srv, 'netns', NS.srv, 'type', 'veth', 'peer', 'name', DEV.midSrv, 'netns', NS.mid]);
  for (const ns of Object.values(NS)) {
    nsx(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    nsx(ns, 'ip', ['link', 'set', 'lo', 'up']);
  }
  const devs = [
    [NS.cli, DEV.cli],
    [NS.mid, DEV.midCli],
    [NS.mid, DEV.midSrv],
    [NS.srv, DEV.srv],
  ];
  for (const [ns, dev] of devs) {
    nsx(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`], { quiet: true });
    // wire-sized frames with valid checksums: no segmentation/checksum offload on the veths
    nsx(ns, 'ethtool', ['-K', dev, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { quiet: true });
    nsx(ns, 'ip', ['link', 'set', dev, 'mtu', '1500', 'up']);
  }
  nsx(NS.mid, 'ip', ['link', 'set', DEV.midCli, 'promisc', 'on']);
  nsx(NS.mid, 'ip', ['link', 'set', DEV.midSrv, 'promisc', 'on']);
  nsx(NS.cli, 'ip', ['addr', 'add', `${CLIENT_IP}/24`, 'dev', DEV.cli]);
  nsx(NS.srv, 'ip', ['addr', 'add', `${SERVER_BASE_IP}/24`, 'dev', DEV.srv]);
  for (const a of APPS) nsx(NS.srv, 'ip', ['addr', 'add', `${a.ip}/24`, 'dev', DEV.srv]);
  // the kernel's TCP uses a fresh timestamp offset per connection anyway; keep defaults otherwise
}

function setRates(net) {
  const tbf = (ns, dev, mbit) => {
    const burst = Math.max(16000, Math.round((mbit * 125000) / 250));
    nsx(ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(burst), 'latency', '200ms']);
  };
  tbf(NS.cli, DEV.cli, net.upMbit);
  tbf(NS.srv, DEV.srv, net.downMbit);
}

// ---------------------------------------------------------------------------------------------
// certificates: a CA per run, one leaf per application (key type drawn per application)

function makeCerts(dir) {
  const r = new Rng(SEED, 'certs');
  const ca = { key: join(dir, 'ca.key'), cert: join(dir, 'ca.pem') };
  sh('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ca.key, '-out', ca.cert,
    '-days', '30', '-subj', '/O=stnn testbed/CN=stnn testbed CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const apps = [];
  APPS.forEach((a, i) => {
    const key = join(dir, `${a.app}.key`);
    const csr = join(dir, `${a.app}.csr`);
    const cert = join(dir, `${a.app}.pem`);
    const ext = join(dir, `${a.app}.ext`);
    const rsa = r.chance(0.5);
    const keyArgs = rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    sh('openssl', ['req', ...keyArgs, '-nodes', '-keyout', key, '-out', csr, '-subj', `/O=${a.app} testbed/CN=*.${a.domain}`]);
    writeFileSync(ext, `subjectAltName=DNS:*.${a.domain},DNS:${a.domain}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature${rsa ? ',keyEncipherment' : ''}\n`);
    sh('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(1000 + i), '-days', '30', '-out', cert, '-extfile', ext]);
    apps.push({ app: a.app, ip: a.ip, kind: a.kind, key, cert, keyType: rsa ? 'rsa2048' : 'p256' });
  });
  return { ca, apps };
}

// ---------------------------------------------------------------------------------------------

function tsharkCounts(pcap) {
  const out = sh('tshark', ['-r', pcap, '-Y', 'tls.handshake.type==1', '-T', 'fields', '-e', 'tls.handshake.extensions_server_name'], { quiet: true });
  const counts = {};
  for (const line of out.split('\n')) if (line) counts[line] = (counts[line] ?? 0) + 1;
  return counts;
}

async function doRun(run, pcap, certs) {
  const t0 = Date.now();
  setRates(run.net);
  const shaperRng = new Rng(SEED, `shaper:${run.name}:${run.index}`);
  const shaper = startChild(
    'shaper',
    ['netns', 'exec', NS.mid, 'python3', join(HERE, 'shaper.py'), DEV.midCli, DEV.midSrv,
      '--delay-ms', String(run.net.delayMs), '--jitter-ms', String(run.net.jitterMs), '--loss-pct', String(run.net.lossPct),
      '--seed', String(shaperRng.u32())],
    /ready/,
    'stderr',
  );
  await shaper.ready;
  const dump = startChild(
    'tcpdump',
    ['netns', 'exec', NS.cli, 'tcpdump', '-i', DEV.cli, '-n', '-s', '0', '-B', '16384', '-Z', 'root', '-w', pcap, 'tcp'],
    /listening on/,
    'stderr',
  );
  await dump.ready;
  const runFile = join(workDir, `${run.name}-${run.index}.json`);
  writeFileSync(runFile, JSON.stringify({ ca: certs.ca.cert, concurrency: CONC, sessions: run.sessions }));
  const client = startChild('client', ['netns', 'exec', NS.cli, process.execPath, join(HERE, 'client.mjs'), runFile], null);
  const { code } = await client.exited;
  let summary;
  try {
    summary = JSON.parse(client.out.stdout.trim().split('\n').pop());
  } catch {
    throw new Error(`client exited (${code}) without a summary: ${client.out.stderr.trim().slice(0, 500)}`);
  }
  await new Promise((r) => setTimeout(r, 1500)); // last FIN/ACKs
  await stopChild(dump, 'SIGINT');
  await stopChild(shaper, 'SIGTERM');
  const num = (re) => Number((re.exec(dump.out.stderr) ?? [])[1] ?? NaN);
  let shaperStats = null;
  try {
    shaperStats = JSON.parse(shaper.out.stdout.trim().split('\n').pop());
  } catch {
    /* left null */
  }
  return {
    name: run.name,
    index: run.index,
    pcap,
    net: run.net,
    seconds: (Date.now() - t0) / 1000,
    client: summary,
    tcpdump: { captured: num(/(\d+) packets captured/), dropped: num(/(\d+) packets dropped by kernel/) },
    shaper: shaperStats,
    bytes: statSync(pcap).size,
  };
}

async function main() {
  const tStart = Date.now();
  takeLock();
  mkdirSync(OUT, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'stnn-tb-'));
  setupNetwork();
  const certs = makeCerts(workDir);
  const srvCfg = join(workDir, 'server.json');
  writeFileSync(srvCfg, JSON.stringify({ port: 443, apps: certs.apps }));
  const server = startChild('server', ['netns', 'exec', NS.srv, process.execPath, join(HERE, 'server.mjs'), srvCfg], /ready/);
  await server.ready;

  const sets = SAMPLE
    ? [{ name: 'sample', seed: SEED, per: SAMPLE, runs: 1 }]
    : [
        { name: 'train', seed: SEED, per: TRAIN, runs: RUNS },
        { name: 'test', seed: SEED + 1000003, per: TEST, runs: RUNS },
      ].filter((s) => s.per > 0);
  const manifest = {
    command: `node benchmarks/testbed/run.mjs ${process.argv.slice(2).join(' ')}`,
    seed: SEED,
    scale: SCALE,
    concurrency: CONC,
    certificates: Object.fromEntries(certs.apps.map((a) => [a.app, a.keyType])),
    apps: APPS.map((a) => ({ app: a.app, sni_suffix: `.${a.domain}`, ip: a.ip })),
    runs: [],
  };
  writeFileSync(join(OUT, 'labels.yaml'), labelsYaml());
  for (const set of sets) {
    const plan = SAMPLE
      ? planSample({ seed: set.seed, name: set.name, maxPerApp: set.per, maxBytes: SAMPLE_MAX, totalBytes: SAMPLE_TOTAL })
      : planSet({ seed: set.seed, name: set.name, sessionsPerApp: set.per, runs: set.runs, scale: SCALE });
    const dir = SAMPLE ? OUT : join(OUT, set.name);
    mkdirSync(dir, { recursive: true });
    for (const run of plan) {
      const pcap = SAMPLE ? join(dir, 'sample.pcap') : join(dir, `run-${run.index}.pcap`);
      const n = run.net;
      process.stderr.write(
        `${set.name} run ${run.index}: ${run.sessions.length} sessions, delay ${n.delayMs}±${n.jitterMs} ms, loss ${n.lossPct}%, ` +
          `down ${n.downMbit} Mbit/s, up ${n.upMbit} Mbit/s ... `,
      );
      const res = await doRun(run, pcap, certs);
      if (opts.count) res.sni = tsharkCounts(pcap);
      process.stderr.write(
        `${res.client.ok}/${res.client.sessions} ok, ${res.tcpdump.captured} packets (${res.tcpdump.dropped} dropped), ` +
          `${(res.bytes / 1e6).toFixed(1)} MB, ${res.seconds.toFixed(0)} s\n`,
      );
      for (const e of res.client.errors) process.stderr.write(`  failed ${e.id} (${e.app}): ${e.error}\n`);
      const planFile = pcap.replace(/\.pcap$/, '.json');
      writeFileSync(planFile, JSON.stringify({ ...res, seed: set.seed, sessions: run.sessions }, null, 1));
      manifest.runs.push({ ...res, pcap: pcap.startsWith(OUT) ? pcap.slice(OUT.length + 1) : pcap });
    }
  }
  await stopChild(server);
  manifest.seconds = (Date.now() - tStart) / 1000;
  writeFileSync(join(OUT, SAMPLE ? 'sample-manifest.json' : 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  process.stderr.write(`done in ${manifest.seconds.toFixed(0)} s → ${OUT}\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`run.mjs: ${e.message}\n`);
    process.exit(1);
  },
);
