/**
 * Links: transports that only move bytes (connect / send in order / close) for the delivery core.
 *
 * - StreamLink: TCP or a unix stream socket, each message framed by `frame` (RFC 6587 octet
 *   counting for syslog). A message counts as accepted when the kernel took it (write callback).
 *   Plain TCP has no application acknowledgement: when the receiver resets the connection with
 *   unread data, the messages the kernel had already taken are lost and cannot be known (RELP
 *   exists for this). Measured against rsyslogd stopped by SIGTERM while a client wrote every 2 ms:
 *   1-2 messages lost per stop. Messages written after the link is known down are kept.
 * - UdpLink: one datagram per message; loss is invisible (ICMP port-unreachable errors mark the
 *   link down for the following messages).
 * - UnixDgramLink: one datagram per message to a unix datagram socket (/dev/log style). Node has
 *   no AF_UNIX datagram sockets, so a small python3 relay process does sendto() and answers one
 *   status byte per message: the result is exact (sendto either queued the datagram at the
 *   receiver or failed).
 */
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { getSystemErrorMap } from 'node:util';
import { LinkError, type Link } from './delivery.js';

export interface StreamTarget {
  host?: string;
  port?: number;
  path?: string;
  connectTimeoutMs?: number;
}

/**
 * Sockets this module destroyed. Node reports a write still pending at destroy() as done
 * (its callback gets no error), although the kernel may not have taken it: such writes are
 * counted as failed, so that a record is never counted as sent when it may not have been
 * (it stays in the spool, or is counted as dropped).
 */
const cut = new WeakSet<net.Socket>();
function cutOff(sock: net.Socket): void {
  cut.add(sock);
  sock.destroy();
}

export class StreamLink implements Link {
  onDown?: (err: Error) => void;
  private sock: net.Socket | null = null;
  /** Messages the kernel has taken (write callbacks without error), across connections. */
  private taken = 0;

  constructor(
    private readonly target: StreamTarget,
    private readonly frame: (msg: Buffer) => Buffer,
  ) {}

  private describe() {
    return this.target.path ?? `${this.target.host ?? '127.0.0.1'}:${this.target.port}`;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const opts: net.NetConnectOpts = this.target.path
        ? { path: this.target.path }
        : { host: this.target.host ?? '127.0.0.1', port: this.target.port ?? 514 };
      const sock = net.connect(opts);
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`connect to ${this.describe()} timed out`)), this.target.connectTimeoutMs ?? 5000);
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      };
      sock.once('error', fail);
      sock.once('connect', () => {
        settled = true;
        clearTimeout(timer);
        sock.off('error', fail);
        sock.setNoDelay(true);
        sock.setKeepAlive(true, 30_000);
        const lost = (err: Error) => {
          if (this.sock !== sock) return;
          this.sock = null;
          cutOff(sock);
          this.onDown?.(err);
        };
        sock.on('error', (e) => lost(e));
        // The receiver closed (FIN): anything written from now on would be lost.
        sock.on('end', () => lost(new Error(`${this.describe()} closed the connection`)));
        sock.on('close', () => lost(new Error(`connection to ${this.describe()} closed`)));
        // Receivers do not talk back; drain anything they send.
        sock.on('data', () => {});
        this.sock = sock;
        resolve();
      });
    });
  }

  send(msgs: Buffer[]): Promise<void> {
    const sock = this.sock;
    if (!sock || sock.destroyed || !sock.writable) return Promise.reject(new LinkError(`not connected to ${this.describe()}`, 0));
    return new Promise((resolve, reject) => {
      let accepted = 0;
      let done = false;
      const finish = (err?: Error | null) => {
        if (done) return;
        if (!err && cut.has(sock)) err = new Error('connection closed before the kernel took the message');
        if (err) {
          done = true;
          reject(new LinkError(`write to ${this.describe()}: ${err.message}`, accepted));
          return;
        }
        accepted++;
        this.taken++;
        if (accepted === msgs.length) {
          done = true;
          resolve();
        }
      };
      sock.cork();
      for (const m of msgs) sock.write(this.frame(m), finish);
      sock.uncork();
    });
  }

  progress(): number {
    return this.taken;
  }

  /**
   * Flushes what is written (at most `flushMs`), sends our FIN, then waits at most `peerMs` for
   * the receiver to close its side before destroying the socket. Receivers do not talk back,
   * so nothing is lost by not waiting longer; without the bound, a receiver that keeps its
   * side open would keep the socket, and so the process, alive.
   */
  close(flushMs = 1000, peerMs = 1000): Promise<void> {
    const sock = this.sock;
    this.sock = null;
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      let closed = false;
      const done = () => {
        if (closed) return;
        closed = true;
        if (timer) clearTimeout(timer);
        timer = null;
        cutOff(sock);
        resolve();
      };
      if (sock.destroyed) return done();
      sock.once('close', done);
      timer = setTimeout(done, flushMs);
      sock.end(() => {
        // Flushed and FIN sent: now a bounded wait for the peer's FIN ('close' follows it).
        if (closed) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(done, peerMs);
      });
    });
  }
}

export class UdpLink implements Link {
  onDown?: (err: Error) => void;
  private sock: dgram.Socket | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
      sock.once('error', reject);
      sock.connect(this.port, this.host, () => {
        sock.off('error', reject);
        sock.on('error', (e) => {
          if (this.sock !== sock) return;
          this.sock = null;
          sock.close();
          this.onDown?.(e);
        });
        this.sock = sock;
        resolve();
      });
    });
  }

  /** One datagram after the other, so that `accepted` is exact when one fails. */
  send(msgs: Buffer[]): Promise<void> {
    const sock = this.sock;
    if (!sock) return Promise.reject(new LinkError(`udp ${this.host}:${this.port} not connected`, 0));
    return new Promise((resolve, reject) => {
      let i = 0;
      const next = () => {
        if (i === msgs.length) return resolve();
        sock.send(msgs[i]!, (err) => {
          if (err) {
            const refused = (err as NodeJS.ErrnoException).code === 'EMSGSIZE';
            reject(new LinkError(`udp ${this.host}:${this.port}: ${err.message}`, i, refused));
            return;
          }
          i++;
          next();
        });
      };
      next();
    });
  }

  close(): Promise<void> {
    const sock = this.sock;
    this.sock = null;
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => sock.close(() => resolve()));
  }
}

/**
 * Reads frames `u32 BE length · bytes` from stdin, sendto()s each to the socket path given as
 * argv[1], and answers one byte per frame: 0 = sent, else the errno (capped at 255).
 */
const RELAY = `
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
inp = sys.stdin.buffer
out = sys.stdout.buffer
def read(n):
    b = b''
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
out.write(b'R'); out.flush()
while True:
    n = int.from_bytes(read(4), 'big')
    m = read(n)
    try:
        s.sendto(m, path); r = 0
    except OSError as e:
        r = min(e.errno or 255, 255)
    out.write(bytes([r])); out.flush()
`;

/** What sendto() on a unix datagram socket said, named like Node's errors: 'ENOENT (no such socket)'. */
export function errnoText(errno: number): string {
  const special: Record<number, string> = { 2: 'no such socket', 111: 'no receiver is bound to it' };
  const e = errno < 255 ? getSystemErrorMap().get(-errno) : undefined; // libuv codes are -errno on Linux
  if (!e) return `errno ${errno}`;
  return `${e[0]} (${special[errno] ?? e[1]})`;
}

export class UnixDgramLink implements Link {
  onDown?: (err: Error) => void;
  private proc: ChildProcess | null = null;
  /** Datagrams the relay has sent (status 0). */
  private taken = 0;
  /** Callbacks waiting for a status byte, in order. */
  private waiting: ((status: number) => void)[] = [];

  constructor(
    private readonly path: string,
    private readonly python = 'python3',
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const proc = spawn(this.python, ['-c', RELAY, this.path], { stdio: ['pipe', 'pipe', 'inherit'] });
      let ready = false;
      proc.once('error', (e) => {
        if (!ready) reject(new Error(`unix datagram socket ${this.path}: cannot start the ${this.python} relay (Node has no AF_UNIX datagram sockets): ${e.message}`));
      });
      proc.stdin!.on('error', () => {});
      proc.stdout!.on('data', (chunk: Buffer) => {
        let i = 0;
        if (!ready) {
          ready = true;
          this.proc = proc;
          i = 1;
          resolve();
        }
        for (; i < chunk.length; i++) this.waiting.shift()?.(chunk[i]!);
      });
      proc.once('exit', (code) => {
        const w = this.waiting;
        this.waiting = [];
        for (const f of w) f(-1);
        if (!ready) reject(new Error(`unix datagram socket ${this.path}: relay exited (${code})`));
        else if (this.proc === proc) {
          this.proc = null;
          this.onDown?.(new Error(`unix datagram relay for ${this.path} exited (${code})`));
        }
      });
    });
  }

  /** One datagram after the other (each waits for the relay's answer): `accepted` is exact. */
  send(msgs: Buffer[]): Promise<void> {
    const proc = this.proc;
    if (!proc) return Promise.reject(new LinkError(`unix datagram socket ${this.path}: not connected`, 0));
    return new Promise((resolve, reject) => {
      let i = 0;
      const next = () => {
        if (i === msgs.length) return resolve();
        const m = msgs[i]!;
        this.waiting.push((status) => {
          if (status !== 0) {
            // 90 = EMSGSIZE on Linux: this datagram can never be sent; anything else is the socket.
            reject(new LinkError(`unix datagram socket ${this.path}: ${status < 0 ? 'relay exited' : errnoText(status)}`, i, status === 90));
            return;
          }
          i++;
          this.taken++;
          next();
        });
        const len = Buffer.allocUnsafe(4);
        len.writeUInt32BE(m.length, 0);
        proc.stdin!.write(Buffer.concat([len, m]));
      };
      next();
    });
  }

  progress(): number {
    return this.taken;
  }

  close(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        proc.kill();
        resolve();
      }, 1000);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.stdin!.end();
    });
  }
}
