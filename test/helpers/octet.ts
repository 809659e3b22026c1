/** A reader of RFC 6587 octet-counted syslog frames ("LEN SP MSG"), fed a TCP stream's chunks. */
import assert from 'node:assert/strict';

export function octetFrames(onFrame: (msg: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) break;
      const len = Number(buf.subarray(0, sp).toString('ascii'));
      assert.ok(Number.isInteger(len) && len > 0, `bad frame length ${buf.subarray(0, sp)}`);
      if (buf.length < sp + 1 + len) break;
      onFrame(buf.subarray(sp + 1, sp + 1 + len));
      buf = buf.subarray(sp + 1 + len);
    }
  };
}
