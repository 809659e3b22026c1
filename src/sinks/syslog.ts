/**
 * Syslog sink: RFC 5424 messages (syslog-format.ts) over UDP, TCP with RFC 6587 octet counting,
 * or a unix socket (datagram like /dev/log, or stream with octet counting). The message is built
 * once, when the record is written (its TIMESTAMP is that moment), and that byte string is what
 * the spool keeps and what a replay sends.
 */
import { StnnError } from '../util/errors.js';
import { Delivery, type Link, type SinkStats } from './delivery.js';
import { StreamLink, UdpLink, UnixDgramLink } from './links.js';
import { MemoryBacklog, Spool, type Backlog } from './spool.js';
import { SyslogFormatter, octetCount } from './syslog-format.js';
import type { Sink, SyslogConfig } from './sink.js';

export class SyslogSink implements Sink {
  readonly name: string;
  readonly formatter: SyslogFormatter;
  private readonly delivery: Delivery;

  constructor(cfg: SyslogConfig) {
    this.name = cfg.name ?? 'syslog';
    this.formatter = new SyslogFormatter(cfg);
    const where = `sink ${this.name}`;
    let link: Link;
    switch (cfg.transport) {
      case 'udp':
        link = new UdpLink(cfg.host ?? '127.0.0.1', checkPort(cfg.port ?? 514, where));
        break;
      case 'tcp':
        link = new StreamLink({ host: cfg.host ?? '127.0.0.1', port: checkPort(cfg.port ?? 514, where) }, octetCount);
        break;
      case 'unix': {
        const path = cfg.path ?? '/dev/log';
        const type = cfg.socketType ?? 'dgram';
        if (type === 'stream') link = new StreamLink({ path }, octetCount);
        else if (type === 'dgram') link = new UnixDgramLink(path);
        else throw new StnnError('STNN_CONFIG', `${where}: socketType must be 'dgram' or 'stream', got ${JSON.stringify(type)}`);
        break;
      }
      default:
        throw new StnnError('STNN_CONFIG', `${where}: transport must be udp, tcp or unix, got ${JSON.stringify((cfg as { transport?: unknown }).transport)}`);
    }
    const backlog: Backlog = cfg.spool ? new Spool(cfg.spool) : new MemoryBacklog(cfg.memoryBytes ?? 16 * 1024 * 1024);
    this.delivery = new Delivery(this.name, link, backlog, {
      batchSize: cfg.batchSize ?? 256,
      // A stream socket reports a send done when the kernel took all of it: sends of at most
      // 64 KiB let a receiver that reads slowly show progress (see close()).
      ...(link instanceof StreamLink ? { batchBytes: 64 * 1024 } : {}),
      backoffMinMs: cfg.backoffMinMs,
      backoffMaxMs: cfg.backoffMaxMs,
      log: cfg.log,
    });
  }

  write(rec: Record<string, unknown>): void {
    let msg: Buffer;
    try {
      msg = this.formatter.format(rec);
    } catch {
      this.delivery.stats.errors++; // not serialisable (cycle, BigInt): never a crash
      this.delivery.stats.dropped++;
      return;
    }
    this.delivery.write(msg);
  }

  flush(): Promise<void> {
    return this.delivery.flush();
  }

  /**
   * Delivers what the receiver takes until `deadline` (default 5 s from now), stopping once it
   * has taken nothing for 1 s; then our FIN and at most 1 s for the receiver's (stream sockets).
   */
  close(deadline?: number): Promise<void> {
    return this.delivery.close({ deadline, idleMs: 1000, peerMs: 1000 });
  }

  stats(): SinkStats & { truncated: number } {
    return { ...this.delivery.stats, truncated: this.formatter.truncated };
  }

  /** True while the transport is connected. */
  get up(): boolean {
    return this.delivery.up;
  }
}

function checkPort(port: number, where: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StnnError('STNN_CONFIG', `${where}: port must be 1-65535, got ${port}`);
  return port;
}
