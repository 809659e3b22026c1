#!/usr/bin/env node
// Testbed clients: executes the sessions of one run (planned by lib/plan.mjs) inside the client
// namespace, `concurrency` at a time, with Node (https, http2, a minimal WebSocket client), curl
// and openssl s_client. Prints one JSON summary line on stdout.
//
//   node client.mjs RUN.json
//   RUN = { ca, concurrency, sessions: [...], seed }
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import https from 'node:https';
import http2 from 'node:http2';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { encodeFrame, FrameParser, OP, acceptKey } from './lib/ws.mjs';
import { Rng } from './lib/rng.mjs';

const run = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const CA = readFileSync(run.ca);
const BLOCK = randomBytes(1 << 20);
const SESSION_TIMEOUT_MS = 90000;
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function tlsOpts(s) {
  const v = s.tls === '1.2' ? 'TLSv1.2' : 'TLSv1.3';
  return { ca: CA, servername: s.sni, minVersion: v, maxVersion: v };
}

/** Writes n bytes of BLOCK to a writable, honouring back-pressure. */
async function pump(w, n) {
  let left = n;
  while (left > 0) {
    const k = Math.min(left, 64 << 10);
    left -= k;
    if (!w.write(BLOCK.subarray(0, k))) await new Promise((r) => w.once('drain', r));
  }
}

/**
 * An HTTP client bound to one session: HTTP/2 (one connection, many streams) when the session's
 * ALPN is h2, else HTTP/1.1 keep-alive with at most `h1Sockets` connections.
 */
function httpClient(s, h1Sockets = 1) {
  if (s.alpn === 'h2') {
    const session = http2.connect(`https://${s.sni}`, {
      createConnection: () => tls.connect({ host: s.ip, port: 443, ...tlsOpts(s), ALPNProtocols: ['h2'] }),
    });
    session.on('error', () => {});
    return {
      request(method, path, body = 0, headers = {}) {
        return new Promise((resolve, reject) => {
          const st = session.request({ ':method': method, ':path': path, ...headers }, { endStream: body === 0 });
          let bytes = 0;
          let status = 0;
          st.on('response', (h) => (status = h[':status']));
          st.on('data', (c) => (bytes += c.length));
          st.on('end', () => resolve({ status, bytes }));
          st.on('error', reject);
          if (body > 0) pump(st, body).then(() => st.end(), reject);
        });
      },
      close() {
        return new Promise((r) => session.close(r));
      },
    };
  }
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: h1Sockets,
    ...tlsOpts(s),
    ...(s.alpn ? { ALPNProtocols: [s.alpn] } : {}),
  });
  return {
    request(method, path, body = 0, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = https.request(
          {
            agent,
            host: s.ip,
            port: 443,
            method,
            path,
            headers: { host: s.sni, 'user-agent': 'tb-node/1', ...headers, ...(body > 0 ? { 'content-length': body } : {}) },
          },
          (res) => {
            let bytes = 0;
            res.on('data', (c) => (bytes += c.length));
            res.on('end', () => resolve({ status: res.statusCode, bytes }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        if (body > 0) pump(req, body).then(() => req.end(), reject);
        else req.end();
      });
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

/** curl: each element of `groups` is one URL with its own options; groups share a connection (--next). */
function curl(s, groups, { parallel = 0, stdinBytes = 0 } = {}) {
  const common = [
    '-sS',
    '--cacert',
    run.ca,
    '--resolve',
    `${s.sni}:443:${s.ip}`,
    '--max-time',
    '60',
    ...(s.tls === '1.2' ? ['--tlsv1.2', '--tls-max', '1.2'] : ['--tlsv1.3']),
    ...(s.alpn === 'h2' ? ['--http2'] : ['--http1.1']),
  ];
  const args = [];
  if (parallel > 0) {
    args.push(...common, '-Z', '--parallel-max', String(parallel));
    for (const g of groups) args.push(...g, '-o', '/dev/null');
  } else {
    groups.forEach((g, i) => {
      if (i > 0) args.push('--next');
      args.push(...common, ...g, '-o', '/dev/null');
    });
  }
  return new Promise((resolve, reject) => {
    const p = spawn('curl', args, { stdio: [stdinBytes > 0 ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`curl exit ${code}: ${err.trim().split('\n')[0]}`))));
    if (stdinBytes > 0) {
      p.stdin.on('error', () => {});
      pump(p.stdin, stdinBytes).then(() => p.stdin.end());
    }
  });
}

const url = (s, path) => `https://${s.sni}${path}`;

// ---------------------------------------------------------------------------------------------
// profiles

async function video(s, r) {
  const p = s.p;
  if (s.tool === 'curl') {
    // a player without keep-alive: manifest + first segment, then one connection per segment
    await curl(s, [[url(s, `/obj/live/master.m3u8?n=${p.manifest}&think=${p.think}`)], [url(s, `/obj/live/seg0.m4s?n=${p.sizes[0]}`)]]);
    for (let i = 1; i < p.sizes.length; i++) {
      await sleep(p.intervalMs * r.uniform(0.8, 1.2));
      await curl(s, [[url(s, `/obj/live/seg${i}.m4s?n=${p.sizes[i]}&think=${p.think}`)]]);
    }
    return;
  }
  const c = httpClient(s);
  try {
    await c.request('GET', `/obj/live/master.m3u8?n=${p.manifest}&think=${p.think}`);
    for (let i = 0; i < p.sizes.length; i++) {
      const t0 = Date.now();
      await c.request('GET', `/obj/live/seg${i}.m4s?n=${p.sizes[i]}&think=${p.think}`);
      await sleep(p.intervalMs * r.uniform(0.8, 1.2) - (Date.now() - t0));
    }
  } finally {
    await c.close();
  }
}

async function chat(s, r) {
  const p = s.p;
  const sock = tls.connect({ host: s.ip, port: 443, ...tlsOpts(s), ...(s.alpn ? { ALPNProtocols: [s.alpn] } : {}) });
  sock.on('error', () => {});
  await new Promise((resolve, reject) => {
    sock.once('secureConnect', resolve);
    sock.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  const q = `seed=${s.seed % 2147483647}&sgap=${p.sgap}&smin=${p.smin}&smax=${p.smax}&ackp=${p.ackp}`;
  sock.write(
    `GET /ws?${q} HTTP/1.1\r\nHost: ${s.sni}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://${s.sni}\r\n\r\n`,
  );
  const parser = new FrameParser(1 << 20);
  let head = Buffer.alloc(0);
  let upgraded = false;
  let closed = false;
  const mask = () => randomBytes(4);
  const send = (op, payload) => {
    if (!closed && !sock.destroyed) sock.write(encodeFrame(op, payload, mask()));
  };
  let lastSent = Date.now();
  const done = new Promise((resolve, reject) => {
    sock.on('close', resolve);
    sock.on('data', (chunk) => {
      if (!upgraded) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = head.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101/.test(text) || !text.includes(acceptKey(key))) {
          reject(new Error(`websocket upgrade refused: ${text.split('\r\n')[0]}`));
          sock.destroy();
          return;
        }
        upgraded = true;
        chunk = head.subarray(end + 4);
      }
      for (const f of parser.push(chunk)) {
        if (f.opcode === OP.PING) send(OP.PONG, f.payload);
        else if (f.opcode === OP.CLOSE) sock.end();
      }
    });
  });
  const t0 = Date.now();
  while (Date.now() - t0 < p.durMs && !sock.destroyed) {
    const gap = Math.min(r.exp(p.cgap), p.durMs - (Date.now() - t0));
    // keepalive pings while idle
    let waited = 0;
    while (waited < gap) {
      const step = Math.min(gap - waited, p.pingMs - (Date.now() - lastSent));
      if (step > 0) {
        await sleep(step);
        waited += step;
      }
      if (Date.now() - lastSent >= p.pingMs) {
        send(OP.PING, Buffer.alloc(0));
        lastSent = Date.now();
      }
    }
    if (Date.now() - t0 >= p.durMs) break;
    const n = r.int(p.cmin, p.cmax);
    send(OP.TEXT, Buffer.from(`{"t":"msg","to":${r.int(1, 500)},"b":"${'c'.repeat(Math.max(0, n - 24))}"}`));
    lastSent = Date.now();
  }
  const code = Buffer.alloc(2);
  code.writeUInt16BE(1000);
  send(OP.CLOSE, code);
  closed = true;
  const timeout = sleep(3000).then(() => sock.destroy());
  await Promise.race([done, timeout]);
}

async function rest(s, r) {
  const p = s.p;
  const path = (q, i) => (q.post ? `/up/v1/events?n=${q.n}&think=${q.think}` : `/obj/v1/poll?n=${q.n}&think=${q.think}&i=${i}`);
  if (s.tool === 'curl') {
    // a polling script: one curl (one connection) per poll
    for (let i = 0; i < p.reqs.length; i++) {
      const q = p.reqs[i];
      if (i > 0) await sleep(p.intervalMs * r.uniform(0.7, 1.3));
      const g = [url(s, path(q, i)), '-H', 'accept: application/json'];
      if (q.post) g.push('-X', 'POST', '-H', 'content-type: application/json', '--data-binary', `{"e":"${'e'.repeat(q.post)}"}`);
      await curl(s, [g]);
    }
    return;
  }
  if (s.tool === 'openssl') {
    await opensslRest(s, r, path);
    return;
  }
  const c = httpClient(s);
  try {
    for (let i = 0; i < p.reqs.length; i++) {
      const q = p.reqs[i];
      if (i > 0) await sleep(p.intervalMs * r.uniform(0.7, 1.3));
      if (q.post) await c.request('POST', path(q, i), q.post, { 'content-type': 'application/json' });
      else await c.request('GET', path(q, i), 0, { accept: 'application/json' });
    }
  } finally {
    await c.close();
  }
}

/** REST polling by hand over `openssl s_client`: HTTP/1.1 keep-alive requests typed into stdin. */
async function opensslRest(s, r, path) {
  const p = s.p;
  const args = ['s_client', '-connect', `${s.ip}:443`, '-servername', s.sni, '-CAfile', run.ca, '-verify_return_error', '-quiet'];
  args.push(s.tls === '1.2' ? '-tls1_2' : '-tls1_3', '-alpn', 'http/1.1');
  const proc = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = 0;
  let err = '';
  proc.stdout.on('data', (c) => (out += c.length));
  proc.stderr.on('data', (c) => (err += c));
  proc.stdin.on('error', () => {});
  const exited = new Promise((resolve) => proc.on('close', resolve));
  for (let i = 0; i < p.reqs.length; i++) {
    const q = p.reqs[i];
    if (i > 0) await sleep(p.intervalMs * r.uniform(0.7, 1.3));
    const last = i === p.reqs.length - 1;
    const conn = last ? 'close' : 'keep-alive';
    let req;
    if (q.post) {
      const body = `{"e":"${'e'.repeat(q.post)}"}`;
      req = `POST ${path(q, i)} HTTP/1.1\r\nHost: ${s.sni}\r\nUser-Agent: tb-openssl/1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: ${conn}\r\n\r\n${body}`;
    } else {
      req = `GET ${path(q, i)} HTTP/1.1\r\nHost: ${s.sni}\r\nUser-Agent: tb-openssl/1\r\nAccept: application/json\r\nConnection: ${conn}\r\n\r\n`;
    }
    proc.stdin.write(req);
  }
  const code = await Promise.race([exited, sleep(15000).then(() => 'timeout')]);
  if (code === 'timeout') proc.kill('SIGTERM');
  proc.stdin.end();
  if (out === 0) throw new Error(`openssl s_client: no response (${err.trim().split('\n').pop()})`);
}

async function download(s) {
  const p = s.p;
  if (s.tool === 'curl') return curl(s, [[url(s, `/obj/pub/archive.tar.zst?n=${p.bytes}&think=${p.think}`)]]);
  const c = httpClient(s);
  try {
    await c.request('GET', `/obj/pub/archive.tar.zst?n=${p.bytes}&think=${p.think}`);
  } finally {
    await c.close();
  }
}

async function upload(s) {
  const p = s.p;
  const path = `/up/backup/part?think=${p.think}&n=${200}`;
  if (s.tool === 'curl') {
    return curl(s, [[url(s, path), '-X', p.method, '-H', 'content-type: application/octet-stream', '--data-binary', '@-']], { stdinBytes: p.bytes });
  }
  const c = httpClient(s);
  try {
    await c.request(p.method, path, p.bytes, { 'content-type': 'application/octet-stream' });
  } finally {
    await c.close();
  }
}

async function web(s, r) {
  const p = s.p;
  const assets = p.assets.map((a) => `${a.path}?n=${a.n}&think=${p.think}`);
  if (s.tool === 'curl') {
    await curl(s, [[url(s, `/obj/index.html?n=${p.index}&think=${p.think}`)]]);
    await sleep(p.waveGapMs);
    return curl(s, assets.map((a) => [url(s, a)]), { parallel: p.concurrency });
  }
  const c = httpClient(s, 6);
  try {
    await c.request('GET', `/obj/index.html?n=${p.index}&think=${p.think}`, 0, { accept: 'text/html' });
    // assets in waves (CSS/JS first, then what they reference), `concurrency` streams at a time
    const perWave = Math.ceil(assets.length / p.waves);
    for (let w = 0; w < p.waves; w++) {
      await sleep(p.waveGapMs * r.uniform(0.5, 1.5));
      const wave = assets.slice(w * perWave, (w + 1) * perWave);
      let next = 0;
      const worker = async () => {
        while (next < wave.length) {
          const a = wave[next++];
          await c.request('GET', a);
        }
      };
      await Promise.all(Array.from({ length: Math.min(p.concurrency, wave.length) }, worker));
    }
  } finally {
    await c.close();
  }
}

async function audio(s) {
  const p = s.p;
  const path = `/stream?chunk=${p.chunk}&interval=${p.intervalMs}&dur=${p.durMs}`;
  if (s.tool === 'curl') return curl(s, [[url(s, path), '-H', 'icy-metadata: 1']]);
  const c = httpClient(s);
  try {
    await c.request('GET', path, 0, { 'icy-metadata': '1' });
  } finally {
    await c.close();
  }
}

async function update(s) {
  const p = s.p;
  const path = `/file/pkg/update-${p.size}.bin?size=${p.size}`;
  if (s.tool === 'curl') {
    const groups = [[url(s, path), '-I']];
    for (const [a, b] of p.ranges) groups.push([url(s, path), '-r', `${a}-${b}`]);
    // one connection (--next), back to back: a downloader resuming in chunks
    return curl(s, groups);
  }
  const c = httpClient(s);
  try {
    await c.request('HEAD', path);
    for (const [a, b] of p.ranges) {
      await sleep(p.gapMs);
      await c.request('GET', path, 0, { range: `bytes=${a}-${b}`, 'if-range': `"${p.size.toString(16)}-tb"` });
    }
  } finally {
    await c.close();
  }
}

const PROFILES = { video, chat, rest, download, upload, web, audio, update };

// ---------------------------------------------------------------------------------------------

async function runSession(s) {
  const r = new Rng(s.seed, 'client');
  await sleep(r.uniform(0, 400));
  const t0 = Date.now();
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('session timeout')), SESSION_TIMEOUT_MS);
  });
  try {
    await Promise.race([PROFILES[s.app](s, r), timeout]);
    return { id: s.id, app: s.app, ok: true, ms: Date.now() - t0 };
  } catch (e) {
    return { id: s.id, app: s.app, ok: false, ms: Date.now() - t0, error: String(e?.message ?? e).slice(0, 200) };
  } finally {
    clearTimeout(timer);
  }
}

const results = [];
let next = 0;
const worker = async () => {
  while (next < run.sessions.length) {
    const s = run.sessions[next++];
    results.push(await runSession(s));
  }
};
await Promise.all(Array.from({ length: Math.min(run.concurrency, run.sessions.length) }, worker));
const failed = results.filter((x) => !x.ok);
process.stdout.write(
  JSON.stringify({ sessions: results.length, ok: results.length - failed.length, failed: failed.length, errors: failed.slice(0, 20) }) + '\n',
);
process.exit(0);
