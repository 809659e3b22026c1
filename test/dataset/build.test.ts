import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDataset, DatasetBuilder, expandCaptures } from '../../src/dataset/build.js';
import { readDataset, writeDataset } from '../../src/dataset/io.js';
import { labelFor, loadLabelRules, parseLabelRules } from '../../src/dataset/labels.js';
import { FEATURE_NAMES, FEATURE_SET_VERSION } from '../../src/features/names.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { ndpiPcapDir, ndpiResultDir, repoRoot } from '../helpers/paths.js';
import { parseNdpiResult } from '../helpers/ndpi-result.js';

const rules = parseLabelRules('- app: alpha\n  sni_suffix: alpha.example\n- app: beta\n  sni_regex: "^b[0-9]+\\\\.beta\\\\.example$"\n', 'rules.yaml');

function flow(i: number, sni: string | undefined, isTls = true, file = `f${i % 3}.pcap`): FlowRecord {
  const features = new Float64Array(115);
  for (let j = 0; j < 115; j++) features[j] = i * 1000 + j + 0.1;
  return {
    ipVersion: 4, transport: 'tcp', srcIp: '10.0.0.1', srcPort: 40000 + i, dstIp: '10.0.0.2', dstPort: 443, vlan: 0,
    start: 0, end: 1, fwdPackets: 1, fwdBytes: 60, bwdPackets: 1, bwdBytes: 60, communityId: '', endReason: 'fin',
    isTls, tls: isTls ? { sni, alpnOffered: [] } : undefined, handshakePackets: 2, dataPackets: 0, features, file,
  };
}

test('DatasetBuilder: labels by SNI, keeps TLS only, float32 features, meta', () => {
  const b = new DatasetBuilder({ rules, splitBy: 'flow', seed: 9 });
  const snis = ['www.alpha.example', 'b12.beta.example', 'x.beta.example', undefined, 'ALPHA.EXAMPLE.'];
  snis.forEach((s, i) => b.add(flow(i, s)));
  b.add(flow(5, 'alpha.example', false)); // not TLS: skipped
  const bad = flow(6, 'alpha.example');
  bad.features[3] = Infinity;
  b.add(bad); // non-finite: skipped
  // enough rows to make the buffer grow past its first 1024 rows
  for (let i = 7; i < 1500; i++) b.add(flow(i, i % 2 ? 'a.alpha.example' : 'none.example'));
  assert.deepEqual(b.counts, { seen: 1500, kept: 1498, skippedNotTls: 1, skippedNonFinite: 1, noSni: 1 });
  const ds = b.finish({ extra: 1 });
  assert.equal(ds.n, 1498);
  assert.equal(ds.featureSet, FEATURE_SET_VERSION);
  assert.deepEqual(ds.names, [...FEATURE_NAMES]);
  assert.deepEqual(ds.y.slice(0, 5), ['alpha', 'beta', 'background', 'background', 'alpha']);
  assert.deepEqual(ds.sni.slice(0, 5), ['www.alpha.example', 'b12.beta.example', 'x.beta.example', '', 'ALPHA.EXAMPLE.']);
  assert.equal(ds.file[1], 'f1.pcap');
  // row 5 of the dataset is flow 7 (flows 5 and 6 skipped), feature j = 7000 + j + 0.1 as float32
  assert.equal(ds.X[5 * 115 + 2], Math.fround(7002.1));
  assert.equal(ds.X[1497 * 115 + 114], Math.fround(1499 * 1000 + 114.1));
  assert.equal(ds.X.length, 1498 * 115);
  assert.equal(ds.meta.splitBy, 'flow');
  assert.equal(ds.meta.seed, 9);
  assert.equal(ds.meta.labels, 'rules.yaml');
  assert.equal(ds.meta.extra, 1);
  assert.equal(ds.split.length, 1498);
  // the same flows and seed give the same split
  const b2 = new DatasetBuilder({ rules, splitBy: 'flow', seed: 9 });
  snis.forEach((s, i) => b2.add(flow(i, s)));
  b2.add(flow(5, 'alpha.example', false));
  b2.add(bad);
  for (let i = 7; i < 1500; i++) b2.add(flow(i, i % 2 ? 'a.alpha.example' : 'none.example'));
  assert.deepEqual(b2.finish().split, ds.split);
});

test('expandCaptures: directories give their capture files, sorted; missing paths fail', () => {
  const files = expandCaptures([ndpiPcapDir()]);
  assert.ok(files.length > 500);
  assert.ok(files.every((f) => /\.(pcap|pcapng|cap)$/.test(f)));
  assert.deepEqual(files, [...files].sort());
  assert.throws(() => expandCaptures(['/nonexistent.pcap']), /\/nonexistent\.pcap: cannot open: ENOENT/);
  assert.throws(() => expandCaptures([join(repoRoot(), 'conf')]), /no \.pcap\/\.pcapng\/\.cap files/);
});

// reddit.pcap: nDPI's result lists 60 TLS flows, 59 with an SNI. The example rules label those SNIs
// reddit 20 (redditstatic 6, redditmedia 7, redd.it 4, reddit.com 3), google 23 and amazon 2
// (amazon-adsystem); the rest are background.
test('buildDataset on a real capture: labels agree with nDPI\'s SNIs under the same rules', async () => {
  const pcap = join(ndpiPcapDir(), 'reddit.pcap');
  if (!existsSync(pcap)) return; // corpus not present
  const example = loadLabelRules(join(repoRoot(), 'conf', 'labels.example.yaml'));
  const { dataset, counts } = await buildDataset([pcap], { rules: example, splitBy: 'file', seed: 1 });
  const byLabel = (ys: string[]) => ys.reduce((m, y) => m.set(y, (m.get(y) ?? 0) + 1), new Map<string, number>());
  const ours = byLabel(dataset.y);
  assert.equal(ours.get('reddit'), 20);
  assert.equal(ours.get('google'), 23);
  assert.equal(ours.get('amazon'), 2);
  // independent check: nDPI's SNIs through the same rules
  const ndpi = parseNdpiResult(join(ndpiResultDir(), 'reddit.pcap.out')).filter((f) => f.sni !== undefined && f.transport === 'tcp');
  const theirs = byLabel(ndpi.map((f) => labelFor(example, f.sni)));
  for (const app of ['reddit', 'google', 'amazon']) assert.equal(ours.get(app), theirs.get(app), app);
  // same SNIs, as multisets
  assert.deepEqual(dataset.sni.filter((s) => s).sort(), ndpi.map((f) => f.sni!).sort());
  assert.equal(counts.kept, dataset.n);
  assert.ok(dataset.split.every((s) => s === dataset.split[0]), 'one file → one split');
  // write → read
  const dir = mkdtempSync(join(tmpdir(), 'stnn-build-'));
  try {
    writeDataset(join(dir, 'set.msgpack'), dataset);
    const back = readDataset(join(dir, 'set.msgpack'), { featureSet: FEATURE_SET_VERSION });
    assert.deepEqual(back.y, dataset.y);
    assert.deepEqual(Buffer.from(back.X.buffer), Buffer.from(dataset.X.buffer));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DatasetBuilder: rows of test captures go to the test split, the rest to train/validation', () => {
  const b = new DatasetBuilder({ rules, splitBy: 'flow', seed: 4, fractions: [0.75, 0.25, 0], testFiles: new Set(['f2.pcap']) });
  for (let i = 0; i < 30; i++) b.add(flow(i, i % 2 ? 'a.example.com' : 'b.example.org'));
  const ds = b.finish();
  for (let i = 0; i < ds.n; i++) {
    if (ds.file[i] === 'f2.pcap') assert.equal(ds.split[i], 2, `row ${i} of the test capture`);
    else assert.notEqual(ds.split[i], 2, `row ${i} of a training capture`);
  }
  // 10 of the 30 flows come from f2.pcap; the other 20 split 15/5
  assert.deepEqual([0, 1, 2].map((s) => Array.from(ds.split).filter((x) => x === s).length), [15, 5, 10]);
});
