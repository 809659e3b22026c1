/**
 * The common interface of capture file readers, and openCapture, which picks
 * the reader from the file's magic number (not from its name).
 */
import { fstatSync, openSync, closeSync, statSync } from 'node:fs';
import { StnnError } from '../util/errors.js';
import { FileInput, PcapReader, PCAP_MAGIC_KUZNETSOV, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC } from './pcap.js';
import { PcapngReader } from './pcapng.js';

/**
 * One frame as read from a capture. The bytes are buf[off .. off+capLen); they
 * stay valid until the next call to next() on the same reader. A single
 * RawFrame is meant to be reused for every frame.
 */
export interface RawFrame {
  /** LINKTYPE_* value of the frame's interface. */
  linkType: number;
  /** 0 for pcap; for pcapng the file-wide index of the interface (see pcapng.ts). */
  interfaceId: number;
  tsSec: number;
  tsNsec: number;
  /** Bytes present in the capture, and the frame's length on the wire as recorded. */
  capLen: number;
  wireLen: number;
  buf: Uint8Array;
  off: number;
}

/** tsSec, tsNsec and wireLen start as -0, doubles, for the reason given in DecodedPacket. */
export function newRawFrame(): RawFrame {
  return { linkType: 0, interfaceId: 0, tsSec: -0, tsNsec: -0, capLen: 0, wireLen: -0, buf: new Uint8Array(0), off: 0 };
}

export interface CaptureReader {
  readonly path: string;
  readonly format: 'pcap' | 'pcapng';
  /** Size of the file when it was opened; 0 when unknown (a pipe or FIFO). */
  readonly totalBytes: number;
  /** File offset up to which records have been consumed (for progress). */
  bytesRead: number;
  /**
   * Fills `out` with the next frame. Returns false at the clean end of the file.
   * Throws StnnError STNN_CAPTURE_TRUNCATED on a truncated or corrupt record (frames
   * returned before stay valid as far as the caller has consumed them).
   */
  next(out: RawFrame): boolean;
  /** Releases the file; idempotent, also done by the reader at end of file or error. */
  close(): void;
}

const PCAPNG_SHB = 0x0a0d0d0a;

function isPcapMagic(m: number): boolean {
  const swapped = ((m & 0xff) << 24 | (m & 0xff00) << 8 | (m >>> 8) & 0xff00 | m >>> 24) >>> 0;
  for (const x of [m, swapped]) {
    if (x === PCAP_MAGIC_USEC || x === PCAP_MAGIC_NSEC || x === PCAP_MAGIC_KUZNETSOV) return true;
  }
  return false;
}

/** The file name that means standard input (`cat x.pcap | stnn features -`). */
export const STDIN = '-';

/**
 * True when `path` is read as a stream: a FIFO, a pipe or socket (/dev/stdin, /dev/fd/N) or a
 * character device. Its bytes can be read once only, so it must not be opened just to be
 * checked. False for regular files, directories and paths that do not exist (openCapture
 * reports those).
 */
export function isStreamInput(path: string): boolean {
  try {
    const st = statSync(path === STDIN ? '/dev/stdin' : path);
    return st.isFIFO() || st.isSocket() || st.isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * Opens a pcap or pcapng file (or a FIFO / pipe such as /dev/stdin carrying one).
 * A missing, unreadable or empty file, or one that is not a capture, gives
 * StnnError STNN_BAD_INPUT naming the path and the reason.
 */
export function openCapture(path: string, chunkBytes?: number): CaptureReader {
  let fd: number;
  try {
    fd = openSync(path === STDIN ? '/dev/stdin' : path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot open (${code ?? String(e)})`;
    throw new StnnError('STNN_BAD_INPUT', `${path}: ${reason}`);
  }
  let size: number;
  let seekable: boolean;
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new StnnError('STNN_BAD_INPUT', `${path}: is a directory`);
    // Regular files are read with positioned reads; pipes, FIFOs and /dev/stdin in order.
    seekable = st.isFile();
    size = seekable ? st.size : 0;
    if (seekable && size === 0) throw new StnnError('STNN_BAD_INPUT', `${path}: empty file`);
  } catch (e) {
    closeSync(fd);
    if (e instanceof StnnError) throw e;
    throw new StnnError('STNN_BAD_INPUT', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const inp = new FileInput(path, fd, size, seekable, chunkBytes);
  let avail: number;
  try {
    avail = inp.need(4);
  } catch (e) {
    inp.close();
    throw new StnnError('STNN_BAD_INPUT', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (avail < 4) {
    inp.close();
    throw new StnnError('STNN_BAD_INPUT', `${path}: ${avail === 0 ? 'empty file' : `not a pcap or pcapng file (only ${avail} bytes)`}`);
  }
  const magic = inp.view.getUint32(inp.pos, false);
  if (magic === PCAPNG_SHB) return new PcapngReader(path, inp);
  if (isPcapMagic(magic)) return new PcapReader(path, inp, magic);
  inp.close();
  throw new StnnError(
    'STNN_BAD_INPUT',
    `${path}: not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, '0')})`,
  );
}
