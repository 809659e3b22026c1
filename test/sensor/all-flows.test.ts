/**
 * flow.all_flows: flows that are not TLS get records too, but the models are for TLS flows:
 * such a flow is written unscored, with the verdict 'unclassified', and counted under
 * stnn_unclassified_flows_total{cause="not_tls"}; the TLS flows are scored as before.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configFrom } from '../../src/sensor/config.js';
import { Sensor } from '../../src/sensor/pipeline.js';
import { tcpFrame, udpFrame, writePcap, type GenFrame } from '../helpers/pcapgen.js';
import { repoRoot } from '../helpers/paths.js';
import { readJsonl } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'stnn-sensor-allflows-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const UNCLASSIFIED = { app: 'unclassified', confidence: 0, candidates: [], decided_by: 'none' };

/** A DNS exchange over UDP, and plain HTTP over TCP port 443 (the port does not make it TLS). */
function nonTlsCapture(file: string): void {
  const c = '10.9.0.1';
  const s = '10.9.0.2';
  const frames: GenFrame[] = [];
  let t = 1_600_000_000;
  const at = (bytes: Uint8Array) => frames.push({ ts: (t += 0.01), bytes });
  at(udpFrame({ src: c, dst: s, sport: 53000, dport: 53, payload: 'dns query' }));
  at(udpFrame({ src: s, dst: c, sport: 53, dport: 53000, payload: 'dns answer' }));
  const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
  const res = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  at(tcpFrame({ src: c, dst: s, sport: 40000, dport: 443, seq: 100, flags: 'S' }));
  at(tcpFrame({ src: s, dst: c, sport: 443, dport: 40000, seq: 500, ack: 101, flags: 'SA' }));
  at(tcpFrame({ src: c, dst: s, sport: 40000, dport: 443, seq: 101, ack: 501, flags: 'A' }));
  at(tcpFrame({ src: c, dst: s, sport: 40000, dport: 443, seq: 101, ack: 501, flags: 'PA', payload: req }));
  at(tcpFrame({ src: s, dst: c, sport: 443, dport: 40000, seq: 501, ack: 101 + req.length, flags: 'PA', payload: res }));
  at(tcpFrame({ src: c, dst: s, sport: 40000, dport: 443, seq: 101 + req.length, ack: 501 + res.length, flags: 'FA' }));
  at(tcpFrame({ src: s, dst: c, sport: 443, dport: 40000, seq: 501 + res.length, ack: 102 + req.length, flags: 'FA' }));
  at(tcpFrame({ src: c, dst: s, sport: 40000, dport: 443, seq: 102 + req.length, ack: 502 + res.length, flags: 'A' }));
  writePcap(file, frames);
}

test('all_flows with models: non-TLS flows are unclassified (cause not_tls), TLS flows are scored', async () => {
  const extra = path.join(dir, 'non-tls.pcap');
  nonTlsCapture(extra);
  const out = path.join(dir, 'v.jsonl');
  const config = configFrom({
    capture: { shards: 2 },
    flow: { all_flows: true },
    inference: { models: path.join(repoRoot(), 'models', 'default') },
    outputs: [{ type: 'jsonl', path: out }],
    metrics: { listen: 'off' },
  }, 'all.yaml', { pcap: true });
  const log: string[] = [];
  const sensor = await Sensor.start({ config, pcap: [path.join(repoRoot(), 'data', 'testbed', 'sample.pcap'), extra], log: (m) => log.push(m) });
  const s = await sensor.done;
  assert.equal(sensor.inputErrors, 0, log.join('\n'));
  assert.equal(s.records, 40);
  assert.deepEqual(s.unclassified, { backlog: 0, no_model: 0, error: 0, not_tls: 2 });
  assert.equal(s.verdicts['unclassified'], 2);
  assert.equal(Object.entries(s.verdicts).filter(([app]) => app !== 'unclassified').reduce((a, [, n]) => a + n, 0), 38);

  const recs = readJsonl(out);
  assert.equal(recs.length, 40);
  const other = recs.filter((r) => r.network.protocol !== 'tls');
  assert.deepEqual(other.map((r) => `${r.network.transport} ${r.source.port}>${r.destination.port}`).sort(), ['tcp 40000>443', 'udp 53000>53']);
  for (const r of other) {
    assert.deepEqual(r.stnn.verdict, UNCLASSIFIED);
    assert.equal(r.network.application, 'unclassified');
  }
  const tls = recs.filter((r) => r.network.protocol === 'tls');
  assert.equal(tls.length, 38);
  for (const r of tls) {
    assert.notEqual(r.stnn.verdict.app, 'unclassified');
    assert.notEqual(r.stnn.verdict.decided_by, 'none');
  }
});
