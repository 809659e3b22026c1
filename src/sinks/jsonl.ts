/**
 * JSON lines sink: one record per line, to a file (opened for append, written once per event
 * loop turn or every 64 KiB, fsync'd on flush) or to stdout ('-').
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StnnError } from '../util/errors.js';
import { makeDirs, mkdirFailure } from '../util/mkdirs.js';
import { claimStdoutErrors, STDOUT_NAME, writeFailedMessage } from '../util/write-error.js';
import type { SinkStats } from './delivery.js';
import type { JsonlConfig, Sink } from './sink.js';

const CHUNK = 64 * 1024;

export class JsonlSink implements Sink {
  readonly name: string;
  private fd = -1;
  private readonly stdout: boolean;
  private buf: string[] = [];
  private bufBytes = 0;
  private bufLines = 0;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  /** stdout chunks whose write callback has not run yet, and who waits for them. */
  private inflight = 0;
  private idle: (() => void) | null = null;
  private readonly st: SinkStats = { sent: 0, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 };
  /** The first write failure is logged (one line naming the file); later ones are only counted. */
  private failureLogged = false;

  constructor(private readonly cfg: JsonlConfig) {
    this.name = cfg.name ?? 'jsonl';
    this.stdout = cfg.path === '-';
    if (this.stdout) {
      // A write error on stdout (a full disk) must not crash the sensor: the write callbacks
      // count it, and the run reports it (exit 1). (bin/stnn.js still ends the process quietly
      // with status 141 on a closed pipe, `stnn sensor … | head`.)
      process.stdout.on('error', () => {});
      claimStdoutErrors(() => {});
    } else {
      if (typeof cfg.path !== 'string' || cfg.path === '') throw new StnnError('STNN_CONFIG', `sink ${this.name}: path must be a file path or '-'`);
      try {
        // Its directory is made as `mkdir -p` would (a first run by hand has no /var/log/stnn).
        makeDirs(path.dirname(cfg.path));
      } catch (e) {
        throw new StnnError('STNN_CONFIG', `sink ${this.name}: cannot open ${cfg.path}: ${mkdirFailure(e)}`);
      }
      try {
        this.fd = fs.openSync(cfg.path, 'a');
      } catch (e) {
        throw new StnnError('STNN_CONFIG', `sink ${this.name}: cannot open ${cfg.path}: ${(e as Error).message}`);
      }
    }
  }

  write(rec: Record<string, unknown>): void {
    if (this.closed) {
      this.st.dropped++;
      return;
    }
    let line: string;
    try {
      line = JSON.stringify(rec) + '\n';
    } catch {
      this.st.errors++; // not serialisable (cycle, BigInt): never a crash
      this.st.dropped++;
      return;
    }
    this.buf.push(line);
    this.bufBytes += line.length;
    this.bufLines++;
    if (this.bufBytes >= CHUNK) this.drain();
    else if (!this.immediate) this.immediate = setImmediate(() => this.drain());
  }

  /** Writes the buffered lines out (synchronously for a file). */
  private drain(): void {
    if (this.immediate) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    if (this.bufLines === 0) return;
    const text = this.buf.join('');
    const n = this.bufLines;
    this.buf = [];
    this.bufBytes = 0;
    this.bufLines = 0;
    if (this.stdout) {
      this.inflight++;
      process.stdout.write(text, (err) => {
        this.inflight--;
        if (err) {
          this.writeFailed(err);
          this.st.dropped += n;
        } else this.st.sent += n;
        if (this.inflight === 0) this.idle?.();
      });
      return;
    }
    try {
      if (this.fd < 0) throw new Error('file not open');
      const b = Buffer.from(text, 'utf8');
      let off = 0;
      while (off < b.length) off += fs.writeSync(this.fd, b, off, b.length - off);
      this.st.sent += n;
    } catch (e) {
      this.writeFailed(e);
      this.st.dropped += n;
    }
  }

  private writeFailed(err: unknown): void {
    this.st.errors++;
    if (this.failureLogged) return;
    this.failureLogged = true;
    this.cfg.log?.(`${this.name}: ${writeFailedMessage(this.stdout ? STDOUT_NAME : this.cfg.path, err)}`);
  }

  async flush(timeoutMs = 5000): Promise<void> {
    this.drain();
    if (this.stdout) {
      // Every chunk handed to stdout has its outcome (written or failed) before flush returns.
      if (this.inflight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.idle = null;
            resolve();
          }, Math.max(0, timeoutMs));
          this.idle = () => {
            clearTimeout(t);
            this.idle = null;
            resolve();
          };
        });
      }
      return;
    }
    if (this.fd >= 0) {
      try {
        fs.fsyncSync(this.fd);
      } catch {
        this.st.errors++;
      }
    }
  }

  /** Closes and reopens the file (after log rotation moved it; e.g. on SIGHUP). */
  async reopen(): Promise<void> {
    if (this.stdout || this.closed) return;
    await this.flush();
    fs.closeSync(this.fd);
    this.fd = -1;
    try {
      this.fd = fs.openSync(this.cfg.path, 'a');
    } catch (e) {
      this.st.errors++;
      throw new StnnError('STNN_RUNTIME', `sink ${this.name}: cannot reopen ${this.cfg.path}: ${(e as Error).message}`);
    }
  }

  /** Flushes (stdout: waits for its writes until `deadline`, default 5 s from now) and closes. */
  async close(deadline?: number): Promise<void> {
    if (this.closed) return;
    await this.flush(deadline === undefined ? 5000 : deadline - Date.now());
    this.closed = true;
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  stats(): SinkStats {
    return { ...this.st };
  }

  get path(): string {
    return this.cfg.path;
  }
}
