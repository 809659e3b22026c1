// Session planning: from (seed, set name, sessions per application, runs) to a list of runs,
// each with its network conditions and its sessions with every parameter fixed. The client
// only executes a plan; all randomness of what is asked for lives here.
import { Rng } from './rng.mjs';

export const DOMAIN = 'tb.example';
export const CLIENT_IP = '10.77.0.2';

/** The applications: name, SNI domain, server address, server kind, host names under the domain. */
export const APPS = [
  { app: 'video', domain: `video.${DOMAIN}`, ip: '10.77.0.11', kind: 'h2', hosts: ['edge', 'cdn', 'vod'] },
  { app: 'chat', domain: `chat.${DOMAIN}`, ip: '10.77.0.12', kind: 'ws', hosts: ['ws', 'gateway', 'rt'] },
  { app: 'rest', domain: `api.${DOMAIN}`, ip: '10.77.0.13', kind: 'h2', hosts: ['api', 'poll', 'sync'] },
  { app: 'download', domain: `dl.${DOMAIN}`, ip: '10.77.0.14', kind: 'h2', hosts: ['files', 'mirror', 'dl'] },
  { app: 'upload', domain: `upload.${DOMAIN}`, ip: '10.77.0.15', kind: 'h2', hosts: ['up', 'ingest', 'backup'] },
  { app: 'web', domain: `www.${DOMAIN}`, ip: '10.77.0.16', kind: 'h2', hosts: ['www', 'static', 'portal'] },
  { app: 'audio', domain: `audio.${DOMAIN}`, ip: '10.77.0.17', kind: 'h2', hosts: ['radio', 'stream', 'live'] },
  { app: 'update', domain: `update.${DOMAIN}`, ip: '10.77.0.18', kind: 'h2', hosts: ['dl', 'patch', 'pkg'] },
];

/** Labels rules file (YAML) matching src/dataset/labels.ts: subdomains of each app's domain. */
export function labelsYaml() {
  const lines = ['# Labels for the testbed captures (benchmarks/testbed): SNI suffix -> application.'];
  for (const a of APPS) lines.push(`- app: ${a.app}`, `  sni_suffix: ['.${a.domain}']`);
  return lines.join('\n') + '\n';
}

const r0 = (x) => Math.max(1, Math.round(x));

function tlsAlpn(r, tool, alpnChoices) {
  const tls = r.chance(0.4) ? '1.2' : '1.3';
  let alpn = r.pick(alpnChoices);
  if (tool === 'openssl') alpn = 'http/1.1';
  return { tls, alpn };
}

/** Parameters of one session of an application. `s` scales byte sizes (1 = normal). */
export function planSession(app, r, s) {
  switch (app) {
    case 'video': {
      const tool = r.chance(0.7) ? 'node' : 'curl';
      const kbps = r.pick([300, 600, 1200, 2500]);
      const segSec = r.uniform(1, 2);
      const segments = r.int(3, 8);
      return {
        tool,
        ...tlsAlpn(r, tool, ['h2', 'http/1.1']),
        p: {
          manifest: r.int(800, 4000),
          intervalMs: Math.round(r.uniform(600, 2000)),
          sizes: Array.from({ length: segments }, () => r0((kbps * 125 * segSec * r.uniform(0.7, 1.3)) * s)),
          think: r.int(1, 20),
        },
      };
    }
    case 'chat': {
      const smin = r.int(10, 60);
      const cmin = r.int(8, 40);
      return {
        tool: 'node',
        ...tlsAlpn(r, 'node', ['http/1.1', null]),
        p: {
          durMs: Math.round(r.uniform(3000, 10000)),
          cgap: Math.round(r.uniform(300, 1500)),
          cmin,
          cmax: cmin + r.int(20, 400),
          sgap: Math.round(r.uniform(300, 2000)),
          smin,
          smax: smin + r.int(20, 500),
          ackp: r.int(20, 90),
          pingMs: Math.round(r.uniform(1000, 3000)),
        },
      };
    }
    case 'rest': {
      const tool = r.weighted({ node: 0.5, curl: 0.3, openssl: 0.2 });
      const lo = r.int(150, 800);
      const polls = tool === 'curl' ? r.int(2, 5) : r.int(4, 12);
      return {
        tool,
        ...tlsAlpn(r, tool, ['h2', 'http/1.1']),
        p: {
          intervalMs: Math.round(r.uniform(250, 1200)),
          reqs: Array.from({ length: polls }, () => ({
            post: r.chance(0.3) ? r.int(80, 1500) : 0,
            n: r.int(lo, lo + r.int(100, 3500)),
            think: r.int(2, 40),
          })),
        },
      };
    }
    case 'download': {
      const tool = r.chance(0.6) ? 'curl' : 'node';
      return { tool, ...tlsAlpn(r, tool, ['h2', 'http/1.1']), p: { bytes: r0(r.logUniform(3e5, 1e7) * s), think: r.int(1, 30) } };
    }
    case 'upload': {
      const tool = r.chance(0.6) ? 'curl' : 'node';
      return {
        tool,
        ...tlsAlpn(r, tool, ['h2', 'http/1.1']),
        p: { bytes: r0(r.logUniform(2e5, 5e6) * s), method: r.pick(['POST', 'PUT']), think: r.int(5, 80) },
      };
    }
    case 'web': {
      const tool = r.chance(0.7) ? 'node' : 'curl';
      const assets = r.int(15, 60);
      return {
        tool,
        tls: r.chance(0.4) ? '1.2' : '1.3',
        alpn: r.chance(0.9) ? 'h2' : 'http/1.1',
        p: {
          index: r0(r.int(8000, 80000) * s),
          assets: Array.from({ length: assets }, (_, i) => ({
            path: `/obj/assets/${i}.${r.pick(['js', 'css', 'png', 'jpg', 'woff2'])}`,
            n: r0(r.logUniform(400, 150000) * s),
          })),
          waves: r.int(2, 4),
          waveGapMs: Math.round(r.uniform(50, 400)),
          concurrency: r.int(6, 16),
          think: r.int(0, 15),
        },
      };
    }
    case 'audio': {
      const tool = r.chance(0.6) ? 'node' : 'curl';
      const kbps = r.pick([64, 96, 128, 192, 320]);
      const intervalMs = Math.round(r.uniform(100, 500));
      return {
        tool,
        ...tlsAlpn(r, tool, ['h2', 'http/1.1']),
        p: { chunk: r0((kbps * 125 * intervalMs) / 1000), intervalMs, durMs: Math.round(r.uniform(3000, 10000)) },
      };
    }
    case 'update': {
      const tool = r.chance(0.5) ? 'curl' : 'node';
      const size = r0(r.logUniform(1e6, 1.2e7) * s);
      const chunk = r0(r.pick([131072, 262144, 524288, 1048576]) * s);
      const nChunks = Math.ceil(size / chunk);
      const take = Math.min(nChunks, r.int(3, 8));
      const first = r.int(0, nChunks - take);
      return {
        tool,
        ...tlsAlpn(r, tool, ['h2', 'http/1.1']),
        p: {
          size,
          ranges: Array.from({ length: take }, (_, i) => {
            const a = (first + i) * chunk;
            return [a, Math.min(size, a + chunk) - 1];
          }),
          gapMs: Math.round(r.uniform(0, 300)),
        },
      };
    }
    default:
      throw new Error(`unknown application '${app}'`);
  }
}

/** Network conditions of one run: one-way delay and jitter per direction, loss, rates. */
export function planNet(r) {
  const delayMs = Math.round(r.uniform(1, 40) * 10) / 10;
  return {
    delayMs,
    jitterMs: Math.round(delayMs * r.uniform(0, 0.3) * 10) / 10,
    lossPct: r.chance(0.25) ? 0 : Math.round(r.uniform(0.05, 1.0) * 100) / 100,
    downMbit: Math.round(r.logUniform(15, 150)),
    upMbit: Math.round(r.logUniform(8, 60)),
  };
}

/** Application-layer bytes a session asks for (both directions, headers and TLS left out). */
export function plannedBytes(s) {
  const p = s.p;
  switch (s.app) {
    case 'video':
      return p.manifest + p.sizes.reduce((a, b) => a + b, 0);
    case 'chat':
      return Math.round((p.durMs / p.cgap) * (p.cmin + p.cmax) / 2 + (p.durMs / p.sgap) * (p.smin + p.smax) / 2);
    case 'rest':
      return p.reqs.reduce((a, q) => a + q.n + q.post, 0);
    case 'download':
    case 'upload':
      return p.bytes;
    case 'web':
      return p.index + p.assets.reduce((a, x) => a + x.n, 0);
    case 'audio':
      return Math.round((p.chunk * p.durMs) / p.intervalMs);
    case 'update':
      return p.ranges.reduce((a, [x, y]) => a + y - x + 1, 0);
    default:
      throw new Error(`unknown application '${s.app}'`);
  }
}

/**
 * A capture set: `sessionsPerApp` sessions of every application spread over `runs` runs, each
 * run with its own network conditions. Deterministic in its arguments.
 */
export function planSet({ seed, name, sessionsPerApp, runs, scale = 1, maxBytes = Infinity, apps = APPS.map((a) => a.app) }) {
  const r = new Rng(seed, `set:${name}`);
  const all = [];
  for (const app of apps) {
    const def = APPS.find((a) => a.app === app);
    if (!def) throw new Error(`unknown application '${app}'`);
    // with maxBytes, sessions asking for more are skipped (drawn from the same distribution,
    // kept only under the budget); give up after 1000 draws per session
    for (let i = 0, n = 0; n < sessionsPerApp; i++) {
      if (i >= 1000 * sessionsPerApp) throw new Error(`${app}: no session under ${maxBytes} bytes in ${i} draws`);
      const sr = new Rng(seed, `session:${name}:${app}:${i}`);
      const host = `${sr.pick(def.hosts)}-${String(sr.int(1, 24)).padStart(2, '0')}`;
      const sess = { app, sni: `${host}.${def.domain}`, ip: def.ip, seed: sr.u32(), ...planSession(app, sr, scale) };
      if (plannedBytes(sess) > maxBytes) continue;
      all.push(sess);
      n++;
    }
  }
  return spread(all, r, seed, name, runs);
}

/**
 * A small set under a byte budget (the shipped sample): rounds over the applications, each round
 * adding one session per application (drawn from the same distribution as planSet's, kept only
 * if it asks for at most maxBytes), until an application has maxPerApp sessions or the next one
 * would take the total over totalBytes. Light applications therefore get more sessions.
 */
export function planSample({ seed, name, maxPerApp, maxBytes, totalBytes, apps = APPS.map((a) => a.app) }) {
  const r = new Rng(seed, `set:${name}`);
  const all = [];
  const draw = apps.map(() => 0);
  const open = apps.map(() => true);
  let total = 0;
  for (let round = 0; round < maxPerApp && open.some(Boolean); round++) {
    apps.forEach((app, k) => {
      if (!open[k]) return;
      const def = APPS.find((a) => a.app === app);
      if (!def) throw new Error(`unknown application '${app}'`);
      for (;;) {
        if (draw[k] >= 20000) throw new Error(`${app}: no session under ${maxBytes} bytes in ${draw[k]} draws`);
        const sr = new Rng(seed, `session:${name}:${app}:${draw[k]++}`);
        const host = `${sr.pick(def.hosts)}-${String(sr.int(1, 24)).padStart(2, '0')}`;
        const sess = { app, sni: `${host}.${def.domain}`, ip: def.ip, seed: sr.u32(), ...planSession(app, sr, 1) };
        const b = plannedBytes(sess);
        if (b > maxBytes) continue;
        if (total + b > totalBytes) open[k] = false;
        else {
          all.push(sess);
          total += b;
        }
        break;
      }
    });
  }
  return spread(all, r, seed, name, 1);
}

/** Shuffles sessions (applications interleave in time) and deals them over `runs` runs. */
function spread(all, r, seed, name, runs) {
  for (let i = all.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [all[i], all[j]] = [all[j], all[i]];
  }
  const out = [];
  for (let k = 0; k < runs; k++) {
    const net = planNet(new Rng(seed, `net:${name}:${k}`));
    const sessions = all.filter((_, i) => i % runs === k).map((s, i) => ({ id: `${name}-${k}-${i}`, ...s }));
    out.push({ name, index: k, net, sessions });
  }
  return out;
}
