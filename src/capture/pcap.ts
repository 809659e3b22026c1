/**
 * Classic pcap reader, and the chunked file input shared with the pcapng reader.
 *
 * Files are read with fs.readSync in fixed chunks into one buffer that is reused
 * for the whole file (it only grows when a single record is larger than it).
 * Frames handed out by next() are views into that buffer, valid until the next call.
 */
import { closeSync, readSync } from 'node:fs';
import { StnnError } from '../util/errors.js';
import type { CaptureReader, RawFrame } from './reader.js';

/** Default chunk size of one read. */
export const CHUNK_BYTES = 1 << 20;
/** No record or block we parse may be larger than this (hostile lengths must not grow memory). */
export const MAX_RECORD_BYTES = 64 << 20;

/**
 * A forward-only window over a file. `buf[pos .. len)` holds file bytes starting
 * at file offset `base + pos`.
 */
export class FileInput {
  buf: Buffer;
  view: DataView;
  /** File offset of buf[0]. */
  base = 0;
  /** Number of valid bytes in buf. */
  len = 0;
  /** Cursor into buf. */
  pos = 0;
  private fd: number;

  /**
   * `seekable`: a regular file of known `size`, read with positioned reads. Otherwise
   * (a pipe, a FIFO, /dev/stdin) `size` is 0 and the input is read strictly in order.
   */
  constructor(
    readonly path: string,
    fd: number,
    readonly size: number,
    readonly seekable: boolean,
    chunk = CHUNK_BYTES,
  ) {
    this.fd = fd;
    this.buf = Buffer.allocUnsafeSlow(chunk);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** File offset of the cursor. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Makes at least n bytes available at buf[pos..]. Returns the number of bytes
   * available from pos, which is below n only at end of file. May move the data
   * inside buf (pos changes): read offsets from `pos` after calling it.
   */
  need(n: number): number {
    const have = this.len - this.pos;
    return have >= n ? have : this.refill(n);
  }

  private refill(n: number): number {
    const keep = this.len - this.pos;
    if (n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < n) cap *= 2;
      const nb = Buffer.allocUnsafeSlow(cap);
      this.buf.copy(nb, 0, this.pos, this.len);
      this.buf = nb;
      this.view = new DataView(nb.buffer, nb.byteOffset, nb.byteLength);
    } else if (this.pos > 0 && keep > 0) {
      this.buf.copyWithin(0, this.pos, this.len);
    }
    this.base += this.pos;
    this.pos = 0;
    this.len = keep;
    if (this.fd < 0) return this.len;
    while (this.len < n) {
      const r = readSync(this.fd, this.buf, this.len, this.buf.length - this.len, this.seekable ? this.base + this.len : null);
      if (r <= 0) break;
      this.len += r;
    }
    return this.len;
  }

  /**
   * Advances the cursor by n bytes, which need not be buffered. Returns false when
   * the input ends first (the cursor is then at the end of the input).
   */
  skip(n: number): boolean {
    if (this.pos + n <= this.len) {
      this.pos += n;
      return true;
    }
    if (this.seekable) {
      const target = this.base + this.pos + n;
      this.base = target <= this.size ? target : this.size;
      this.pos = 0;
      this.len = 0;
      return target <= this.size;
    }
    // Read and drop what is not buffered.
    let rest = n - (this.len - this.pos);
    this.base += this.len;
    this.pos = 0;
    this.len = 0;
    while (rest > 0) {
      const r = this.fd < 0 ? 0 : readSync(this.fd, this.buf, 0, Math.min(this.buf.length, rest), null);
      if (r <= 0) return false;
      rest -= r;
      this.base += r;
    }
    return true;
  }

  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      closeSync(fd);
    }
  }
}

export function truncatedError(path: string, offset: number, detail: string): StnnError {
  return new StnnError('STNN_CAPTURE_TRUNCATED', `${path}: truncated record at byte offset ${offset} (${detail})`);
}

export function corruptError(path: string, offset: number, detail: string): StnnError {
  return new StnnError('STNN_CAPTURE_TRUNCATED', `${path}: corrupt record at byte offset ${offset} (${detail})`);
}

/** Largest capture length accepted whatever the header's snap length says (as Wireshark). */
const STANDARD_MAX_SNAP = 262144;

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
/** Alexey Kuznetsov's modified pcap: 8 more bytes per record header. */
export const PCAP_MAGIC_KUZNETSOV = 0xa1b2cd34;

export class PcapReader implements CaptureReader {
  readonly format = 'pcap' as const;
  readonly totalBytes: number;
  bytesRead = 0;
  readonly linkType: number;
  readonly snapLen: number;
  private readonly le: boolean;
  private readonly nsecMul: number;
  private readonly hdrLen: number;
  private readonly maxCap: number;
  private done = false;

  /** `inp` must be positioned at the start of the file; `magic` read big-endian from its first 4 bytes. */
  constructor(
    readonly path: string,
    private readonly inp: FileInput,
    magicBE: number,
  ) {
    this.totalBytes = inp.size;
    let le: boolean;
    let magic: number;
    if (magicBE === PCAP_MAGIC_USEC || magicBE === PCAP_MAGIC_NSEC || magicBE === PCAP_MAGIC_KUZNETSOV) {
      le = false;
      magic = magicBE;
    } else {
      le = true;
      magic = ((magicBE & 0xff) << 24 | (magicBE & 0xff00) << 8 | (magicBE >>> 8) & 0xff00 | magicBE >>> 24) >>> 0;
    }
    this.le = le;
    this.nsecMul = magic === PCAP_MAGIC_NSEC ? 1 : 1000;
    this.hdrLen = magic === PCAP_MAGIC_KUZNETSOV ? 24 : 16;
    const got = inp.need(24);
    if (got < 24) {
      inp.close();
      throw new StnnError('STNN_BAD_INPUT', `${path}: truncated pcap file header (${got} bytes, need 24)`);
    }
    const v = inp.view;
    const p = inp.pos;
    const major = v.getUint16(p + 4, le);
    if (major !== 2) {
      inp.close();
      throw new StnnError('STNN_BAD_INPUT', `${path}: unsupported pcap version ${major}.${v.getUint16(p + 6, le)}`);
    }
    this.snapLen = v.getUint32(p + 16, le);
    // The low 16 bits are the link type; the high bits carry FCS information.
    this.linkType = v.getUint32(p + 20, le) & 0xffff;
    this.maxCap = Math.min(Math.max(this.snapLen, STANDARD_MAX_SNAP), MAX_RECORD_BYTES);
    inp.skip(24);
    this.bytesRead = 24;
  }

  next(out: RawFrame): boolean {
    if (this.done) return false;
    const inp = this.inp;
    const h = this.hdrLen;
    const avail = inp.need(h);
    if (avail < h) {
      if (avail === 0) {
        this.finish();
        return false;
      }
      this.fail(truncatedError(this.path, inp.offset, `record header of ${h} bytes, ${avail} present`));
    }
    const le = this.le;
    const capLen = inp.view.getUint32(inp.pos + 8, le);
    if (capLen > this.maxCap) {
      this.fail(corruptError(this.path, inp.offset, `capture length ${capLen} exceeds the maximum ${this.maxCap}`));
    }
    const total = h + capLen;
    const got = inp.need(total);
    if (got < total) {
      this.fail(truncatedError(this.path, inp.offset, `record of ${total} bytes, ${got} present`));
    }
    const v = inp.view;
    const p = inp.pos;
    let sec = v.getUint32(p, le);
    let nsec = v.getUint32(p + 4, le) * this.nsecMul;
    if (nsec >= 1e9) {
      const carry = Math.floor(nsec / 1e9);
      sec += carry;
      nsec -= carry * 1e9;
    }
    out.linkType = this.linkType;
    out.interfaceId = 0;
    out.tsSec = sec;
    out.tsNsec = nsec;
    out.capLen = capLen;
    out.wireLen = v.getUint32(p + 12, le);
    out.buf = inp.buf;
    out.off = p + h;
    inp.skip(total);
    this.bytesRead = inp.offset;
    return true;
  }

  private finish(): void {
    this.done = true;
    this.bytesRead = this.inp.offset;
    this.inp.close();
  }

  private fail(err: StnnError): never {
    this.done = true;
    this.inp.close();
    throw err;
  }

  close(): void {
    this.done = true;
    this.inp.close();
  }
}
