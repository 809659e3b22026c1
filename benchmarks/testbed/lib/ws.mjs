// Minimal WebSocket (RFC 6455) pieces for the testbed's chat profile: the accept key, frame
// encoding and an incremental frame parser. No extensions, no fragmentation on send; the parser
// accepts continuation frames but the testbed never sends them.
import { createHash } from 'node:crypto';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
export function acceptKey(key) {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/**
 * One final frame. `mask` is a 4-byte Buffer (clients must mask) or null (servers must not).
 */
export function encodeFrame(opcode, payload, mask = null) {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = 2 + ext + (mask ? 4 : 0);
  const out = Buffer.allocUnsafe(head + len);
  out[0] = 0x80 | (opcode & 0x0f);
  const m = mask ? 0x80 : 0;
  if (ext === 0) out[1] = m | len;
  else if (ext === 2) {
    out[1] = m | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = m | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  if (mask) {
    mask.copy(out, 2 + ext, 0, 4);
    for (let i = 0; i < len; i++) out[head + i] = payload[i] ^ mask[i & 3];
  } else {
    payload.copy(out, head);
  }
  return out;
}

/**
 * Incremental parser: push() bytes as they arrive, get back complete frames
 * {fin, opcode, payload} (payload unmasked). Throws on a frame larger than maxPayload or on
 * reserved bits set.
 */
export class FrameParser {
  constructor(maxPayload = 1 << 20) {
    this.maxPayload = maxPayload;
    this.buf = Buffer.alloc(0);
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      if (b[0] & 0x70) throw new Error('websocket: reserved bits set');
      let len = b[1] & 0x7f;
      const masked = (b[1] & 0x80) !== 0;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(this.maxPayload)) throw new Error(`websocket: frame of ${big} bytes is over the limit`);
        len = Number(big);
        off = 10;
      }
      if (len > this.maxPayload) throw new Error(`websocket: frame of ${len} bytes is over the limit`);
      const maskOff = off;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[maskOff + (i & 3)];
      frames.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload });
      this.buf = b.subarray(off + len);
    }
    return frames;
  }
}
