// Checks the shipped capture data/testbed/sample.pcap against its labels with the testbed's
// own small pcap reader; the expected counts were read from the same file with tshark
// (-Y 'tls.handshake.type==1' / '==2', 38 of each, 26 choosing TLS 1.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadLabelRules, labelFor } from '../../../src/dataset/labels.js';
import { scanHellos } from '../lib/pcapscan.mjs';

const DATA = fileURLToPath(new URL('../../../data/testbed/', import.meta.url));

test('sample.pcap: under 5 MB, every application present and labelled, TLS 1.2 and 1.3', () => {
  const file = DATA + 'sample.pcap';
  assert.ok(statSync(file).size <= 5 * 1024 * 1024, `${statSync(file).size} bytes`);
  const rules = loadLabelRules(DATA + 'labels.yaml');
  const { snis, versions } = scanHellos(readFileSync(file));
  const perApp = {};
  for (const sni of snis) {
    const app = labelFor(rules, sni);
    perApp[app] = (perApp[app] ?? 0) + 1;
  }
  assert.deepEqual(perApp, { rest: 16, chat: 8, web: 3, audio: 3, video: 2, download: 2, upload: 2, update: 2 });
  assert.deepEqual(versions, { '1.2': 12, '1.3': 26 });
  assert.equal(snis[0].endsWith('.tb.example'), true);
});

test('pcapscan: refuses what it does not read', () => {
  assert.throws(() => scanHellos(Buffer.alloc(24)), /not a little-endian microsecond pcap/);
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt32LE(113, 20);
  assert.throws(() => scanHellos(h), /link type 113/);
  h.writeUInt32LE(1, 20);
  assert.deepEqual(scanHellos(h), { snis: [], versions: { '1.2': 0, '1.3': 0 } });
});
