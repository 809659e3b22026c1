/**
 * pcapng reader: several sections (each with its own byte order), several
 * interfaces per section (each with its own link type, snap length, if_tsresol
 * and if_tsoffset), Enhanced, Simple and obsolete Packet Blocks. Every other
 * block type is skipped without being buffered.
 *
 * RawFrame.interfaceId is the file-wide index of the interface: the number of
 * Interface Description Blocks that came before it in the file, all sections
 * together (the first section's interface 0 is 0; the second section's
 * interface 0 follows the first section's last interface).
 */
import { StnnError } from '../util/errors.js';
import { FileInput, MAX_RECORD_BYTES, corruptError, truncatedError } from './pcap.js';
import type { CaptureReader, RawFrame } from './reader.js';

const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 0x00000001;
const BT_OPB = 0x00000002;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BOM = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

/** Bound on the number of interfaces kept (hostile files must not grow memory without bound). */
const MAX_INTERFACES = 1 << 16;

/** How an interface's 64-bit timestamp is turned into seconds + nanoseconds. */
const enum TsKind {
  /** 10^-d with d <= 9: divide by `div`, remainder × `mul` nanoseconds. */
  Decimal = 0,
  /** 2^-b. */
  Binary = 1,
  /** 10^-d with d > 9: BigInt arithmetic (rare; allocates). */
  DecimalBig = 2,
}

const TWO32 = 4294967296;

export class PcapngReader implements CaptureReader {
  readonly format = 'pcapng' as const;
  readonly totalBytes: number;
  bytesRead = 0;

  private le = true;
  private done = false;
  /** Global index of the current section's first interface, and the section's interface count. */
  private sectionBase = 0;
  private sectionCount = 0;
  // Per interface (global index):
  private readonly ifLinkType: number[] = [];
  private readonly ifSnapLen: number[] = [];
  private readonly ifTsKind: TsKind[] = [];
  private readonly ifTsDiv: number[] = [];
  private readonly ifTsMul: number[] = [];
  private readonly ifTsOffset: number[] = [];
  /** Result of the last timestamp conversion, and the last frame's time (for SPBs). */
  // (-0: doubles from the start, see DecodedPacket; the nanoseconds are computed in floating
  // point, and a field turning from small integer to double deoptimises its readers)
  private cSec = -0;
  private cNsec = -0;
  private lastSec = -0; // (set to +0 in the constructor: an SPB before any EPB takes time 0)
  private lastNsec = -0;

  /** `inp` must be positioned at the start of the file, whose first 4 bytes are the SHB type. */
  constructor(
    readonly path: string,
    private readonly inp: FileInput,
  ) {
    this.totalBytes = inp.size;
    this.lastSec = 0;
    this.lastNsec = 0;
    // The first block, the section header, must be whole before this is a capture: a file
    // cut inside it is bad input (exit 2) like a pcap cut inside its file header, not a
    // truncated capture. next() reads the block again from the buffer.
    const bad = (reason: string): never => {
      inp.close();
      throw new StnnError('STNN_BAD_INPUT', `${path}: ${reason}`);
    };
    let avail = inp.need(28);
    if (avail < 12) bad(`truncated pcapng section header block (${avail} bytes, need at least 28)`);
    const bom = inp.view.getUint32(inp.pos + 8, false);
    if (bom !== BOM && bom !== 0x4d3c2b1a) bad('not a valid pcapng file (bad byte-order magic)');
    const le = bom !== BOM;
    const len = inp.view.getUint32(inp.pos + 4, le);
    if (len < 28 || (len & 3) !== 0 || len > MAX_RECORD_BYTES) {
      bad(`not a valid pcapng file (section header block total length ${len})`);
    }
    avail = inp.need(len);
    if (avail < len) bad(`truncated pcapng section header block (${avail} bytes, need ${len})`);
    const trailer = inp.view.getUint32(inp.pos + len - 4, le);
    if (trailer !== len) {
      bad(`not a valid pcapng file (section header block total length ${len} differs from trailing ${trailer})`);
    }
    const major = inp.view.getUint16(inp.pos + 12, le);
    if (major !== 1) bad(`unsupported pcapng version ${major}`);
  }

  next(out: RawFrame): boolean {
    if (this.done) return false;
    const inp = this.inp;
    for (;;) {
      const start = inp.offset;
      const avail = inp.need(12);
      if (avail < 12) {
        if (avail === 0) {
          this.done = true;
          this.bytesRead = start;
          inp.close();
          return false;
        }
        this.fail(truncatedError(this.path, start, `block header of 12 bytes, ${avail} present`));
      }
      let v = inp.view;
      let p = inp.pos;
      const type = v.getUint32(p, this.le);
      if (type === BT_SHB) {
        const bom = v.getUint32(p + 8, false);
        if (bom === BOM) this.le = false;
        else if (bom === 0x4d3c2b1a) this.le = true;
        else this.fail(corruptError(this.path, start, `section header with bad byte-order magic 0x${bom.toString(16)}`));
      }
      const le = this.le;
      const len = v.getUint32(p + 4, le);
      if (len < 12 || (len & 3) !== 0) {
        this.fail(corruptError(this.path, start, `block type 0x${type.toString(16)} with total length ${len}`));
      }
      if (type !== BT_EPB && type !== BT_SPB && type !== BT_IDB && type !== BT_SHB && type !== BT_OPB) {
        // Unknown or uninteresting block: skip it unread.
        if (!inp.skip(len)) {
          this.fail(truncatedError(this.path, start, `block of ${len} bytes, ${inp.offset - start} present`));
        }
        continue;
      }
      if (len > MAX_RECORD_BYTES) {
        this.fail(corruptError(this.path, start, `block total length ${len} exceeds the maximum ${MAX_RECORD_BYTES}`));
      }
      const got = inp.need(len);
      if (got < len) this.fail(truncatedError(this.path, start, `block of ${len} bytes, ${got} present`));
      v = inp.view;
      p = inp.pos;
      if (v.getUint32(p + len - 4, le) !== len) {
        this.fail(
          corruptError(this.path, start, `block total length ${len} differs from trailing ${v.getUint32(p + len - 4, le)}`),
        );
      }
      if (type === BT_EPB || type === BT_OPB) {
        if (len < 32) this.fail(corruptError(this.path, start, `packet block too short (${len} bytes)`));
        const id = type === BT_EPB ? v.getUint32(p + 8, le) : v.getUint16(p + 8, le);
        if (id >= this.sectionCount) {
          this.fail(corruptError(this.path, start, `packet block for undeclared interface ${id}`));
        }
        const capLen = v.getUint32(p + 20, le);
        if (capLen > len - 32) {
          this.fail(corruptError(this.path, start, `captured length ${capLen} does not fit in a block of ${len} bytes`));
        }
        const g = this.sectionBase + id;
        // (as int32: a uint32 of 2^31 or more, half the low words, is boxed when passed)
        this.convertTs(g, v.getInt32(p + 12, le), v.getInt32(p + 16, le));
        out.linkType = this.ifLinkType[g]!;
        out.interfaceId = g;
        out.tsSec = this.lastSec = this.cSec;
        out.tsNsec = this.lastNsec = this.cNsec;
        out.capLen = capLen;
        out.wireLen = v.getUint32(p + 24, le);
        out.buf = inp.buf;
        out.off = p + 28;
        inp.skip(len);
        this.bytesRead = inp.offset;
        return true;
      }
      if (type === BT_SPB) {
        if (len < 16) this.fail(corruptError(this.path, start, `simple packet block too short (${len} bytes)`));
        if (this.sectionCount === 0) {
          this.fail(corruptError(this.path, start, 'simple packet block before any interface description'));
        }
        const g = this.sectionBase;
        const wireLen = v.getUint32(p + 8, le);
        let capLen = len - 16;
        if (wireLen < capLen) capLen = wireLen;
        const snap = this.ifSnapLen[g]!;
        if (snap !== 0 && snap < capLen) capLen = snap;
        out.linkType = this.ifLinkType[g]!;
        out.interfaceId = g;
        // An SPB has no timestamp: the previous packet's time is the best estimate.
        out.tsSec = this.lastSec;
        out.tsNsec = this.lastNsec;
        out.capLen = capLen;
        out.wireLen = wireLen;
        out.buf = inp.buf;
        out.off = p + 12;
        inp.skip(len);
        this.bytesRead = inp.offset;
        return true;
      }
      if (type === BT_IDB) {
        if (len < 20) this.fail(corruptError(this.path, start, `interface description block too short (${len} bytes)`));
        this.addInterface(v, p, len, le, start);
      } else {
        // SHB: a new section; its interfaces are numbered after the previous ones.
        if (len < 28) this.fail(corruptError(this.path, start, `section header block too short (${len} bytes)`));
        const major = v.getUint16(p + 12, le);
        if (major !== 1) this.fail(corruptError(this.path, start, `unsupported pcapng section version ${major}`));
        this.sectionBase += this.sectionCount;
        this.sectionCount = 0;
      }
      inp.skip(len);
      this.bytesRead = inp.offset;
    }
  }

  private addInterface(v: DataView, p: number, len: number, le: boolean, start: number): void {
    if (this.ifLinkType.length >= MAX_INTERFACES) {
      this.fail(corruptError(this.path, start, `more than ${MAX_INTERFACES} interfaces`));
    }
    let kind = TsKind.Decimal;
    let div = 1e6;
    let mul = 1000;
    let offset = 0;
    // Options: code u16, length u16, value padded to 4 bytes.
    let o = p + 16;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = v.getUint16(o, le);
      const olen = v.getUint16(o + 2, le);
      if (code === OPT_ENDOFOPT || o + 4 + olen > end) break;
      if (code === OPT_IF_TSRESOL && olen >= 1) {
        const r = v.getUint8(o + 4);
        const e = r & 0x7f;
        if (r & 0x80) {
          kind = TsKind.Binary;
          div = e;
        } else if (e <= 9) {
          kind = TsKind.Decimal;
          div = 10 ** e;
          mul = 10 ** (9 - e);
        } else {
          kind = TsKind.DecimalBig;
          div = e;
        }
      } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        const hi = v.getInt32(le ? o + 8 : o + 4, le);
        const lo = v.getUint32(le ? o + 4 : o + 8, le);
        offset = hi * TWO32 + lo;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifLinkType.push(v.getUint16(p + 8, le));
    this.ifSnapLen.push(v.getUint32(p + 12, le));
    this.ifTsKind.push(kind);
    this.ifTsDiv.push(div);
    this.ifTsMul.push(mul);
    this.ifTsOffset.push(offset);
    this.sectionCount++;
  }

  /** Converts interface g's timestamp (hi:lo units, each an int32 holding the uint32's bits) to this.cSec / this.cNsec. */
  private convertTs(g: number, hi: number, lo: number): void {
    hi >>>= 0;
    lo >>>= 0;
    const kind = this.ifTsKind[g]!;
    const div = this.ifTsDiv[g]!;
    let sec: number;
    let nsec: number;
    if (kind === TsKind.Decimal) {
      if (hi < 0x200000) {
        // hi:lo < 2^53: exact in a double.
        const t = hi * TWO32 + lo;
        sec = Math.floor(t / div);
        nsec = (t - sec * div) * this.ifTsMul[g]!;
      } else if (div <= 0x100000) {
        // (hi·2^32 + lo) / div = (hi div div)·2^32 + (r·2^32 + lo) / div with r = hi mod div:
        // r·2^32 + lo < 2^52, so one exact double division (microseconds and coarser).
        const r = hi % div;
        const x = r * TWO32 + lo;
        const q = Math.floor(x / div);
        sec = ((hi - r) / div) * TWO32 + q;
        nsec = (x - q * div) * this.ifTsMul[g]!;
      } else {
        // Long division by 16-bit limbs keeps every intermediate below 2^53 (div <= 1e9).
        let r = hi >>> 16;
        const q3 = Math.floor(r / div);
        r -= q3 * div;
        r = r * 65536 + (hi & 0xffff);
        const q2 = Math.floor(r / div);
        r -= q2 * div;
        r = r * 65536 + (lo >>> 16);
        const q1 = Math.floor(r / div);
        r -= q1 * div;
        r = r * 65536 + (lo & 0xffff);
        const q0 = Math.floor(r / div);
        r -= q0 * div;
        sec = ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
        nsec = r * this.ifTsMul[g]!;
      }
    } else if (kind === TsKind.Binary) {
      const b = div;
      if (b <= 32) {
        const frac = b === 32 ? lo : lo & ((1 << b) - 1) >>> 0;
        sec = hi * 2 ** (32 - b) + (b === 32 ? 0 : lo >>> b);
        nsec = Math.floor((frac / 2 ** b) * 1e9);
      } else {
        const hb = b - 32;
        const hiFrac = hb >= 32 ? hi : hi & (((1 << hb) >>> 0) - 1);
        sec = hb >= 32 ? 0 : hi >>> hb;
        nsec = Math.floor(((hiFrac * TWO32 + lo) / 2 ** b) * 1e9);
      }
    } else {
      const t = (BigInt(hi) << 32n) | BigInt(lo);
      const d = 10n ** BigInt(div);
      sec = Number(t / d);
      nsec = Number(((t % d) * 1000000000n) / d);
    }
    this.cSec = sec + this.ifTsOffset[g]!;
    this.cNsec = nsec;
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
