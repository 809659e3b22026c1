import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { communityId } from '../../src/flow/community-id.js';

function addr(s: string): Uint8Array {
  if (isIP(s) === 4) return Uint8Array.from(s.split('.').map(Number));
  // expand an IPv6 text address
  const [h, t] = s.split('::');
  const head = h ? h.split(':') : [];
  const tail = t !== undefined && t ? t.split(':') : [];
  const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { const v = parseInt(g, 16); out[2 * i] = v >> 8; out[2 * i + 1] = v & 0xff; });
  return out;
}

function cid(proto: number, src: string, dst: string, sp: number, dp: number): string {
  const a = addr(src), b = addr(dst);
  return communityId(proto, a.length as 4 | 16, a, 0, b, 0, sp, dp);
}

// Expected values were computed independently by Wireshark 4.0's communityid
// dissector on corpus captures (tshark --enable-protocol communityid).
test('community id v1 matches Wireshark for TCP over IPv4, both directions', () => {
  assert.equal(cid(6, '192.168.1.160', '151.101.66.49', 54804, 443), '1:fKTf3tx3lGrOQVQmgx33KsfHvZ0=');
  assert.equal(cid(6, '151.101.66.49', '192.168.1.160', 443, 54804), '1:fKTf3tx3lGrOQVQmgx33KsfHvZ0=');

});

test('community id v1 matches Wireshark for UDP over IPv4', () => {
  assert.equal(cid(17, '192.168.1.168', '8.8.8.8', 65311, 53), '1:9PmVc5bQYa92n4cOEjv1qATy338=');
  assert.equal(cid(17, '8.8.8.8', '192.168.1.168', 53, 65311), '1:9PmVc5bQYa92n4cOEjv1qATy338=');
  assert.equal(cid(17, '10.0.2.15', '69.171.250.15', 35957, 443), '1:pdeDsCditMRnV2BHh+DCjhZpO8g=');
});

test('community id v1 matches Wireshark for TCP over IPv6', () => {
  assert.equal(cid(6, '2a00:d40:1:3:7aac:c0ff:fea7:d4c', '2a00:1450:4006:804::200e', 40526, 443), '1:3PAFI61AGBbn+KeSpUH+cRqBaSI=');
  assert.equal(cid(6, '2a00:1450:4006:804::200e', '2a00:d40:1:3:7aac:c0ff:fea7:d4c', 443, 40526), '1:3PAFI61AGBbn+KeSpUH+cRqBaSI=');
});
