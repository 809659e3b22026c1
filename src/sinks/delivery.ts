/**
 * The delivery core shared by the network sinks (syslog, Kafka): a backlog (the disk spool, or a
 * bounded memory queue when no spool is configured), one link that moves bytes, and the loop
 * between them: send the head of the backlog in batches, remove what the link accepted, and
 * when the link fails keep everything and reconnect with exponential backoff.
 *
 * Every record goes through the backlog, so delivery order = write order across outages. A
 * record past the backlog's bound is dropped and counted; the sensor never waits for a sink.
 */
import type { Backlog } from './spool.js';

export interface SinkStats {
  /** Records the transport accepted (kernel for TCP/UDP, datagram queued for unix, broker ack for Kafka). */
  sent: number;
  /** Failures: connect errors, link losses, refused records, unserialisable records. */
  errors: number;
  /** Records written while the peer was failing, so held in the backlog for later. */
  spooled: number;
  /** Records lost on purpose: backlog full, refused by the peer, unserialisable, memory backlog at close. */
  dropped: number;
  /** Bytes in the backlog now (on disk for a spool): the spool depth. */
  spoolBytes: number;
}

/**
 * Thrown (or rejected) by Link.send when the link failed after accepting `accepted` messages.
 * `refused`: the peer refused the message at index `accepted` itself (too large, invalid), not the
 * connection: resending it would fail forever, so the core drops it (counted) and goes on.
 */
export class LinkError extends Error {
  constructor(
    message: string,
    readonly accepted: number,
    readonly refused = false,
  ) {
    super(message);
  }
}

export interface Link {
  /** Opens the connection; rejects when the peer cannot be reached. */
  connect(): Promise<void>;
  /**
   * Hands the messages to the transport in order; resolves when all were accepted, rejects with
   * a LinkError naming how many were accepted before it failed.
   */
  send(msgs: Buffer[]): Promise<void>;
  /**
   * Releases the connection (no reconnect follows). A stream link first hands over what it
   * still buffers (at most `flushMs`), then waits at most `peerMs` for the peer to close.
   */
  close(flushMs?: number, peerMs?: number): Promise<void>;
  /**
   * Messages the transport has taken so far, counted as they go (also inside a batch that
   * send() has not yet resolved): how the core tells a slow peer from one that takes nothing.
   */
  progress?(): number;
  /**
   * Called instead of close() when the link failed and will be reconnected (default: close()).
   * Kafka keeps its producer here, so that a re-sent batch carries the same sequence numbers.
   */
  reset?(): Promise<void>;
  /** Set by the core: the link calls it when it learns by itself that the peer is gone. */
  onDown?: (err: Error) => void;
}

export interface DeliveryOptions {
  /** Records per send (default 256). */
  batchSize?: number;
  /** Bytes per send, at least one record (default 1 MiB). */
  batchBytes?: number;
  /** Wait for more records before sending a partial batch, ms (default 0: next tick). */
  lingerMs?: number;
  /** Reconnect backoff: first and largest delay, ms (default 100 and 30000). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Called on link failures and reconnects (for logs); default silent. */
  log?: (msg: string) => void;
}

/**
 * How long close() goes on delivering: one budget for the whole shutdown of the output, the
 * core's backlog and the link's own buffers alike (not one wait after the other).
 */
export interface CloseLimits {
  /** Stop delivering at this time at the latest (Date.now() ms; default 5 s from now). */
  deadline?: number;
  /**
   * Stop delivering once the transport has taken nothing for this long, ms (default 1000): a
   * receiver that accepts but does not read cannot hold the sensor, one that reads slowly
   * still gets everything until the deadline.
   */
  idleMs?: number;
  /** After our FIN, wait at most this long for the peer's (stream links; default 1000). */
  peerMs?: number;
}

type State = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

export class Delivery {
  readonly stats: SinkStats = { sent: 0, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0 };
  private state: State = 'idle';
  /** Set when the link failed, cleared when it connects again. */
  private degraded = false;
  private sending = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private backoff: number;
  private waiters: (() => void)[] = [];
  /** After a refused batch: send this many records one at a time to find the refused one. */
  private singles = 0;
  /**
   * After a failed send: the next send is exactly the records that were not accepted, no more,
   * so that a peer that deduplicates by batch (Kafka's idempotent producer) recognises it.
   */
  private resend = 0;
  private readonly batchSize: number;
  private readonly batchBytes: number;
  private readonly lingerMs: number;
  private readonly backoffMin: number;
  private readonly backoffMax: number;
  private readonly log: (msg: string) => void;

  constructor(
    readonly name: string,
    private readonly link: Link,
    private readonly backlog: Backlog,
    opts: DeliveryOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 256;
    this.batchBytes = opts.batchBytes ?? 1024 * 1024;
    this.lingerMs = opts.lingerMs ?? 0;
    this.backoffMin = opts.backoffMinMs ?? 100;
    this.backoffMax = opts.backoffMaxMs ?? 30_000;
    this.backoff = this.backoffMin;
    this.log = opts.log ?? (() => {});
    link.onDown = (err) => this.down(err);
    this.stats.spoolBytes = backlog.bytes;
    // Records left in the spool by an earlier run go out without waiting for a new one.
    if (backlog.pending > 0) setImmediate(() => this.state === 'idle' && this.connect());
  }

  /** True while the link is connected. */
  get up(): boolean {
    return this.state === 'up';
  }

  get pending(): number {
    return this.backlog.pending;
  }

  /** Queues one serialised record. Never blocks, never throws for a down peer. */
  write(payload: Buffer): void {
    if (this.state === 'closed') {
      this.stats.dropped++;
      return;
    }
    if (!this.backlog.append(payload)) {
      this.stats.dropped++;
      return;
    }
    // Held because the peer failed (not merely because the first connect is under way).
    if (this.degraded && this.state !== 'up') this.stats.spooled++;
    this.stats.spoolBytes = this.backlog.bytes;
    if (this.state === 'idle') this.connect();
    else this.schedule();
  }

  private schedule() {
    if (this.state !== 'up' || this.sending || this.immediate) return;
    if (this.backlog.pending >= this.batchSize || this.lingerMs === 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.immediate = setImmediate(() => {
        this.immediate = null;
        void this.pump();
      });
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.pump();
      }, this.lingerMs);
    }
  }

  private connect() {
    if (this.state === 'closed' || this.state === 'connecting' || this.state === 'up') return;
    this.state = 'connecting';
    this.link.connect().then(
      () => {
        if (this.state !== 'connecting') {
          // Closed (or failed) while connecting: do not leave the new connection open.
          void this.link.close().catch(() => {});
          return;
        }
        this.state = 'up';
        this.degraded = false;
        this.backoff = this.backoffMin;
        if (this.backlog.pending > 0) this.log(`${this.name}: connected, ${this.backlog.pending} records to replay`);
        void this.pump();
      },
      (err: Error) => {
        if (this.state !== 'connecting') return;
        this.state = 'down';
        this.degraded = true;
        this.stats.errors++;
        this.log(`${this.name}: connect failed: ${err.message}`);
        this.retryLater();
        this.wake();
      },
    );
  }

  private down(err: Error) {
    if (this.state !== 'up' && this.state !== 'connecting') return;
    this.state = 'down';
    this.degraded = true;
    this.stats.errors++;
    this.log(`${this.name}: link down: ${err.message}`);
    void (this.link.reset ? this.link.reset() : this.link.close()).catch(() => {});
    this.retryLater();
    this.wake();
  }

  private retryLater() {
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(this.backoffMax, this.backoff) * (0.8 + 0.4 * Math.random());
    this.backoff = Math.min(this.backoffMax, this.backoff * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state === 'down') {
        this.state = 'idle';
        this.connect();
      }
    }, delay);
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.state === 'up' && this.backlog.pending > 0) {
        const max = this.singles > 0 ? 1 : this.resend > 0 ? this.resend : this.batchSize;
        const batch = this.backlog.peek(max, this.resend > 0 ? Infinity : this.batchBytes);
        try {
          await this.link.send(batch);
          this.backlog.commit(batch.length);
          this.stats.sent += batch.length;
          this.resend = 0;
          if (this.singles > 0) this.singles--;
        } catch (e) {
          const accepted = e instanceof LinkError ? Math.max(0, Math.min(e.accepted, batch.length)) : 0;
          if (e instanceof LinkError && e.refused) {
            this.stats.errors++;
            if (batch.length - accepted > 1) {
              // Which record was refused is unknown: go one by one through this batch.
              this.backlog.commit(accepted);
              this.stats.sent += accepted;
              this.singles = batch.length - accepted;
            } else {
              this.log(`${this.name}: record refused, dropped: ${e.message}`);
              this.backlog.commit(accepted + 1);
              this.stats.sent += accepted;
              this.stats.dropped++;
              if (this.singles > 0) this.singles--;
            }
            this.stats.spoolBytes = this.backlog.bytes;
            continue;
          }
          this.backlog.commit(accepted);
          this.stats.sent += accepted;
          this.resend = batch.length - accepted;
          this.stats.spoolBytes = this.backlog.bytes;
          this.down(e as Error);
          break;
        }
        this.stats.spoolBytes = this.backlog.bytes;
        // Below a full batch, wait for the linger time (if any) before sending the rest.
        if (this.lingerMs > 0 && this.backlog.pending < this.batchSize) break;
      }
    } finally {
      this.sending = false;
      this.stats.spoolBytes = this.backlog.bytes;
      this.wake();
      if (this.state === 'up' && this.backlog.pending > 0) this.schedule();
    }
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Resolves when every record written so far was accepted by the link, or, when the link is
   * down or `timeoutMs` passes, once the backlog is synced to disk.
   */
  async flush(timeoutMs = 5000): Promise<void> {
    await this.drain(Date.now() + timeoutMs, Infinity);
    this.backlog.sync();
  }

  /** Messages the link has taken so far (within a batch too, when the link counts them). */
  private taken(): number {
    return this.link.progress ? this.link.progress() : this.stats.sent;
  }

  /**
   * Sends the backlog until it is empty, the link is down, `deadline` passes or the link has
   * taken nothing for `idleMs`. True when the backlog was emptied.
   */
  private async drain(deadline: number, idleMs: number): Promise<boolean> {
    if (this.state === 'idle' && this.backlog.pending > 0) this.connect();
    let last = this.taken();
    let lastAt = Date.now();
    for (;;) {
      const now = Date.now();
      if (this.backlog.pending === 0) return true;
      if (!(this.state === 'up' || this.state === 'connecting')) return false;
      const t = this.taken();
      if (t !== last) {
        last = t;
        lastAt = now;
      }
      const end = Math.min(deadline, lastAt + idleMs);
      if (now >= end) return false;
      if (this.state === 'up' && !this.sending) {
        if (this.timer) {
          clearTimeout(this.timer);
          this.timer = null;
        }
        void this.pump();
      }
      // Woken when a send settles; otherwise look at the link's progress every 100 ms.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, Math.min(end - now, 100)));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Delivers what it can within `limits` (see CloseLimits), then closes the link. What is left
   * stays in a spool for the next start; a memory backlog's remainder is counted as dropped.
   */
  async close(limits: CloseLimits = {}): Promise<void> {
    if (this.state === 'closed') return;
    const deadline = limits.deadline ?? Date.now() + 5000;
    const idleMs = limits.idleMs ?? 1000;
    const peerMs = limits.peerMs ?? 1000;
    const drained = await this.drain(deadline, idleMs);
    this.backlog.sync();
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.wake();
    // The link's own buffers share the budget: what the backlog handed over is normally taken at
    // once; after a stalled or late drain nothing more is waited for.
    const flushMs = drained ? Math.max(0, Math.min(idleMs, deadline - Date.now())) : 0;
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      this.link.close(flushMs, peerMs).catch(() => {}),
      // A link that does not bound its own close (kafkajs' disconnect) is not waited for longer.
      new Promise<void>((r) => (bound = setTimeout(r, flushMs + peerMs + 100))),
    ]);
    clearTimeout(bound);
    // A send still in flight settles (the closed link fails it) before the backlog is closed.
    const until = Date.now() + 2000;
    while (this.sending && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    // A memory backlog dies with the process: what it still holds is lost, and counted.
    if (!this.backlog.durable) this.stats.dropped += this.backlog.pending;
    this.stats.spoolBytes = this.backlog.durable ? this.backlog.bytes : 0;
    this.backlog.close();
  }
}
