/**
 * What the sensor's threads say to each other: the task each kind of worker gets, the
 * messages shard workers post, the extra ring record tags of the pcap producer, and the
 * slots of the per-shard counter arrays (summed by the main thread on scrape).
 */
import type { MessagePort } from 'node:worker_threads';
import { DecodeCounters } from '../decode/counters.js';
import type { EndReason } from '../flow/record.js';
import type { FlowTableOptions } from '../flow/table.js';
import type { WireError } from '../util/errors.js';

/** Ring record tags besides TAG_PACKET (ring.ts): only the pcap producer writes them. */
/** u32 link type: the frames that follow on this ring start with this link layer. */
export const TAG_LINKTYPE = 2;
/** UTF-8 path: the frames that follow come from this capture file. */
export const TAG_FILE = 3;
/** End of the current file: every flow of the shard ends as 'eof' (as extractFlows does). */
export const TAG_FILE_END = 4;

/** Slots of a shard's Float64Array counters (written by its worker only). */
export const C_PACKETS = 0;
export const C_BYTES = 1;
export const C_IP_PACKETS = 2;
export const C_ACTIVE_FLOWS = 3;
export const C_RECORDS = 4;
export const C_BATCHES = 5;
export const C_NOT_IP = 6;
/** Times the shard waited because the main thread had not yet taken its earlier batches. */
export const C_STALLS = 7;
/** Flows ended, by reason, from C_ENDED + END_REASONS.indexOf(reason). */
export const C_ENDED = 8;
export const END_REASONS: readonly EndReason[] = ['fin', 'rst', 'idle', 'active', 'eof', 'evicted', 'shutdown'];
export const N_COUNTERS = 16;

/** Int32 slots of the control array shared by the main thread and all workers. */
/** Non-zero: stop now (the producer stops reading; the rings are closed). */
export const CTL_STOP = 0;
/** Non-zero: flows still open when a ring finishes end as 'shutdown' and are emitted. */
export const CTL_FLUSH = 1;
/**
 * Slot CTL_INFLIGHT + shard: batches the shard has posted that the main thread has not yet
 * taken. A shard that has MAX_INFLIGHT_BATCHES out waits (its ring fills, and the capture
 * drops and counts) instead of queueing messages without bound.
 */
export const CTL_INFLIGHT = 4;
export const MAX_INFLIGHT_BATCHES = 32;
export const controlSlots = (shards: number): number => CTL_INFLIGHT + shards;

/** Slots of a shard's Float64Array of decoder counters (DecodeCounters' numeric fields, in this order). */
export const DECODE_COUNTERS: readonly string[] = Object.entries(new DecodeCounters())
  .filter(([, v]) => typeof v === 'number')
  .map(([k]) => k);

export interface ShardTask {
  shard: number;
  ringSab: SharedArrayBuffer;
  countersSab: SharedArrayBuffer;
  /** Float64Array of DECODE_COUNTERS.length slots. */
  decodeSab: SharedArrayBuffer;
  controlSab: SharedArrayBuffer;
  port: MessagePort;
  /** Link type of live capture records (pcap rings announce theirs with TAG_LINKTYPE). */
  linkType: number;
  /** Live capture: flows also expire on the wall clock when no packets come. */
  live: boolean;
  flow: Partial<FlowTableOptions>;
  tunnels: boolean;
  /** Records per batch message, and the longest a record waits in a partial batch. */
  batchSize: number;
  maxWaitMs: number;
}

/** Posted by a shard worker on its port; `buf` is a msgpackr-encoded FlowRecord[] (moved). */
export interface BatchMessage {
  type: 'batch';
  shard: number;
  buf: ArrayBuffer;
}

/** Last message of a shard worker: nothing follows on its port. */
export interface DoneMessage {
  type: 'done';
  shard: number;
  decode: Record<string, number | Record<string, number>>;
}

export type ShardMessage = BatchMessage | DoneMessage;

export interface ProducerTask {
  files: string[];
  ringSabs: SharedArrayBuffer[];
  controlSab: SharedArrayBuffer;
}

export interface ProducerSummary {
  files: number;
  frames: number;
  /** Frames cut to fit a ring record (bigger than a quarter of the ring). */
  truncated: number;
  /** Files that ended early (truncated/corrupt: STNN_CAPTURE_TRUNCATED), one line each. */
  errors: WireError[];
  /**
   * Why the producer stopped before the end of its files, e.g. a FIFO that is not a capture
   * (STNN_BAD_INPUT); null when it read them all (or was stopped).
   */
  failed: WireError | null;
  stopped: boolean;
}
