/**
 * Links at close and at failure: a TCP receiver that never closes its side does not hold the
 * socket (and the process) open; a unix datagram socket's error is named like Node's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LinkError } from '../../src/sinks/delivery.js';
import { errnoText, StreamLink, UnixDgramLink } from '../../src/sinks/links.js';

const turn = () => new Promise((r) => setImmediate(r));

async function server(allowHalfOpen: boolean) {
  const conns: net.Socket[] = [];
  let received = 0;
  const srv = net.createServer({ allowHalfOpen }, (s) => {
    conns.push(s);
    s.on('data', (d: Buffer) => (received += d.length));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    received: () => received,
    conns,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

const frame = (m: Buffer) => Buffer.concat([Buffer.from(`${m.length} `), m]);

test('TCP close: a receiver that keeps its side open gets everything and our FIN, and the sender process still exits by itself', async () => {
  const srv = await server(true);
  let fin = false;
  const { spawn } = await import('node:child_process');
  try {
    const linksUrl = new URL('../../src/sinks/links.js', import.meta.url).href;
    const code =
      `const { StreamLink } = await import(${JSON.stringify(linksUrl)});` +
      `const link = new StreamLink({ host: '127.0.0.1', port: ${srv.port} }, (m) => Buffer.concat([Buffer.from(m.length + ' '), m]));` +
      `await link.connect(); await link.send([Buffer.from('one'), Buffer.from('two')]);` +
      `const t0 = Date.now(); await link.close(1000, 300); console.log(Date.now() - t0);`;
    const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    while (srv.conns.length === 0) await turn();
    srv.conns[0]!.once('end', () => (fin = true));
    const rc = await new Promise<number | string | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running after 10 s');
      }, 10_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.equal(rc, 0, err);
    const ms = Number(out.trim());
    assert.ok(ms >= 250 && ms < 1500, `close took ${ms} ms`);
    assert.equal(srv.received(), '3 one3 two'.length);
    assert.ok(fin, 'the receiver saw our FIN');
  } finally {
    await srv.close();
  }
});

test('TCP close: a receiver that closes its side too ends the wait at once', async () => {
  const srv = await server(false);
  try {
    const link = new StreamLink({ host: '127.0.0.1', port: srv.port }, frame);
    await link.connect();
    await link.send([Buffer.from('x')]);
    const t0 = Date.now();
    await link.close(1000, 5000);
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
    assert.equal(srv.received(), 3);
  } finally {
    await srv.close();
  }
});

test('unix datagram errors are named: ENOENT (no such socket)', async () => {
  assert.equal(errnoText(2), 'ENOENT (no such socket)');
  assert.equal(errnoText(111), 'ECONNREFUSED (no receiver is bound to it)');
  assert.equal(errnoText(13), 'EACCES (permission denied)');
  assert.equal(errnoText(255), 'errno 255');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stnn-links-'));
  const p = path.join(dir, 'nosock');
  const link = new UnixDgramLink(p);
  try {
    await link.connect();
    await assert.rejects(link.send([Buffer.from('a')]), (e: unknown) => {
      assert.ok(e instanceof LinkError);
      assert.equal(e.message, `unix datagram socket ${p}: ENOENT (no such socket)`);
      assert.equal(e.accepted, 0);
      assert.equal(e.refused, false);
      return true;
    });
  } finally {
    await link.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
