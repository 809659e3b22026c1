import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptKey, encodeFrame, FrameParser, OP } from '../lib/ws.mjs';

test('accept key: RFC 6455 section 1.3 example', () => {
  assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('frames: RFC 6455 section 5.7 examples, byte for byte', () => {
  // unmasked text "Hello"
  assert.deepEqual([...encodeFrame(OP.TEXT, Buffer.from('Hello'))], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  // masked text "Hello", mask 37 fa 21 3d
  assert.deepEqual(
    [...encodeFrame(OP.TEXT, Buffer.from('Hello'), Buffer.from([0x37, 0xfa, 0x21, 0x3d]))],
    [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58],
  );
  // 256 bytes binary: 16-bit length; 64 KiB: 64-bit length
  assert.deepEqual([...encodeFrame(OP.BINARY, Buffer.alloc(256)).subarray(0, 4)], [0x82, 0x7e, 0x01, 0x00]);
  const big = encodeFrame(OP.BINARY, Buffer.alloc(65536));
  assert.deepEqual([...big.subarray(0, 10)], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.equal(big.length, 65546);
  // 125 stays in the 7-bit form, 126 does not
  assert.equal(encodeFrame(OP.TEXT, Buffer.alloc(125))[1], 125);
  assert.equal(encodeFrame(OP.TEXT, Buffer.alloc(126))[1], 126);
});

test('parser: frames split at every byte boundary come out whole and unmasked', () => {
  const mask = Buffer.from([1, 2, 3, 4]);
  const stream = Buffer.concat([
    encodeFrame(OP.TEXT, Buffer.from('Hello'), mask),
    encodeFrame(OP.PING, Buffer.alloc(0)),
    encodeFrame(OP.BINARY, Buffer.alloc(300, 7), mask),
    encodeFrame(OP.CLOSE, Buffer.from([0x03, 0xe8])),
  ]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new FrameParser();
    const frames = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => [f.fin, f.opcode, f.payload.length]),
      [
        [true, OP.TEXT, 5],
        [true, OP.PING, 0],
        [true, OP.BINARY, 300],
        [true, OP.CLOSE, 2],
      ],
      `cut at ${cut}`,
    );
    assert.equal(frames[0].payload.toString(), 'Hello');
    assert.ok(frames[2].payload.every((b) => b === 7));
    assert.equal(frames[3].payload.readUInt16BE(0), 1000);
  }
});

test('parser: refuses oversize frames (by header, before the payload arrives) and reserved bits', () => {
  const p = new FrameParser(1000);
  assert.throws(() => p.push(Buffer.from([0x82, 0x7e, 0x03, 0xe9])), /1001 bytes is over the limit/);
  const q = new FrameParser(1000);
  assert.throws(() => q.push(Buffer.from([0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), /over the limit/);
  assert.throws(() => new FrameParser().push(Buffer.from([0xc1, 0x00])), /reserved bits/);
  // an incomplete header waits for more bytes
  assert.deepEqual(new FrameParser().push(Buffer.from([0x81])), []);
});
