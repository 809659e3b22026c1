/**
 * A real rsyslogd for tests (Debian package rsyslog): listens on 127.0.0.1 TCP (imtcp, RFC 6587
 * framing) and UDP (imudp) ports chosen free at start, on a unix datagram socket (imuxsock) and a
 * unix stream socket (imptcp) in a temp dir, and writes every message it receives in
 * RSYSLOG_SyslogProtocol23Format (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`), one per
 * line, to a file. stop()/start() stop and restart the same daemon on the same ports and sockets
 * (outage tests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import * as os from 'node:os';
import * as path from 'node:path';

const CANDIDATES = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd', '/usr/local/sbin/rsyslogd'];

/** Path of rsyslogd, or null when it is not installed. */
export function rsyslogdPath(): string | null {
  for (const p of CANDIDATES) if (fs.existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v rsyslogd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** Why rsyslog tests are skipped here, or false when they can run. */
export function rsyslogSkipReason(): string | false {
  return rsyslogdPath() ? false : 'rsyslogd is not installed (Debian: apt-get install -y rsyslog); CI installs it';
}

async function freeTcpPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Rsyslog {
  readonly dir: string;
  readonly conf: string;
  readonly outFile: string;
  readonly dgramPath: string;
  readonly streamPath: string;
  private proc: ChildProcess | null = null;
  private stderr = '';

  private constructor(
    readonly bin: string,
    readonly tcpPort: number,
    readonly udpPort: number,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stnn-rsyslog-'));
    this.conf = path.join(this.dir, 'rsyslog.conf');
    this.outFile = path.join(this.dir, 'received.log');
    this.dgramPath = path.join(this.dir, 'dgram.sock');
    this.streamPath = path.join(this.dir, 'stream.sock');
    fs.writeFileSync(
      this.conf,
      [
        `global(workDirectory="${this.dir}" maxMessageSize="64k")`,
        'module(load="imtcp")',
        'module(load="imptcp")',
        'module(load="imudp")',
        'module(load="imuxsock" SysSock.Use="off")',
        'ruleset(name="received") {',
        `  action(type="omfile" file="${this.outFile}" template="RSYSLOG_SyslogProtocol23Format" flushOnTXEnd="on" asyncWriting="off")`,
        '}',
        `input(type="imtcp" address="127.0.0.1" port="${tcpPort}" ruleset="received")`,
        `input(type="imudp" address="127.0.0.1" port="${udpPort}" ruleset="received")`,
        `input(type="imuxsock" socket="${this.dgramPath}" ruleset="received" useSpecialParser="off" parseHostname="on" ignoreTimestamp="off" rateLimit.interval="0")`,
        `input(type="imptcp" path="${this.streamPath}" unlink="on" ruleset="received")`,
        '',
      ].join('\n'),
    );
  }

  static async start(): Promise<Rsyslog> {
    const bin = rsyslogdPath();
    if (!bin) throw new Error('rsyslogd is not installed');
    const r = new Rsyslog(bin, await freeTcpPort(), await freeUdpPort());
    await r.start();
    return r;
  }

  /** Starts the daemon (again) and waits until its TCP port and both unix sockets answer. */
  async start(): Promise<void> {
    if (this.proc) return;
    const proc = spawn(this.bin, ['-n', '-f', this.conf, '-i', path.join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode}): ${this.stderr}`);
      if (fs.existsSync(this.dgramPath) && fs.existsSync(this.streamPath) && (await this.tcpAnswers())) return;
      if (Date.now() > deadline) throw new Error(`rsyslogd did not come up: ${this.stderr}`);
      await sleep(20);
    }
  }

  private tcpAnswers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(this.tcpPort, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }

  /** Stops the daemon (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  }

  /** Lines received so far (without the trailing newline). */
  lines(): string[] {
    if (!fs.existsSync(this.outFile)) return [];
    const text = fs.readFileSync(this.outFile, 'utf8');
    return text.split('\n').filter((l) => l.length > 0);
  }

  /** Waits until at least `n` lines arrived (or the timeout passes), then returns all lines. */
  async waitFor(n: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let lines = this.lines();
    while (lines.length < n && Date.now() < deadline) {
      await sleep(20);
      lines = this.lines();
    }
    return lines;
  }

  /** Stops the daemon and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
