#!/usr/bin/env node
// Testbed servers: one TLS listener per application, each on its own address, run inside the
// server namespace. HTTP/2 with HTTP/1.1 fallback (ALPN) for every application except chat,
// which is HTTPS/1.1 with a WebSocket upgrade.
//
//   node server.mjs CONFIG.json
//   CONFIG = { port: 443, apps: [{ app, ip, key, cert, kind: 'h2' | 'ws' }] }
//
// What the paths do (any application answers all of them; the client picks per profile):
//   GET  /obj/...?n=BYTES&think=MS         n bytes after `think` ms (video segments, assets, polls)
//   POST|PUT /up/...?think=MS&n=BYTES      reads the body, answers n bytes of JSON-ish text
//   GET  /stream?chunk=B&interval=MS&dur=MS  writes a chunk every interval until dur (audio)
//   HEAD|GET /file/...?size=BYTES          a file of that size with Range support (updates)
//   GET  /ws?... (chat only)               WebSocket: see chatSocket()
// Prints "ready" on stdout once every listener is up; SIGTERM closes them.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { acceptKey, encodeFrame, FrameParser, OP } from './lib/ws.mjs';
import { Rng } from './lib/rng.mjs';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const PORT = cfg.port ?? 443;
const BLOCK = randomBytes(1 << 20);
const MAX_BODY_OUT = 256 << 20;

const TLS_BASE = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
};

function intParam(q, name, dflt, max = MAX_BODY_OUT) {
  const v = q.get(name);
  if (v === null) return dflt;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, max) : dflt;
}

/** Writes n bytes to a response, respecting back-pressure; resolves when all is queued. */
async function writeBytes(res, n) {
  let left = n;
  while (left > 0) {
    if (res.destroyed || res.writableEnded) return;
    const k = Math.min(left, 64 << 10);
    const off = (n - left) % (BLOCK.length - k + 1);
    left -= k;
    if (!res.write(BLOCK.subarray(off, off + k))) {
      await new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function contentType(path) {
  if (path.endsWith('.m4s') || path.endsWith('.mp4')) return 'video/mp4';
  if (path.endsWith('.js')) return 'application/javascript';
  if (path.endsWith('.css')) return 'text/css';
  if (path.endsWith('.png') || path.endsWith('.jpg')) return 'image/png';
  if (path.endsWith('.m3u8') || path.endsWith('.mpd')) return 'application/vnd.apple.mpegurl';
  if (path.endsWith('.html') || path === '/obj/') return 'text/html';
  return 'application/octet-stream';
}

async function handle(req, res) {
  let url;
  try {
    url = new URL(req.url ?? '/', 'https://x');
  } catch {
    res.writeHead(400);
    res.end();
    return;
  }
  const q = url.searchParams;
  const path = url.pathname;
  const think = intParam(q, 'think', 0, 10000);
  try {
    if (path.startsWith('/up/')) {
      let got = 0;
      req.on('data', (c) => (got += c.length));
      await new Promise((resolve, reject) => {
        req.on('end', resolve);
        req.on('error', reject);
      });
      if (think) await sleep(think);
      const n = intParam(q, 'n', 64, 1 << 20);
      const body = Buffer.from(`{"ok":true,"received":${got},"pad":"${'x'.repeat(Math.max(0, n - 40))}"}`);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
      return;
    }
    if (path === '/stream') {
      const chunk = intParam(q, 'chunk', 4096, 1 << 20);
      const interval = Math.max(10, intParam(q, 'interval', 250, 10000));
      const dur = intParam(q, 'dur', 5000, 120000);
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'cache-control': 'no-cache' });
      const t0 = Date.now();
      let closed = false;
      res.on('close', () => (closed = true));
      let next = t0;
      while (!closed && Date.now() - t0 < dur) {
        await writeBytes(res, chunk);
        next += interval;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
      }
      if (!closed) res.end();
      return;
    }
    if (path.startsWith('/file/')) {
      const size = intParam(q, 'size', 1 << 20);
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
      let start = 0;
      let end = size - 1;
      let status = 200;
      if (range) {
        start = Number(range[1]);
        end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
        if (start > end || start >= size) {
          res.writeHead(416, { 'content-range': `bytes */${size}` });
          res.end();
          return;
        }
        status = 206;
      }
      const headers = {
        'content-type': 'application/octet-stream',
        'accept-ranges': 'bytes',
        'content-length': end - start + 1,
        etag: `"${size.toString(16)}-tb"`,
      };
      if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
      if (think) await sleep(think);
      res.writeHead(status, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      await writeBytes(res, end - start + 1);
      res.end();
      return;
    }
    // default: GET an object of n bytes
    const n = intParam(q, 'n', 1024);
    if (think) await sleep(think);
    res.writeHead(200, { 'content-type': contentType(path), 'content-length': n, 'cache-control': 'max-age=60' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await writeBytes(res, n);
    res.end();
  } catch {
    if (!res.headersSent) {
      try {
        res.writeHead(500);
      } catch {
        /* already gone */
      }
    }
    res.destroy?.();
  }
}

/**
 * Chat over WebSocket: the server sends its own messages at exponential gaps (mean sgap ms,
 * sizes in [smin, smax]), acknowledges a share of the client's messages with a small receipt,
 * answers pings, and echoes a close.
 */
function chatSocket(req, socket, head) {
  const url = new URL(req.url ?? '/', 'https://x');
  const q = url.searchParams;
  const key = req.headers['sec-websocket-key'];
  if (url.pathname !== '/ws' || typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  const rng = new Rng(intParam(q, 'seed', 1, 2 ** 31), 'chat-server');
  const sgap = Math.max(20, intParam(q, 'sgap', 1000, 60000));
  const smin = intParam(q, 'smin', 20, 65535);
  const smax = Math.max(smin, intParam(q, 'smax', 200, 65535));
  const ackp = intParam(q, 'ackp', 50, 100) / 100;
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
  );
  const parser = new FrameParser(1 << 20);
  let open = true;
  let timer = null;
  const send = (op, payload) => {
    if (open && !socket.destroyed) socket.write(encodeFrame(op, payload, null));
  };
  const schedule = () => {
    timer = setTimeout(() => {
      const n = rng.int(smin, smax);
      send(OP.TEXT, Buffer.from(`{"t":"msg","b":"${'m'.repeat(Math.max(0, n - 18))}"}`));
      if (open) schedule();
    }, rng.exp(sgap));
  };
  schedule();
  const onData = (chunk) => {
    let frames;
    try {
      frames = parser.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const f of frames) {
      if (f.opcode === OP.PING) send(OP.PONG, f.payload);
      else if (f.opcode === OP.CLOSE) {
        send(OP.CLOSE, f.payload.subarray(0, 2));
        open = false;
        clearTimeout(timer);
        socket.end();
      } else if ((f.opcode === OP.TEXT || f.opcode === OP.BINARY) && rng.chance(ackp)) {
        const id = rng.int(1000, 999999);
        setTimeout(() => send(OP.TEXT, Buffer.from(`{"t":"ack","id":${id}}`)), rng.uniform(2, 40));
      }
    }
  };
  if (head && head.length) onData(head);
  socket.on('data', onData);
  socket.on('error', () => {});
  socket.on('close', () => {
    open = false;
    clearTimeout(timer);
  });
}

const servers = [];
for (const a of cfg.apps) {
  const tlsOpts = { ...TLS_BASE, key: readFileSync(a.key), cert: readFileSync(a.cert) };
  let srv;
  if (a.kind === 'ws') {
    srv = https.createServer({ ...tlsOpts, ALPNProtocols: ['http/1.1'] }, (req, res) => void handle(req, res));
    srv.on('upgrade', chatSocket);
    srv.keepAliveTimeout = 15000;
  } else {
    srv = http2.createSecureServer({ ...tlsOpts, allowHTTP1: true }, (req, res) => void handle(req, res));
    srv.on('sessionError', () => {});
  }
  srv.on('tlsClientError', () => {});
  srv.on('clientError', (_e, s) => s.destroy());
  servers.push(
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(PORT, a.ip, () => resolve(srv));
    }),
  );
}
const live = await Promise.all(servers);
process.stdout.write('ready\n');
const stop = () => {
  for (const s of live) s.close();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
