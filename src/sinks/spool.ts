/**
 * Bounded on-disk spool: the backlog of one sink.
 *
 * Layout of the directory (one per sink):
 *   seg-<16 digits>.spool   append-only segments; each record is
 *                           u32 BE payload length · u32 BE CRC-32 of the payload · payload
 *   cursor                  JSON {"segment": n, "offset": bytes}: the first record not yet
 *                           acknowledged by the sink (written to cursor.tmp, then renamed)
 *
 * The sink appends every serialised record here (write-ahead) and sends from here, so the
 * order of delivery is the order of writes whether the sink was up or down. A record leaves the
 * spool (`commit`) once the transport accepted it; segments entirely behind the cursor are
 * deleted. The bound (`maxBytes`) is on the bytes the segments occupy on disk: an append that
 * would cross it is refused and the caller counts the record as dropped.
 *
 * Guarantees: records appended are in the page cache at once (they survive a crash of the
 * process), and on disk after `sync()` (the sink's flush/close). The cursor is persisted on every
 * commit, after the records were accepted, so a crash between the two re-sends at most the last
 * committed batch: at-least-once across a crash, exactly-once otherwise. A torn or corrupt
 * record (crash during a write, disk trouble) is detected by length and CRC when the spool is
 * opened: the segment is cut there and the loss is counted in `corrupt`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { StnnError } from '../util/errors.js';
import { makeDirs, mkdirFailure, nearestExisting, probeDirs } from '../util/mkdirs.js';
import { processAlive } from '../util/process.js';

export interface SpoolOptions {
  /** Directory of this sink's spool (created if missing). */
  dir: string;
  /** Bound on the spool's size on disk, in bytes (default 256 MiB). */
  maxBytes?: number;
  /** Size at which a new segment is started (default min(maxBytes/8, 16 MiB), at least 4 KiB). */
  segmentBytes?: number;
}

/** The interface the delivery core uses; Spool (disk) and MemoryBacklog implement it. */
export interface Backlog {
  /** Appends one record; false when the bound would be crossed (the record is not kept). */
  append(payload: Buffer): boolean;
  /** Up to `max` records from the head, oldest first, without removing them. */
  peek(max: number, maxBytes?: number): Buffer[];
  /** Removes the first `n` records (those returned by the last peek). */
  commit(n: number): void;
  /** Records waiting. */
  readonly pending: number;
  /** Bytes held (on disk for the spool). */
  readonly bytes: number;
  /** True when what it holds outlives the process (the disk spool). */
  readonly durable: boolean;
  sync(): void;
  close(): void;
}

const HDR = 8;
/** Spool directories open in this process (two sinks must not share one). */
const openDirs = new Set<string>();
const SEG_RE = /^seg-(\d{16})\.spool$/;
const segName = (n: number) => `seg-${String(n).padStart(16, '0')}.spool`;
/** A record longer than this is refused (and a length field beyond it marks corruption). */
export const MAX_RECORD = 64 * 1024 * 1024;

interface Segment {
  seq: number;
  /** Bytes of valid records in the file. */
  size: number;
  /** Records in it not yet committed (for the head segment: from the cursor on). */
  records: number;
}

/** Throws when the `lock` file of `dir` names another live process. */
function checkLock(dir: string): void {
  const lockFile = path.join(dir, 'lock');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(lockFile, 'utf8'));
  } catch {
    return; // no lock file: free
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  if (processAlive(pid)) throw new StnnError('STNN_CONFIG', `spool ${dir}: in use by process ${pid} (remove ${lockFile} if that is wrong)`);
}

/**
 * Why `p` could not be made or opened for writing ('' when it could), found without creating
 * anything: an existing `p` must be a writable file (`kind` 'file') or directory ('dir'); else
 * its nearest existing ancestor must be a writable directory (mkdir -p would make the rest).
 */
export function notCreatable(p: string, kind: 'file' | 'dir'): string {
  let q: string;
  let st: fs.Stats;
  try {
    ({ path: q, stat: st } = nearestExisting(p));
  } catch (e) {
    return (e as Error).message;
  }
  const self = q === path.resolve(p);
  if (self && kind === 'file' && st.isDirectory()) return `${p} is a directory`;
  if (!self || kind === 'dir') {
    if (!st.isDirectory()) return `${self ? p : q} is not a directory`;
  }
  try {
    fs.accessSync(q, self && kind === 'file' ? fs.constants.W_OK : fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

/**
 * What `new Spool({dir})` would refuse, checked without creating anything: a directory that
 * cannot be made, one used twice in `taken` (resolved paths, added to), one locked by another
 * live process. Errors are STNN_CONFIG, worded as the Spool's own.
 */
export function checkSpoolDir(dir: string, taken: Set<string>, key?: string): void {
  const resolved = path.resolve(dir);
  if (taken.has(resolved) || openDirs.has(resolved)) throw new StnnError('STNN_CONFIG', `spool ${dir}: already used by another sink of this process`);
  taken.add(resolved);
  const why = notCreatable(dir, 'dir');
  if (why) throw new StnnError('STNN_CONFIG', `spool ${dir}: ${why}`);
  const made = probeDirs(dir); // what a permission check cannot tell (e.g. under /proc)
  if (made) throw new StnnError('STNN_CONFIG', `${key ?? 'spool.dir'}: spool ${dir}: ${made}`);
  checkLock(dir);
}

export class Spool implements Backlog {
  readonly durable = true;
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  /** Records lost to a torn/corrupt segment tail found at open. */
  corrupt = 0;
  private segs: Segment[] = [];
  private headOffset = 0;
  private wfd = -1;
  private rfd = -1;
  private rfdSeq = -1;
  private _bytes = 0;
  private _pending = 0;
  /** Byte lengths (with header) of the records returned by the last peek. */
  private peeked: number[] = [];
  private readonly hdr = Buffer.alloc(HDR);

  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    if (!(this.maxBytes >= 1024)) throw new StnnError('STNN_CONFIG', `spool ${opts.dir}: maxBytes must be at least 1024 (got ${opts.maxBytes})`);
    this.segmentBytes = Math.max(4096, opts.segmentBytes ?? Math.min(Math.floor(this.maxBytes / 8), 16 * 1024 * 1024));
    try {
      makeDirs(this.dir);
    } catch (e) {
      throw new StnnError('STNN_CONFIG', `spool ${this.dir}: ${mkdirFailure(e)}`);
    }
    try {
      this.lock();
      this.open();
    } catch (e) {
      if (e instanceof StnnError) throw e;
      throw new StnnError('STNN_RUNTIME', `spool ${this.dir}: ${(e as Error).message}`);
    }
  }

  get pending(): number {
    return this._pending;
  }

  get bytes(): number {
    return this._bytes;
  }

  /** One process, one sink per directory: a `lock` file holds the owner's pid. */
  private lock() {
    const key = path.resolve(this.dir);
    if (openDirs.has(key)) throw new StnnError('STNN_CONFIG', `spool ${this.dir}: already used by another sink of this process`);
    const lockFile = path.join(this.dir, 'lock');
    checkLock(this.dir);
    fs.writeFileSync(lockFile, String(process.pid));
    openDirs.add(key);
  }

  private file(seq: number) {
    return path.join(this.dir, segName(seq));
  }

  private open() {
    let cursor = { segment: 0, offset: 0 };
    try {
      const c = JSON.parse(fs.readFileSync(path.join(this.dir, 'cursor'), 'utf8')) as { segment?: unknown; offset?: unknown };
      if (Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset) && (c.offset as number) >= 0) {
        cursor = { segment: c.segment as number, offset: c.offset as number };
      }
    } catch {
      /* no cursor yet: start at the oldest segment */
    }
    const seqs = fs
      .readdirSync(this.dir)
      .map((n) => SEG_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      if (seq < cursor.segment) {
        fs.rmSync(this.file(seq), { force: true });
        continue;
      }
      const seg = this.scan(seq, seq === cursor.segment ? cursor.offset : 0);
      if (seg) this.segs.push(seg);
    }
    const head = this.segs[0];
    this.headOffset = head && head.seq === cursor.segment ? Math.min(cursor.offset, head.size) : 0;
    if (this.segs.length === 0) this.segs.push({ seq: Math.max(cursor.segment, (seqs.at(-1) ?? 0) + 1), size: 0, records: 0 });
    for (const s of this.segs) {
      this._bytes += s.size;
      this._pending += s.records;
    }
    if (this._pending === 0) this.reset();
    this.writeCursor();
  }

  /** Validates a segment; truncates a bad tail. Returns null for an empty file (removed). */
  private scan(seq: number, from: number): Segment | null {
    const file = this.file(seq);
    const fd = fs.openSync(file, 'r+');
    try {
      const size = fs.fstatSync(fd).size;
      let off = 0;
      let records = 0;
      let bad = false;
      while (off + HDR <= size) {
        fs.readSync(fd, this.hdr, 0, HDR, off);
        const len = this.hdr.readUInt32BE(0);
        if (len > MAX_RECORD || off + HDR + len > size) {
          bad = true;
          break;
        }
        const body = Buffer.allocUnsafe(len);
        fs.readSync(fd, body, 0, len, off + HDR);
        if (crc32(body) !== this.hdr.readUInt32BE(4)) {
          bad = true;
          break;
        }
        if (off >= from) records++;
        off += HDR + len;
      }
      if (bad || off !== size) {
        // Torn write or corruption: keep what precedes it. One lost record is counted
        // (we cannot know how many a damaged tail held).
        this.corrupt++;
        fs.ftruncateSync(fd, off);
      }
      if (off === 0) {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
        return null;
      }
      return { seq, size: off, records };
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }

  append(payload: Buffer): boolean {
    const need = HDR + payload.length;
    if (payload.length > MAX_RECORD || this._bytes + need > this.maxBytes) return false;
    let tail = this.segs[this.segs.length - 1]!;
    if (tail.size > 0 && tail.size + need > this.segmentBytes) {
      this.closeWriter();
      tail = { seq: tail.seq + 1, size: 0, records: 0 };
      this.segs.push(tail);
    }
    if (this.wfd < 0) this.wfd = fs.openSync(this.file(tail.seq), 'a');
    this.hdr.writeUInt32BE(payload.length, 0);
    this.hdr.writeUInt32BE(crc32(payload), 4);
    let done = fs.writevSync(this.wfd, [this.hdr, payload]);
    // A short write (disk full, signal) is finished by hand; a failure leaves a torn tail
    // that the next open cuts off.
    while (done < need) {
      done += done < HDR ? fs.writeSync(this.wfd, this.hdr, done, HDR - done) : fs.writeSync(this.wfd, payload, done - HDR, need - done);
    }
    tail.size += need;
    tail.records++;
    this._bytes += need;
    this._pending++;
    return true;
  }

  peek(max: number, maxBytes = Infinity): Buffer[] {
    const out: Buffer[] = [];
    this.peeked.length = 0;
    let si = 0;
    let off = this.headOffset;
    let total = 0;
    while (out.length < max && si < this.segs.length) {
      const seg = this.segs[si]!;
      if (off >= seg.size) {
        si++;
        off = 0;
        continue;
      }
      const fd = this.reader(seg.seq);
      fs.readSync(fd, this.hdr, 0, HDR, off);
      const len = this.hdr.readUInt32BE(0);
      if (out.length > 0 && total + len > maxBytes) break;
      const body = Buffer.allocUnsafe(len);
      fs.readSync(fd, body, 0, len, off + HDR);
      out.push(body);
      this.peeked.push(HDR + len);
      total += len;
      off += HDR + len;
    }
    return out;
  }

  private reader(seq: number): number {
    if (this.rfdSeq !== seq) {
      if (this.rfd >= 0) fs.closeSync(this.rfd);
      this.rfd = fs.openSync(this.file(seq), 'r');
      this.rfdSeq = seq;
    }
    return this.rfd;
  }

  commit(n: number): void {
    if (n <= 0) return;
    if (n > this.peeked.length) throw new Error(`spool ${this.dir}: commit(${n}) beyond the ${this.peeked.length} records peeked`);
    for (let i = 0; i < n; i++) {
      const seg = this.segs[0]!;
      this.headOffset += this.peeked[i]!;
      seg.records--;
      this._pending--;
      if (this.headOffset >= seg.size && this.segs.length > 1) {
        this.dropHead();
      }
    }
    this.peeked.splice(0, n);
    if (this._pending === 0) this.reset();
    this.writeCursor();
  }

  private dropHead() {
    const seg = this.segs.shift()!;
    if (this.rfdSeq === seg.seq) {
      fs.closeSync(this.rfd);
      this.rfd = -1;
      this.rfdSeq = -1;
    }
    fs.rmSync(this.file(seg.seq), { force: true });
    this._bytes -= seg.size;
    this.headOffset = 0;
  }

  /** Everything was sent: remove the files and start a fresh segment (keeps the disk use at 0). */
  private reset() {
    const last = this.segs[this.segs.length - 1]!;
    this.closeWriter();
    if (this.rfd >= 0) fs.closeSync(this.rfd);
    this.rfd = -1;
    this.rfdSeq = -1;
    for (const s of this.segs) if (s.size > 0) fs.rmSync(this.file(s.seq), { force: true });
    this.segs = [{ seq: last.size > 0 ? last.seq + 1 : last.seq, size: 0, records: 0 }];
    this.headOffset = 0;
    this._bytes = 0;
    this.peeked.length = 0;
  }

  private writeCursor() {
    const tmp = path.join(this.dir, 'cursor.tmp');
    fs.writeFileSync(tmp, JSON.stringify({ segment: this.segs[0]!.seq, offset: this.headOffset }));
    fs.renameSync(tmp, path.join(this.dir, 'cursor'));
  }

  private closeWriter() {
    if (this.wfd >= 0) {
      fs.closeSync(this.wfd);
      this.wfd = -1;
    }
  }

  sync(): void {
    if (this.wfd >= 0) fs.fsyncSync(this.wfd);
    const fd = fs.openSync(path.join(this.dir, 'cursor'), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  close(): void {
    const key = path.resolve(this.dir);
    if (!openDirs.has(key)) return;
    this.sync();
    this.closeWriter();
    if (this.rfd >= 0) fs.closeSync(this.rfd);
    this.rfd = -1;
    this.rfdSeq = -1;
    fs.rmSync(path.join(this.dir, 'lock'), { force: true });
    openDirs.delete(key);
  }
}

/** The backlog of a sink without a spool: a bounded queue in memory (lost at exit). */
export class MemoryBacklog implements Backlog {
  readonly durable = false;
  private q: Buffer[] = [];
  private head = 0;
  private _bytes = 0;
  constructor(readonly maxBytes: number) {}
  get pending() {
    return this.q.length - this.head;
  }
  get bytes() {
    return this._bytes;
  }
  append(p: Buffer): boolean {
    if (this._bytes + p.length > this.maxBytes) return false;
    this.q.push(p);
    this._bytes += p.length;
    return true;
  }
  peek(max: number, maxBytes = Infinity): Buffer[] {
    const out: Buffer[] = [];
    let total = 0;
    for (let i = this.head; i < this.q.length && out.length < max; i++) {
      const p = this.q[i]!;
      if (out.length > 0 && total + p.length > maxBytes) break;
      out.push(p);
      total += p.length;
    }
    return out;
  }
  commit(n: number): void {
    for (let i = 0; i < n; i++) this._bytes -= this.q[this.head + i]!.length;
    this.head += n;
    if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.head = 0;
    }
  }
  sync(): void {}
  close(): void {}
}
