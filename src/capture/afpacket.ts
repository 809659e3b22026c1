/**
 * TypeScript face of the stnn-afpacket addon (native-bindings/afpacket): an AF_PACKET
 * TPACKET_V3 receive ring whose native thread fills one SpscRing per shard with packet
 * records (see ring.ts), the shard chosen by a symmetric 5-tuple hash. JavaScript gets
 * no per-packet callback; consumers pop records in their own threads.
 *
 * Consumers: one thread per ring, popping with SpscRing.pop() and sleeping with
 * SpscRing.wait(timeout). The capture thread cannot call Atomics.notify itself, so when
 * it publishes into a ring whose consumer sleeps it asks the main thread to notify (at
 * most once per kernel block). Consumers must therefore be worker threads, and the
 * main thread's event loop must keep turning; wait()'s timeout bounds the latency if
 * it does not.
 *
 * The addon is an optional dependency built by node-gyp at `npm install`; when it did
 * not build, loadAfPacketAddon() returns null (afpacketLoadError() says why) and the
 * rest throws a coded StnnError.
 *
 * Privileges: CAP_NET_RAW and nothing else. Checked here: uid 65534 with only an
 * ambient CAP_NET_RAW opens a promiscuous capture with the default 64 MiB kernel ring
 * (RLIMIT_MEMLOCK was 8 MiB), so a systemd unit needs AmbientCapabilities=CAP_NET_RAW.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StnnError, type ErrorCode } from '../util/errors.js';
import { SpscRing } from './ring.js';

/** LINKTYPE_ values (as in pcap files) of the frames a capture delivers. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

export interface AfPacketOptions {
  /** Interface to capture on, e.g. 'eth0'. */
  interface: string;
  /** One ring per shard; the capture thread is their producer. */
  rings: SpscRing[];
  /** Kernel ring block size in bytes: a power-of-two number of pages (default 1 MiB). */
  blockSize?: number;
  /** Number of kernel ring blocks (default 64). */
  blockCount?: number;
  /** TPACKET frame size (default 2048; V3 packs frames, this only has to divide blockSize). */
  frameSize?: number;
  /** Time after which the kernel hands over a block that is not full (default 10 ms). */
  blockTimeoutMs?: number;
  /** Bytes of each frame kept (default 65535); wireLen keeps the full length. */
  snapLen?: number;
  /** Put the interface in promiscuous mode while capturing (default true). */
  promiscuous?: boolean;
  /** tcpdump-style filter expression, compiled by libpcap and run in the kernel. */
  filter?: string;
  /**
   * Join this PACKET_FANOUT group (0..65535, hash mode: the kernel's symmetric flow hash)
   * so that several sensor processes share the interface, each flow with one of them.
   */
  fanoutGroup?: number;
  /** Let the fanout reassemble IP fragments before hashing (PACKET_FANOUT_FLAG_DEFRAG; default false). */
  fanoutDefrag?: boolean;
  /** How long the capture thread sleeps in poll() before checking for stop (default 100 ms). */
  pollTimeoutMs?: number;
}

export interface AfPacketStats {
  /** Packets and wire bytes the capture thread took from the kernel ring and routed to a shard. */
  packets: number;
  bytes: number;
  /**
   * On a loopback interface, the outgoing copies skipped: the kernel delivers each loopback
   * packet twice (sent, then received) and only the received one is kept, as libpcap does.
   * Not in `packets`; in `kernelPackets`. Always 0 on other interfaces, whose outgoing
   * packets are kept.
   */
  loopbackDuplicates: number;
  /** Packets whose record kept fewer bytes than the wire length (snap length). */
  truncated: number;
  /** PACKET_STATISTICS, accumulated (the kernel resets them on each read). */
  kernelPackets: number;
  kernelDrops: number;
  kernelFreezes: number;
  /** Per shard: packets routed to it, and of those dropped because its ring was full. */
  shardPackets: number[];
  ringDrops: number[];
  /** Kernel blocks walked and wake-up requests sent to the main thread. */
  blocks: number;
  wakeups: number;
  running: boolean;
  /** Last socket error the thread saw (e.g. 'Network is down'), '' when none. */
  lastError: string;
}

/** One classic BPF instruction: [code, jt, jf, k]. */
export type BpfInsn = [number, number, number, number];

interface NativeCapture {
  start(): void;
  stop(): void;
  stats(): AfPacketStats;
  readonly linkType: number;
  readonly ifindex: number;
}

export interface AfPacketAddon {
  Capture: new (opts: Record<string, unknown>) => NativeCapture;
  compileFilter(expr: string, snapLen?: number, linkType?: number): BpfInsn[];
  shardOf(frame: Uint8Array, shards: number, linkType?: number): { hash: number; shard: number };
  layout: Record<string, number>;
}

let loaded: AfPacketAddon | null | undefined;
let loadError = '';

/** Where the addon may be: $STNN_AFPACKET_ADDON, the stnn-afpacket package, the source tree. */
function candidates(): string[] {
  const out: string[] = [];
  const env = process.env['STNN_AFPACKET_ADDON'];
  if (env) out.push(env);
  out.push('stnn-afpacket');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'native-bindings', 'afpacket', 'build', 'Release', 'stnn_afpacket.node');
    if (existsSync(p)) {
      out.push(p);
      break;
    }
    dir = dirname(dir);
  }
  return out;
}

/** The native addon, or null when it is not built (see afpacketLoadError()). */
export function loadAfPacketAddon(): AfPacketAddon | null {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const c of candidates()) {
    try {
      loaded = require(c) as AfPacketAddon;
      return loaded;
    } catch (e) {
      errors.push(`${c}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  loaded = null;
  loadError = errors.join('; ');
  return null;
}

/** Why the addon could not be loaded ('' when it loaded). */
export function afpacketLoadError(): string {
  loadAfPacketAddon();
  return loadError;
}

function addon(): AfPacketAddon {
  const a = loadAfPacketAddon();
  if (!a) {
    throw new StnnError(
      'STNN_RUNTIME',
      `AF_PACKET capture is unavailable: the stnn-afpacket addon is not built (needs a C++ compiler; run \`npm rebuild stnn-afpacket\`): ${loadError}`,
    );
  }
  return a;
}

const CODES = new Set<ErrorCode>(['STNN_USAGE', 'STNN_BAD_INPUT', 'STNN_CONFIG', 'STNN_CAPABILITY', 'STNN_RUNTIME']);

function coded(e: unknown): Error {
  const err = e as Error & { code?: string };
  if (err && typeof err.code === 'string' && CODES.has(err.code as ErrorCode)) {
    return new StnnError(err.code as ErrorCode, err.message);
  }
  return err;
}

/** Compiles a tcpdump-style expression to classic BPF (libpcap, loaded at run time). */
export function compileFilter(expr: string, snapLen = 65535, linkType = LINKTYPE_ETHERNET): BpfInsn[] {
  try {
    return addon().compileFilter(expr, snapLen, linkType);
  } catch (e) {
    throw coded(e);
  }
}

/** The shard the capture thread routes `frame` to (same symmetric hash). */
export function shardOf(frame: Uint8Array, shards: number, linkType = LINKTYPE_ETHERNET): number {
  return addon().shardOf(frame, shards, linkType).shard;
}

export class AfPacketCapture {
  private readonly native: NativeCapture;
  readonly rings: SpscRing[];
  readonly interfaceName: string;
  /** LINKTYPE_ETHERNET or LINKTYPE_RAW: how the records' frames start. */
  readonly linkType: number;
  private stopped = false;

  private constructor(native: NativeCapture, rings: SpscRing[], name: string) {
    this.native = native;
    this.rings = rings;
    this.interfaceName = name;
    this.linkType = native.linkType;
  }

  /**
   * Opens the socket, attaches the filter, maps the ring, binds the interface; packets
   * flow into the rings after start(). Throws StnnError: STNN_CAPABILITY without
   * CAP_NET_RAW, STNN_CONFIG for a missing interface, a bad filter or ring geometry.
   */
  static open(opts: AfPacketOptions): AfPacketCapture {
    const a = addon();
    if (!Array.isArray(opts.rings) || opts.rings.length === 0) {
      throw new StnnError('STNN_CONFIG', 'afpacket: rings must be a non-empty array of SpscRing');
    }
    const rings = opts.rings;
    const wake = (mask: number, wide: boolean) => {
      for (let i = 0; i < rings.length; i++) {
        if (i < 32 ? (mask & (1 << i)) !== 0 : wide) rings[i]!.notifyConsumer();
      }
    };
    try {
      const native = new a.Capture({
        interface: opts.interface,
        rings: rings.map((r) => new Uint8Array(r.sab)),
        wake,
        blockSize: opts.blockSize,
        blockCount: opts.blockCount,
        frameSize: opts.frameSize,
        blockTimeoutMs: opts.blockTimeoutMs,
        snapLen: opts.snapLen,
        promiscuous: opts.promiscuous,
        filter: opts.filter,
        fanoutGroup: opts.fanoutGroup,
        fanoutDefrag: opts.fanoutDefrag,
        pollTimeoutMs: opts.pollTimeoutMs,
      });
      return new AfPacketCapture(native, rings, opts.interface);
    } catch (e) {
      throw coded(e);
    }
  }

  /** Starts the native capture thread. */
  start(): void {
    try {
      this.native.start();
    } catch (e) {
      throw coded(e);
    }
  }

  /** Counters as of now (reads and accumulates PACKET_STATISTICS). */
  stats(): AfPacketStats {
    return this.native.stats();
  }

  /**
   * Joins the capture thread, publishes what it wrote, closes the rings (consumers drain
   * and then see `finished`) and the socket. Returns the final counters.
   */
  stop(): AfPacketStats {
    if (!this.stopped) {
      this.stopped = true;
      this.native.stop();
      for (const r of this.rings) r.notifyConsumer(); // sleeping consumers see the close now
    }
    return this.native.stats();
  }
}
