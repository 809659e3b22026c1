/**
 * The flow table: bidirectional flows on the 5-tuple (+ outer VLAN), packet time
 * as the clock, bounded size.
 *
 * Client (DESIGN.md): the sender of a SYN without ACK; for a flow first seen at its
 * SYN-ACK, that packet's receiver; otherwise the first packet's sender.
 *
 * A flow ends:
 *  - 'fin'     both sides sent FIN; the flow then lingers `closedTimeout` seconds of
 *              packet time so the last ACKs still count, then ends (or at once when a
 *              new SYN reuses its tuple, which starts a new flow);
 *  - 'rst'     a RST was seen (same lingering);
 *  - 'idle'    no packet for `idleTimeout` seconds;
 *  - 'active'  the flow has lasted `activeTimeout` seconds: its record is emitted and
 *              the packet that crossed the limit starts a continuation flow with the
 *              same client and server;
 *  - 'evicted' the table was full (`maxFlows`) and this was the longest-idle flow;
 *  - 'eof' / 'shutdown' at the end of input, from `flushAll`.
 *
 * Lookup is a power-of-two array of buckets indexed by a symmetric 30-bit hash,
 * each a chain of flows (the array doubles when the flows outnumber the buckets);
 * expiry walks two LRU lists (open and closed flows) from their least recently
 * used end, at most once per second of packet time. Nothing is allocated per
 * packet; Flow objects, TLS trackers and statistics are reused.
 *
 * Statistics are kept only for flows whose features someone reads: every flow with
 * `allFlows`, otherwise TCP flows once they are known to be TLS. Until the TLS
 * tracker has decided, a TCP flow keeps the first PRE_PACKETS packets' (length,
 * time, direction, phase) in a small buffer; when the flow turns out TLS the
 * buffer is replayed into a FlowStats before the current packet, so its features
 * are exactly those of a flow that had statistics from its first packet. A flow
 * still undecided past PRE_PACKETS packets gets its statistics then (replayed the
 * same way); one that turns out not TLS never gets any.
 */
import { DecodedPacket, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/packet.js';
import { FlowStats } from '../features/flow-stats.js';
import { TlsTracker } from '../tls/tracker.js';
import type { EndReason } from './record.js';

export interface FlowTableOptions {
  /** Seconds without packets before a flow ends as 'idle' (default 120). */
  idleTimeout: number;
  /** Seconds after its first packet when a flow ends as 'active' (default 1800). */
  activeTimeout: number;
  /** Seconds a flow closed by FIN/RST lingers for its last packets (default 5). */
  closedTimeout: number;
  /** Most flows held at once (default 262144); past it the longest-idle one is evicted. */
  maxFlows: number;
  /**
   * Keep statistics for every flow (default false: only for flows that are or may
   * still become TLS; UDP flows and TCP flows found not to be TLS are only counted).
   */
  allFlows: boolean;
}

export const DEFAULT_FLOW_OPTIONS: FlowTableOptions = {
  idleTimeout: 120,
  activeTimeout: 1800,
  closedTimeout: 5,
  maxFlows: 262144,
  allFlows: false,
};

/** Ended flows kept for reuse, so a busy table does not churn the heap. */
const POOL_MAX = 4096;
/** Packets buffered per TCP flow while it is not yet known whether it is TLS. */
export const PRE_PACKETS = 8;
/** Buckets of a new table (a power of two); doubled as flows are added. */
const MIN_BUCKETS = 1024;
/** The time argument of FlowTable.pre. */
const PRE_T = new Float64Array(1);

export class FlowCounters {
  packets = 0;
  /** IP packets that were neither the first fragment nor a whole datagram are counted by decode. */
  flows_started = 0;
  flows_active_continued = 0;
  ended_fin = 0;
  ended_rst = 0;
  ended_idle = 0;
  ended_active = 0;
  ended_evicted = 0;
  ended_eof = 0;
  ended_shutdown = 0;
  max_active_flows = 0;
}

const ENDED_KEY: Record<EndReason, keyof FlowCounters> = {
  fin: 'ended_fin',
  rst: 'ended_rst',
  idle: 'ended_idle',
  active: 'ended_active',
  evicted: 'ended_evicted',
  eof: 'ended_eof',
  shutdown: 'ended_shutdown',
};

/*
 * Address words and hashes are int32 (signed), not uint32: an int32 stays in a register
 * (or a small integer) everywhere, while a uint32 of 2^31 or more becomes a heap-allocated
 * number wherever V8 merges it with another value (a branch join, a call): that was a
 * quarter of the table's per-packet allocation. The hash is the same bits either way.
 */
const rd32 = (b: Uint8Array, o: number) => (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];

/** 32-bit finaliser (murmur3 fmix32), as int32. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class Flow {
  hash = 0;
  /** Next flow in the same hash chain. */
  chain: Flow | null = null;
  /** LRU list links (open or closed list). */
  prev: Flow | null = null;
  next: Flow | null = null;
  inClosedList = false;

  ipVersion: 4 | 6 = 4;
  proto = 0;
  vlan = 0;
  /** Client (c) and server (s) addresses as big-endian 32-bit words, int32 (IPv4 uses word 0). */
  // (-0: a double from the start, see DecodedPacket; set when the flow starts)
  c0 = -0; c1 = -0; c2 = -0; c3 = -0;
  s0 = -0; s1 = -0; s2 = -0; s3 = -0;
  cPort = 0;
  sPort = 0;
  /** Client and server address bytes, kept for output (copied once at flow start). */
  readonly cAddr = new Uint8Array(16);
  readonly sAddr = new Uint8Array(16);

  startSec = -0;
  startNsec = -0;
  /** Absolute times (seconds, float) of the first and the latest packet. */
  firstTs = -0;
  lastTs = -0;
  fwdPackets = 0;
  fwdBytes = 0;
  bwdPackets = 0;
  bwdBytes = 0;
  hsPackets = 0;
  dataPackets = 0;
  finFromClient = false;
  finFromServer = false;
  closedBy: 'fin' | 'rst' | null = null;
  /** This flow continues one that ended on the active timeout. */
  continued = false;

  tls: TlsTracker | null = null;
  /**
   * Running statistics; null for flows whose features nobody will read, and for TCP
   * flows not yet known to be TLS (their first packets wait in the pre-buffer).
   */
  stats: FlowStats | null = null;
  /** The flow's packets are buffered (preN of them) until its TLS status is known. */
  prePending = false;
  preN = 0;
  /**
   * Pre-buffer: per packet the time since the flow's start, the length and dir | phase << 1.
   * Allocated on first use and kept while the Flow object is reused (never with allFlows).
   */
  preBuf: Float64Array | null = null;

  /** Back to the state of a new Flow (kept statistics are reset, not dropped). */
  reset(): void {
    this.hash = 0;
    this.chain = this.prev = this.next = null;
    this.inClosedList = false;
    this.c0 = this.c1 = this.c2 = this.c3 = 0;
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.cPort = this.sPort = 0;
    // cAddr / sAddr are overwritten (all 16 bytes) when the flow object is reused
    this.startSec = this.startNsec = 0;
    this.firstTs = this.lastTs = 0;
    this.fwdPackets = this.fwdBytes = this.bwdPackets = this.bwdBytes = 0;
    this.hsPackets = this.dataPackets = 0;
    this.finFromClient = this.finFromServer = false;
    this.closedBy = null;
    this.continued = false;
    this.tls = null;
    this.stats?.reset();
    this.prePending = false;
    this.preN = 0;
  }
}

export type FlowEndHandler = (flow: Flow, reason: EndReason) => void;

class LruList {
  head: Flow | null = null;
  tail: Flow | null = null;
  size = 0;
  push(f: Flow): void {
    f.prev = this.tail;
    f.next = null;
    if (this.tail) this.tail.next = f; else this.head = f;
    this.tail = f;
    this.size++;
  }
  remove(f: Flow): void {
    if (f.prev) f.prev.next = f.next; else this.head = f.next;
    if (f.next) f.next.prev = f.prev; else this.tail = f.prev;
    f.prev = f.next = null;
    this.size--;
  }
  touch(f: Flow): void {
    if (this.tail === f) return;
    this.remove(f);
    this.push(f);
  }
}

export class FlowTable {
  readonly opts: FlowTableOptions;
  readonly counters = new FlowCounters();
  private buckets: (Flow | null)[] = new Array<Flow | null>(MIN_BUCKETS).fill(null);
  private mask = MIN_BUCKETS - 1;
  private readonly open = new LruList();
  private readonly closed = new LruList();
  private readonly pool: Flow[] = [];
  private readonly statsPool: FlowStats[] = [];
  private readonly tlsPool: TlsTracker[] = [];
  /** Packet-time clock: the latest timestamp seen (captures are not always in order). */
  now = -0; // (a double from the start, see DecodedPacket)
  private nextExpiry = -0;

  constructor(opts: Partial<FlowTableOptions>, private readonly onEnd: FlowEndHandler) {
    this.opts = { ...DEFAULT_FLOW_OPTIONS, ...opts };
  }

  get size(): number {
    return this.open.size + this.closed.size;
  }

  /** Account one decoded IP packet. */
  onPacket(p: DecodedPacket): void {
    if (p.ipVersion === 0) return;
    this.counters.packets++;
    const ts = p.tsSec + p.tsNsec * 1e-9;
    if (ts > this.now) this.now = ts;
    if (this.now >= this.nextExpiry) {
      this.expire(this.now);
      this.nextExpiry = this.now + 1;
    }

    const buf = p.buf;
    const v6 = p.ipVersion === 6;
    const so = p.srcAddrOff;
    const d = p.dstAddrOff;
    const a0 = rd32(buf, so), b0 = rd32(buf, d);
    let a1 = 0, a2 = 0, a3 = 0, b1 = 0, b2 = 0, b3 = 0;
    if (v6) {
      a1 = rd32(buf, so + 4); a2 = rd32(buf, so + 8); a3 = rd32(buf, so + 12);
      b1 = rd32(buf, d + 4); b2 = rd32(buf, d + 8); b3 = rd32(buf, d + 12);
    }
    const sp = p.srcPort, dp = p.dstPort;
    // symmetric: one hash per endpoint, combined by addition
    let ha: number, hb: number;
    if (v6) {
      ha = mix32(Math.imul(a0 ^ mix32(a1 ^ mix32(a2 ^ a3)), 0x9e3779b1) + sp);
      hb = mix32(Math.imul(b0 ^ mix32(b1 ^ mix32(b2 ^ b3)), 0x9e3779b1) + dp);
    } else {
      ha = mix32(Math.imul(a0, 0x9e3779b1) + sp);
      hb = mix32(Math.imul(b0, 0x9e3779b1) + dp);
    }
    const hash = mix32((ha + hb) ^ (p.proto << 16) ^ p.vlan) & 0x3fffffff;

    // find the flow and the packet's direction (0 = from the client)
    let flow = this.buckets[hash & this.mask];
    let dir: 0 | 1 = 0;
    while (flow !== null) {
      if (flow.hash === hash && flow.proto === p.proto && flow.vlan === p.vlan && flow.ipVersion === p.ipVersion) {
        if (flow.c0 === a0 && flow.s0 === b0 && flow.cPort === sp && flow.sPort === dp &&
            flow.c1 === a1 && flow.c2 === a2 && flow.c3 === a3 && flow.s1 === b1 && flow.s2 === b2 && flow.s3 === b3) {
          dir = 0; break;
        }
        if (flow.c0 === b0 && flow.s0 === a0 && flow.cPort === dp && flow.sPort === sp &&
            flow.c1 === b1 && flow.c2 === b2 && flow.c3 === b3 && flow.s1 === a1 && flow.s2 === a2 && flow.s3 === a3) {
          dir = 1; break;
        }
      }
      flow = flow.chain;
    }

    const isTcp = p.proto === 6;
    const flags = isTcp ? p.tcpFlags : 0;
    const pureSyn = (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;

    if (flow !== null) {
      if (flow.closedBy !== null && pureSyn) {
        // a new connection on a finished flow's tuple
        this.end(flow, flow.closedBy);
        flow = null;
      } else if (ts - flow.firstTs >= this.opts.activeTimeout) {
        // emit the long flow and go on with a continuation: same client and server,
        // same TLS tracker (its handshake is long over, so its packets are data)
        const tls = flow.tls;
        this.end(flow, 'active', true); // (the Flow object is recycled here, not the tracker)
        flow = this.startFlow(hash, p, dir === 0);
        flow.tls = tls;
        flow.continued = true;
        this.counters.flows_active_continued++;
      }
    }
    if (flow === null) {
      // client: SYN sender; SYN-ACK receiver; else first sender
      const senderIsClient = !(isTcp && (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK));
      flow = this.startFlow(hash, p, senderIsClient);
      dir = senderIsClient ? 0 : 1;
    }

    // account the packet
    if (flow.inClosedList) this.closed.touch(flow); else this.open.touch(flow);
    if (ts > flow.lastTs) flow.lastTs = ts;
    const len = p.ipLen;
    if (dir === 0) { flow.fwdPackets++; flow.fwdBytes += len; } else { flow.bwdPackets++; flow.bwdBytes += len; }

    let phase: 0 | 1 = 0;
    if (isTcp) {
      const tls = flow.tls;
      if (tls !== null) {
        // (sequence numbers as int32, which the tracker uses: a double argument would be boxed)
        phase = tls.onPacket(dir, p.tcpSeq | 0, flags, buf, p.payloadOff, p.payloadCapLen, p.payloadLen, p.tcpAck | 0);
        if (flow.stats !== null && !this.opts.allFlows && tls.status === 'not-tls') {
          // (statistics taken while undecided) nobody will read this flow's features
          this.dropStats(flow);
        }
      }
      if (flow.continued) phase = 1;
      if (flags & TCP_RST) {
        this.close(flow, 'rst');
      } else if (flags & TCP_FIN) {
        if (dir === 0) flow.finFromClient = true; else flow.finFromServer = true;
        if (flow.finFromClient && flow.finFromServer) this.close(flow, 'fin');
      }
    }
    if (phase === 0) flow.hsPackets++; else flow.dataPackets++;
    // integer nanoseconds first, one division last: no drift from adding 1e-9 steps
    const t = ((p.tsSec - flow.startSec) * 1e9 + (p.tsNsec - flow.startNsec)) / 1e9;
    if (flow.stats !== null) flow.stats.add(len, t, dir, phase);
    else if (flow.prePending) {
      PRE_T[0] = t; // (a double argument to a call that is not inlined would be boxed)
      this.pre(flow, len, dir, phase);
    }
  }

  /** A packet of a TCP flow whose statistics wait for its TLS status (see the file comment); its time is PRE_T[0]. */
  private pre(flow: Flow, len: number, dir: 0 | 1, phase: 0 | 1): void {
    const t = PRE_T[0];
    const status = (flow.tls as TlsTracker).status;
    if (status === 'not-tls') {
      flow.prePending = false;
      flow.preN = 0;
      return;
    }
    const n = flow.preN;
    if (status === 'undecided' && n < PRE_PACKETS) {
      const b = flow.preBuf ?? (flow.preBuf = new Float64Array(3 * PRE_PACKETS));
      b[3 * n] = t;
      b[3 * n + 1] = len;
      b[3 * n + 2] = dir | (phase << 1);
      flow.preN = n + 1;
      return;
    }
    // TLS, or still undecided with the buffer full: statistics from the first packet on
    const st = this.statsPool.pop() ?? new FlowStats();
    const b = flow.preBuf;
    if (b !== null) {
      for (let i = 0; i < n; i++) {
        const dp = b[3 * i + 2];
        st.add(b[3 * i + 1], b[3 * i], (dp & 1) as 0 | 1, (dp >> 1) as 0 | 1);
      }
    }
    st.add(len, t, dir, phase);
    flow.stats = st;
    flow.prePending = false;
    flow.preN = 0;
  }

  /**
   * (The packet time is computed here again, as onPacket does, rather than passed: a double
   * argument is boxed, and V8 boxed it on every packet, not only on those that start a flow.)
   */
  private startFlow(hash: number, p: DecodedPacket, senderIsClient: boolean): Flow {
    const ts = p.tsSec + p.tsNsec * 1e-9;
    if (this.size >= this.opts.maxFlows) this.evictOne();
    const f = this.pool.pop() ?? new Flow();
    f.hash = hash;
    f.ipVersion = p.ipVersion as 4 | 6;
    f.proto = p.proto;
    f.vlan = p.vlan;
    const n = p.ipVersion === 6 ? 16 : 4;
    const buf = p.buf;
    const cOff = senderIsClient ? p.srcAddrOff : p.dstAddrOff;
    const sOff = senderIsClient ? p.dstAddrOff : p.srcAddrOff;
    const ca = f.cAddr, sa = f.sAddr;
    for (let i = 0; i < n; i++) { ca[i] = buf[cOff + i]; sa[i] = buf[sOff + i]; }
    for (let i = n; i < 16; i++) { ca[i] = 0; sa[i] = 0; }
    f.c0 = rd32(buf, cOff); f.s0 = rd32(buf, sOff);
    if (n === 16) {
      f.c1 = rd32(buf, cOff + 4); f.c2 = rd32(buf, cOff + 8); f.c3 = rd32(buf, cOff + 12);
      f.s1 = rd32(buf, sOff + 4); f.s2 = rd32(buf, sOff + 8); f.s3 = rd32(buf, sOff + 12);
    }
    f.cPort = senderIsClient ? p.srcPort : p.dstPort;
    f.sPort = senderIsClient ? p.dstPort : p.srcPort;
    f.startSec = p.tsSec;
    f.startNsec = p.tsNsec;
    f.firstTs = ts;
    f.lastTs = ts;
    if (p.proto === 6) f.tls = this.tlsPool.pop() ?? new TlsTracker();
    if (this.opts.allFlows) {
      if (f.stats === null) f.stats = this.statsPool.pop() ?? new FlowStats();
    } else {
      const st = f.stats;
      if (st !== null) {
        // (a reused flow's statistics were reset with it)
        f.stats = null;
        if (this.statsPool.length < POOL_MAX) this.statsPool.push(st);
      }
      f.prePending = p.proto === 6;
    }
    const i = hash & this.mask;
    f.chain = this.buckets[i];
    this.buckets[i] = f;
    this.open.push(f);
    this.counters.flows_started++;
    const size = this.size;
    if (size > this.counters.max_active_flows) this.counters.max_active_flows = size;
    if (size > this.buckets.length) this.grow();
    return f;
  }

  /** Doubles the bucket array and rehashes every flow into it. */
  private grow(): void {
    const n = this.buckets.length * 2;
    const b = new Array<Flow | null>(n).fill(null);
    const mask = n - 1;
    for (const list of [this.open, this.closed]) {
      for (let f = list.head; f !== null; f = f.next) {
        const i = f.hash & mask;
        f.chain = b[i];
        b[i] = f;
      }
    }
    this.buckets = b;
    this.mask = mask;
  }

  private close(f: Flow, by: 'fin' | 'rst'): void {
    if (f.closedBy === null || by === 'rst') f.closedBy = by;
    if (!f.inClosedList) {
      this.open.remove(f);
      this.closed.push(f);
      f.inClosedList = true;
    }
  }

  private unlink(f: Flow): void {
    const i = f.hash & this.mask;
    const head = this.buckets[i];
    if (head === f) {
      this.buckets[i] = f.chain;
    } else {
      let x = head;
      while (x !== null && x.chain !== f) x = x.chain;
      if (x !== null) x.chain = f.chain;
    }
    f.chain = null;
    if (f.inClosedList) this.closed.remove(f); else this.open.remove(f);
  }

  /**
   * The flow is handed to onEnd, which must take what it needs before returning:
   * afterwards the Flow object is reset and reused.
   */
  private end(f: Flow, reason: EndReason, keepTls = false): void {
    this.unlink(f);
    (this.counters[ENDED_KEY[reason]] as number)++;
    this.onEnd(f, reason);
    const tls = f.tls;
    if (tls !== null) {
      tls.release();
      if (!keepTls && this.tlsPool.length < POOL_MAX) {
        tls.reset();
        this.tlsPool.push(tls);
      }
    }
    if (this.pool.length < POOL_MAX) {
      f.reset();
      this.pool.push(f);
    }
  }

  private dropStats(f: Flow): void {
    const st = f.stats;
    if (st === null) return;
    f.stats = null;
    if (this.statsPool.length < POOL_MAX) {
      st.reset();
      this.statsPool.push(st);
    }
  }

  private evictOne(): void {
    const a = this.open.head;
    const b = this.closed.head;
    const victim = a === null ? b : b === null ? a : (b.lastTs <= a.lastTs ? b : a);
    if (victim === null) return;
    if (victim.inClosedList && victim.closedBy !== null) this.end(victim, victim.closedBy);
    else this.end(victim, 'evicted');
  }

  /** End the flows whose timeouts have passed at packet time `now`. */
  expire(now: number): void {
    const closedLimit = now - this.opts.closedTimeout;
    for (let f = this.closed.head; f !== null && f.lastTs <= closedLimit; f = this.closed.head) {
      this.end(f, f.closedBy ?? 'fin');
    }
    const idleLimit = now - this.opts.idleTimeout;
    for (let f = this.open.head; f !== null && f.lastTs <= idleLimit; f = this.open.head) {
      this.end(f, 'idle');
    }
  }

  /** End every flow (end of input, or shutdown). Closed flows keep their fin/rst reason. */
  flushAll(reason: 'eof' | 'shutdown'): void {
    for (let f = this.closed.head; f !== null; f = this.closed.head) this.end(f, f.closedBy ?? 'fin');
    for (let f = this.open.head; f !== null; f = this.open.head) this.end(f, reason);
  }
}
