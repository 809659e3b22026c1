/**
 * Lock-free single-producer / single-consumer ring of variable-length records in a
 * SharedArrayBuffer. The producer is either JavaScript (pcap replay, tests) or the
 * native AF_PACKET capture thread (native-bindings/afpacket/src/ring_layout.h mirrors
 * every constant of this file; the addon checks magic, version and capacity when it
 * attaches, and the tests compare both sides).
 *
 * Memory: [header, RING_HEADER_BYTES][data, capacity bytes, a power of two].
 * Header: Int32 slots, the producer's and the consumer's on separate 64-byte lines.
 * head and tail are byte counters that run freely and wrap at 2^32; used = head - tail,
 * the record at a counter c starts at data offset c & (capacity - 1).
 *
 * Record: u32 payload length, u32 tag, payload, zero padding to 8 bytes. A record never
 * wraps: when it does not fit before the end of the data area, the producer writes
 * SKIP_MARKER as the length word and starts again at offset 0.
 *
 * Ordering: the producer writes the record, then publishes it with Atomics.store(head)
 * (release); the consumer reads head with Atomics.load (acquire) before reading data,
 * and gives the space back with Atomics.store(tail). A consumer that found the ring
 * empty raises kSleepField and Atomics.waits on head; a producer that sees kSleepField
 * after publishing calls Atomics.notify (the native producer asks the main thread to do
 * so, once per kernel block at most).
 */

/** Int32 slot indices in the header (piscina-style named fields). */
export const kHeadField = 0; // producer: bytes published
export const kTailField = 16; // consumer: bytes released
export const kDropsLoField = 32; // producer: records dropped because the ring was full (low 32 bits)
export const kDropsHiField = 33; // (high 32 bits)
export const kFlagsField = 48; // producer: FLAG_CLOSED when it will write no more
export const kSleepField = 49; // consumer: 1 while it waits for data
export const kProducerSleepField = 50; // producer: 1 while it waits for space (lossless JS producers)
export const kMagicField = 56;
export const kVersionField = 57;
export const kCapacityField = 58;

export const RING_HEADER_BYTES = 256;
export const RING_MAGIC = 0x53524e47; // 'SRNG'
export const RING_VERSION = 1;
export const FLAG_CLOSED = 1;

export const RECORD_HEADER_BYTES = 8;
export const RECORD_ALIGN = 8;
/** Length word meaning "nothing more before the end of the data area". */
export const SKIP_MARKER = 0xffffffff;

/** Tag of packet records; their payload starts with PACKET_HEADER_BYTES of u32 fields. */
export const TAG_PACKET = 1;
export const PACKET_HEADER_BYTES = 16;
/** u32 offsets inside a packet record's payload. */
export const PKT_TS_SEC = 0;
export const PKT_TS_NSEC = 4;
export const PKT_CAP_LEN = 8;
export const PKT_WIRE_LEN = 12;

/** Buffer.prototype.copy accepts any Uint8Array as its source and copies natively. */
const bufferCopy = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

export const MIN_CAPACITY = 1024;
export const MAX_CAPACITY = 1 << 30;

/** Bytes one record of `payloadLen` takes in the data area. */
export function recordSpace(payloadLen: number): number {
  return (RECORD_HEADER_BYTES + payloadLen + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1);
}

/** Allocates and initialises the shared memory of a ring with `capacity` data bytes (a power of two). */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity: ${capacity} is not a power of two in [${MIN_CAPACITY}, ${MAX_CAPACITY}]`);
  }
  const sab = new SharedArrayBuffer(RING_HEADER_BYTES + capacity);
  const hdr = new Int32Array(sab, 0, RING_HEADER_BYTES >> 2);
  hdr[kMagicField] = RING_MAGIC;
  hdr[kVersionField] = RING_VERSION;
  hdr[kCapacityField] = capacity;
  return sab;
}

/**
 * The reusable out-parameter of pop(): views into the ring, valid until the next
 * pop() (or release()) on the same ring. For TAG_PACKET records `off`/`len` cover the
 * frame bytes and the four packet fields are filled; otherwise `off`/`len` cover the
 * whole payload.
 */
export class RingRecord {
  buf: Uint8Array = new Uint8Array(0);
  tag = 0;
  off = 0;
  len = 0;
  tsSec = 0;
  tsNsec = 0;
  capLen = 0;
  wireLen = 0;
}

export class SpscRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  /** The data area; offsets in RingRecord and reserve() index into it. */
  readonly bytes: Uint8Array;
  private readonly hdr: Int32Array;
  private readonly words: Uint32Array;
  private readonly mask: number;
  // producer-private
  private head: number;
  private cachedTail: number;
  private drops = 0;
  private reservedAt = -1;
  private reservedNeed = 0;
  // consumer-private
  private tail: number;
  private cachedHead: number;
  private releasedTail: number;
  private readonly releaseEvery: number;

  constructor(sab: SharedArrayBuffer) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < RING_HEADER_BYTES + MIN_CAPACITY) {
      throw new TypeError('ring: expected a SharedArrayBuffer made by createRingBuffer()');
    }
    this.sab = sab;
    this.hdr = new Int32Array(sab, 0, RING_HEADER_BYTES >> 2);
    if (this.hdr[kMagicField] !== RING_MAGIC || this.hdr[kVersionField] !== RING_VERSION) {
      throw new TypeError('ring: bad magic or version in the shared header');
    }
    const cap = this.hdr[kCapacityField]!;
    if ((cap & (cap - 1)) !== 0 || cap < MIN_CAPACITY || RING_HEADER_BYTES + cap !== sab.byteLength) {
      throw new TypeError(`ring: capacity ${cap} does not match the buffer size ${sab.byteLength}`);
    }
    this.capacity = cap;
    this.mask = cap - 1;
    this.bytes = new Uint8Array(sab, RING_HEADER_BYTES, cap);
    this.words = new Uint32Array(sab, RING_HEADER_BYTES, cap >>> 2);
    this.head = Atomics.load(this.hdr, kHeadField) >>> 0;
    this.cachedTail = Atomics.load(this.hdr, kTailField) >>> 0;
    this.tail = this.cachedTail;
    this.releasedTail = this.tail;
    this.cachedHead = this.head;
    this.releaseEvery = cap >>> 4;
    const lo = Atomics.load(this.hdr, kDropsLoField) >>> 0;
    const hi = Atomics.load(this.hdr, kDropsHiField) >>> 0;
    this.drops = hi * 0x100000000 + lo;
  }

  // ---------------------------------------------------------------- producer

  /**
   * Reserves room for a record of `payloadLen` bytes with `tag` and returns the offset
   * of its payload in `bytes`, or -1 when the ring is full (the drop is counted). Write
   * the payload, then commit(). At most one reservation is open at a time.
   */
  reserve(payloadLen: number, tag: number): number {
    const need = recordSpace(payloadLen);
    const cap = this.capacity;
    let off = this.head & this.mask;
    const contiguous = cap - off;
    const total = need <= contiguous ? need : contiguous + need;
    if (need > cap || payloadLen < 0) {
      this.countDrop();
      return -1;
    }
    if (((this.head - this.cachedTail) >>> 0) + total > cap) {
      this.cachedTail = Atomics.load(this.hdr, kTailField) >>> 0;
      if (((this.head - this.cachedTail) >>> 0) + total > cap) {
        this.countDrop();
        return -1;
      }
    }
    if (need > contiguous) {
      this.words[off >>> 2] = SKIP_MARKER;
      this.head = (this.head + contiguous) >>> 0;
      off = 0;
    }
    this.words[off >>> 2] = payloadLen;
    this.words[(off >>> 2) + 1] = tag >>> 0;
    this.reservedAt = off;
    this.reservedNeed = need;
    return off + RECORD_HEADER_BYTES;
  }

  /** Publishes the record opened by reserve() and wakes a sleeping consumer. */
  commit(): void {
    if (this.reservedAt < 0) throw new Error('ring: commit() without reserve()');
    const end = this.reservedAt + this.reservedNeed;
    // zero the alignment padding so the data area never leaks stale bytes
    const payloadEnd = this.reservedAt + RECORD_HEADER_BYTES + this.words[this.reservedAt >>> 2]!;
    if (payloadEnd < end) this.bytes.fill(0, payloadEnd, end);
    this.head = (this.head + this.reservedNeed) >>> 0;
    this.reservedAt = -1;
    Atomics.store(this.hdr, kHeadField, this.head | 0);
    if (Atomics.load(this.hdr, kSleepField) !== 0) Atomics.notify(this.hdr, kHeadField);
  }

  /** Copies `payload` into one record. Returns false (and counts a drop) when full. */
  push(payload: Uint8Array, tag = 0): boolean {
    const at = this.reserve(payload.length, tag);
    if (at < 0) return false;
    this.bytes.set(payload, at);
    this.commit();
    return true;
  }

  /**
   * Writes one packet record: timestamp, wire length and `capLen` frame bytes copied
   * from `src` at `srcOff`. Returns false (and counts a drop) when full.
   */
  pushPacket(tsSec: number, tsNsec: number, wireLen: number, src: Uint8Array, srcOff: number, capLen: number): boolean {
    const at = this.reserve(PACKET_HEADER_BYTES + capLen, TAG_PACKET);
    if (at < 0) return false;
    const w = at >>> 2;
    this.words[w] = tsSec >>> 0;
    this.words[w + 1] = tsNsec >>> 0;
    this.words[w + 2] = capLen;
    this.words[w + 3] = wireLen >>> 0;
    const dst = at + PACKET_HEADER_BYTES;
    // no view is made per packet: small frames by a loop, others by Buffer's native copy
    if (srcOff === 0 && capLen === src.length) this.bytes.set(src, dst);
    else if (capLen <= 64) for (let i = 0; i < capLen; i++) this.bytes[dst + i] = src[srcOff + i]!;
    else bufferCopy.call(src, this.bytes, dst, srcOff, srcOff + capLen);
    this.commit();
    return true;
  }

  /**
   * For producers that must not lose records (pcap replay, tests): blocks until a record
   * of `payloadLen` bytes fits or `timeoutMs` passed. Returns true when it fits. The
   * native capture producer never waits: it drops and counts instead.
   */
  waitForSpace(payloadLen: number, timeoutMs: number): boolean {
    if (this.fits(payloadLen)) return true;
    Atomics.store(this.hdr, kProducerSleepField, 1);
    const t = Atomics.load(this.hdr, kTailField);
    this.cachedTail = t >>> 0;
    if (!this.fitsCached(payloadLen)) Atomics.wait(this.hdr, kTailField, t, timeoutMs);
    Atomics.store(this.hdr, kProducerSleepField, 0);
    return this.fits(payloadLen);
  }

  private fitsCached(payloadLen: number): boolean {
    const need = recordSpace(payloadLen);
    const contiguous = this.capacity - (this.head & this.mask);
    const total = need <= contiguous ? need : contiguous + need;
    return ((this.head - this.cachedTail) >>> 0) + total <= this.capacity;
  }

  private fits(payloadLen: number): boolean {
    if (this.fitsCached(payloadLen)) return true;
    this.cachedTail = Atomics.load(this.hdr, kTailField) >>> 0;
    return this.fitsCached(payloadLen);
  }

  /** Marks the stream as finished: the consumer drains what is left, then sees closed. */
  close(): void {
    Atomics.or(this.hdr, kFlagsField, FLAG_CLOSED);
    Atomics.notify(this.hdr, kHeadField);
  }

  private countDrop(): void {
    this.drops++;
    Atomics.store(this.hdr, kDropsHiField, Math.floor(this.drops / 0x100000000) | 0);
    Atomics.store(this.hdr, kDropsLoField, this.drops | 0);
  }

  // ---------------------------------------------------------------- consumer

  /**
   * Takes the next record into `into` (views, no copy, nothing allocated). The previous
   * record's space is given back first. Returns false when the ring is empty.
   */
  pop(into: RingRecord): boolean {
    if (this.tail === this.cachedHead) {
      this.release();
      this.cachedHead = Atomics.load(this.hdr, kHeadField) >>> 0;
      if (this.tail === this.cachedHead) return false;
    } else if (((this.tail - this.releasedTail) >>> 0) >= this.releaseEvery) {
      this.release();
    }
    let off = this.tail & this.mask;
    let len = this.words[off >>> 2]!;
    if (len === SKIP_MARKER) {
      this.tail = (this.tail + this.capacity - off) >>> 0;
      off = 0;
      len = this.words[0]!;
    }
    const tag = this.words[(off >>> 2) + 1]!;
    into.buf = this.bytes;
    into.tag = tag;
    if (tag === TAG_PACKET && len >= PACKET_HEADER_BYTES) {
      const w = (off + RECORD_HEADER_BYTES) >>> 2;
      into.tsSec = this.words[w]!;
      into.tsNsec = this.words[w + 1]!;
      into.capLen = this.words[w + 2]!;
      into.wireLen = this.words[w + 3]!;
      into.off = off + RECORD_HEADER_BYTES + PACKET_HEADER_BYTES;
      into.len = into.capLen;
    } else {
      into.off = off + RECORD_HEADER_BYTES;
      into.len = len;
    }
    this.tail = (this.tail + recordSpace(len)) >>> 0;
    return true;
  }

  /** Gives every popped record's space back to the producer (pop() does it lazily). */
  release(): void {
    if (this.releasedTail !== this.tail) {
      this.releasedTail = this.tail;
      Atomics.store(this.hdr, kTailField, this.tail | 0);
      if (Atomics.load(this.hdr, kProducerSleepField) !== 0) Atomics.notify(this.hdr, kTailField);
    }
  }

  /**
   * Blocks the calling thread until a record is available, the producer closed the
   * ring, or `timeoutMs` passed. Returns true when a record is available.
   */
  wait(timeoutMs: number): boolean {
    if (this.tail !== this.cachedHead) return true;
    this.release();
    Atomics.store(this.hdr, kSleepField, 1);
    const h = Atomics.load(this.hdr, kHeadField);
    if ((h >>> 0) === this.tail && (Atomics.load(this.hdr, kFlagsField) & FLAG_CLOSED) === 0) {
      Atomics.wait(this.hdr, kHeadField, h, timeoutMs);
    }
    Atomics.store(this.hdr, kSleepField, 0);
    this.cachedHead = Atomics.load(this.hdr, kHeadField) >>> 0;
    return this.tail !== this.cachedHead;
  }

  /** True when the producer closed the ring and every record was popped. */
  get finished(): boolean {
    return (Atomics.load(this.hdr, kFlagsField) & FLAG_CLOSED) !== 0 && this.tail === (Atomics.load(this.hdr, kHeadField) >>> 0);
  }

  get closed(): boolean {
    return (Atomics.load(this.hdr, kFlagsField) & FLAG_CLOSED) !== 0;
  }

  // ---------------------------------------------------------------- either side

  /** Wakes a consumer blocked in wait() (used on behalf of the native producer). */
  notifyConsumer(): void {
    Atomics.notify(this.hdr, kHeadField);
  }

  /** Records dropped by the producer because the ring was full (64-bit safe up to 2^53). */
  get dropped(): number {
    for (;;) {
      const hi = Atomics.load(this.hdr, kDropsHiField) >>> 0;
      const lo = Atomics.load(this.hdr, kDropsLoField) >>> 0;
      if ((Atomics.load(this.hdr, kDropsHiField) >>> 0) === hi) return hi * 0x100000000 + lo;
    }
  }

  /** Bytes published and not yet released, as seen now. */
  get used(): number {
    return (Atomics.load(this.hdr, kHeadField) - Atomics.load(this.hdr, kTailField)) >>> 0;
  }
}

// ------------------------------------------------------------------- shard routing

function fnvRange(h: number, b: Uint8Array, off: number, n: number): number {
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[off + i]!, 16777619);
  return h;
}

/**
 * Symmetric flow hash of a frame, the same function as the native capture thread's
 * (native-bindings/afpacket/src/shard_hash.h), so that a JavaScript producer (pcap
 * replay) routes packets to shards exactly as live capture does: both directions of a
 * 5-tuple give the same value. Ethernet (up to two VLAN tags) or raw IP (`rawIp`);
 * IPv4/IPv6 (extension headers skipped); TCP/UDP/SCTP ports. Fragments and packets
 * without ports hash on addresses and protocol; non-IP frames hash to 0. Allocates nothing.
 * shard = shardHash(...) % shards.
 */
export function shardHash(buf: Uint8Array, off: number, len: number, rawIp = false): number {
  const end = off + len;
  let p = off;
  let type: number;
  if (rawIp) {
    if (len < 1) return 0;
    const v = buf[p]! >> 4;
    type = v === 4 ? 0x0800 : v === 6 ? 0x86dd : 0;
  } else {
    if (len < 14) return 0;
    p += 12;
    type = (buf[p]! << 8) | buf[p + 1]!;
    for (let depth = 0; depth < 2 && (type === 0x8100 || type === 0x88a8 || type === 0x9100); depth++) {
      if (p + 6 > end) return 0;
      p += 4;
      type = (buf[p]! << 8) | buf[p + 1]!;
    }
    p += 2;
  }
  let src: number;
  let dst: number;
  let alen: number;
  let proto: number;
  let l4: number;
  let portsOk = true;
  if (type === 0x0800) {
    if (p + 20 > end || buf[p]! >> 4 !== 4) return 0;
    const ihl = (buf[p]! & 0x0f) * 4;
    if (ihl < 20) return 0;
    proto = buf[p + 9]!;
    src = p + 12;
    dst = p + 16;
    alen = 4;
    l4 = p + ihl;
    if ((((buf[p + 6]! << 8) | buf[p + 7]!) & 0x3fff) !== 0) portsOk = false;
  } else if (type === 0x86dd) {
    if (p + 40 > end || buf[p]! >> 4 !== 6) return 0;
    proto = buf[p + 6]!;
    src = p + 8;
    dst = p + 24;
    alen = 16;
    l4 = p + 40;
    for (let i = 0; i < 8; i++) {
      if (proto === 0 || proto === 43 || proto === 60) {
        if (l4 + 2 > end) { portsOk = false; break; }
        proto = buf[l4]!;
        l4 += (buf[l4 + 1]! + 1) * 8;
      } else if (proto === 51) {
        if (l4 + 2 > end) { portsOk = false; break; }
        proto = buf[l4]!;
        l4 += (buf[l4 + 1]! + 2) * 4;
      } else if (proto === 44) {
        if (l4 + 8 > end) { portsOk = false; break; }
        proto = buf[l4]!;
        portsOk = false;
        break;
      } else {
        break;
      }
    }
  } else {
    return 0;
  }
  let sport = 0;
  let dport = 0;
  if (portsOk && (proto === 6 || proto === 17 || proto === 132) && l4 + 4 <= end) {
    sport = (buf[l4]! << 8) | buf[l4 + 1]!;
    dport = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
  }
  let c = 0;
  for (let i = 0; i < alen && c === 0; i++) c = buf[src + i]! - buf[dst + i]!;
  if (c > 0 || (c === 0 && sport > dport)) {
    const t = src;
    src = dst;
    dst = t;
    const tp = sport;
    sport = dport;
    dport = tp;
  }
  let h = 2166136261 | 0;
  h = fnvRange(h, buf, src, alen);
  h = fnvRange(h, buf, dst, alen);
  h = Math.imul(h ^ (sport >> 8), 16777619);
  h = Math.imul(h ^ (sport & 0xff), 16777619);
  h = Math.imul(h ^ (dport >> 8), 16777619);
  h = Math.imul(h ^ (dport & 0xff), 16777619);
  h = Math.imul(h ^ proto, 16777619);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
