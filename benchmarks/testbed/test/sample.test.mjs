// Checks the shipped capture data/testbed/sample.pcap against its labels, with a small pcap
// reader of its own: size limit, a ClientHello for every application, TLS 1.2 and 1.3 both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadLabelRules, labelFor } from '../../../src/dataset/labels.js';

const DATA = fileURLToPath(new URL('../../../data/testbed/', import.meta.url));

/** TCP payloads of an Ethernet pcap (microsecond, little-endian, as tcpdump writes here). */
function* tcpPayloads(buf) {
  assert.equal(buf.readUInt32LE(0), 0xa1b2c3d4, 'pcap magic');
  assert.equal(buf.readUInt32LE(20), 1, 'linktype Ethernet');
  let off = 24;
  while (off + 16 <= buf.length) {
    const cap = buf.readUInt32LE(off + 8);
    const f = buf.subarray(off + 16, off + 16 + cap);
    off += 16 + cap;
    if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (f[14] & 0x0f) * 4;
    if (f[23] !== 6) continue;
    const tcp = 14 + ihl;
    const doff = (f[tcp + 12] >> 4) * 4;
    const end = Math.min(f.length, 14 + f.readUInt16BE(16));
    yield { src: f.subarray(26, 30).join('.'), payload: f.subarray(tcp + doff, end) };
  }
}

/** Walks a Client/ServerHello's extensions: returns {type: body}. */
function helloExtensions(p) {
  let o = 5 + 4 + 2 + 32; // record header, handshake header, version, random
  o += 1 + p[o]; // session id
  if (p[5] === 1) {
    o += 2 + p.readUInt16BE(o); // cipher suites
    o += 1 + p[o]; // compression methods
  } else {
    o += 2 + 1; // cipher suite, compression method
  }
  const ext = {};
  const end = o + 2 + p.readUInt16BE(o);
  o += 2;
  while (o + 4 <= end) {
    const t = p.readUInt16BE(o);
    const n = p.readUInt16BE(o + 2);
    ext[t] = p.subarray(o + 4, o + 4 + n);
    o += 4 + n;
  }
  return ext;
}

test('sample.pcap: under 5 MB, every application present, labelled, TLS 1.2 and 1.3', () => {
  const file = DATA + 'sample.pcap';
  assert.ok(statSync(file).size <= 5 * 1024 * 1024, `${statSync(file).size} bytes`);
  const rules = loadLabelRules(DATA + 'labels.yaml');
  const perApp = {};
  const versions = { '1.2': 0, '1.3': 0 };
  for (const { payload: p } of tcpPayloads(readFileSync(file))) {
    if (p.length < 9 || p[0] !== 0x16 || p[1] !== 3) continue;
    if (p[5] === 1) {
      const sniExt = helloExtensions(p)[0];
      assert.ok(sniExt, 'ClientHello without SNI');
      const name = sniExt.subarray(5, 5 + sniExt.readUInt16BE(3)).toString('latin1');
      const app = labelFor(rules, name);
      assert.notEqual(app, 'background', name);
      perApp[app] = (perApp[app] ?? 0) + 1;
    } else if (p[5] === 2) {
      const sv = helloExtensions(p)[43];
      versions[sv && sv.readUInt16BE(0) === 0x0304 ? '1.3' : '1.2']++;
    }
  }
  assert.deepEqual(Object.keys(perApp).sort(), [...rules.apps].sort());
  assert.ok(versions['1.2'] > 0 && versions['1.3'] > 0, JSON.stringify(versions));
});
