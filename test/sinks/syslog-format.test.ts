import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { SyslogFormatter, escapeParamValue, octetCount, utf8Prefix } from '../../src/sinks/syslog-format.js';
import { SyslogSink } from '../../src/sinks/syslog.js';
import { record } from './fixtures.js';

const fixed = { hostname: 'sensor1', appName: 'stnn', procId: 4242, clock: () => 1700000003123 };

// Written by hand from RFC 5424 §6 and the fixture in fixtures.ts.
const EXPECTED_HEAD =
  String.raw`<134>1 2023-11-14T22:13:23.123Z sensor1 stnn 4242 verdict ` +
  String.raw`[stnn@32473 app="youtube" confidence="0.875" community_id="1:LQU9qZlK+B5F3KDmev6m5PMibrg=" transport="tcp" ` +
  String.raw`src_ip="192.0.2.10" src_port="51514" dst_ip="198.51.100.7" dst_port="443" sni="a\"b\\c\]d.example"] `;
const EXPECTED_JSON =
  String.raw`{"@timestamp":"2023-11-14T22:13:22.750Z","event":{"kind":"event","category":["network"],"type":["connection","end"],` +
  String.raw`"start":"2023-11-14T22:13:20.250Z","end":"2023-11-14T22:13:22.750Z","duration":2500000000},` +
  String.raw`"source":{"ip":"192.0.2.10","port":51514,"packets":12,"bytes":1840},` +
  String.raw`"destination":{"ip":"198.51.100.7","port":443,"packets":10,"bytes":9050},` +
  String.raw`"network":{"transport":"tcp","type":"ipv4","protocol":"tls","community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","application":"youtube"},` +
  String.raw`"tls":{"version":"1.3","version_protocol":"tls","next_protocol":"h2","client":{"server_name":"a\"b\\c]d.example","supported_alpn":["h2"],"offered_version":"1.3"}},` +
  String.raw`"stnn":{"end_reason":"fin","handshake_packets":6,"data_packets":16,` +
  String.raw`"verdict":{"app":"youtube","confidence":0.875,"candidates":[{"app":"youtube","p":0.9,"q":9,"vote":0.875}],"decided_by":"single"}}}`;

test('RFC 5424 line is byte-exact: header, escaped SD, BOM, JSON without features', () => {
  const f = new SyslogFormatter(fixed);
  const out = f.format(record(0));
  const expected = Buffer.concat([Buffer.from(EXPECTED_HEAD), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(EXPECTED_JSON)]);
  assert.equal(out.toString('utf8'), expected.toString('utf8'));
  assert.ok(out.equals(expected));
  assert.equal(f.truncated, 0);
});

test('features are kept only when asked; facility/severity make the PRI', () => {
  const f = new SyslogFormatter({ ...fixed, features: true, facility: 'daemon', severity: 'notice', bom: false, maxMessageBytes: 4096 });
  const out = f.format(record(0)).toString('utf8');
  assert.ok(out.startsWith('<29>1 2023-11-14T22:13:23.123Z ')); // daemon(3)*8 + notice(5)
  assert.ok(out.includes(String.raw`"data_packets":16,"features":[1.5,null,3],"verdict"`));
  assert.ok(out.includes('dst_port="443" sni="a\\"b\\\\c\\]d.example"] {"@timestamp"')); // no BOM
  assert.throws(() => new SyslogFormatter({ facility: 'local9' }), /syslog facility: unknown value "local9"/);
  assert.throws(() => new SyslogFormatter({ maxMessageBytes: 100 }), /at least 480/);
});

test('SD-PARAM escaping per RFC 5424 §6.3.3', () => {
  assert.equal(escapeParamValue('plain'), 'plain');
  assert.equal(escapeParamValue('"'), '\\"');
  assert.equal(escapeParamValue('\\'), '\\\\');
  assert.equal(escapeParamValue(']'), '\\]');
  assert.equal(escapeParamValue('a[b]c"d\\e'), 'a[b\\]c\\"d\\\\e');
  assert.equal(escapeParamValue('é]'), 'é\\]');
});

test('header fields are reduced to PRINTUSASCII, empty becomes NILVALUE', () => {
  const f = new SyslogFormatter({ ...fixed, hostname: 'bad host\n', appName: '', clock: () => 0 });
  const s = f.format(record(0)).toString('utf8');
  assert.ok(s.startsWith('<134>1 1970-01-01T00:00:00.000Z bad_host_ - 4242 verdict [stnn@32473 '), s.slice(0, 80));
});

test('UTF-8-safe truncation at the size limit, counted', () => {
  const e = Buffer.from('ab€', 'utf8'); // 61 62 e2 82 ac
  assert.deepEqual([...utf8Prefix(e, 5)], [0x61, 0x62, 0xe2, 0x82, 0xac]);
  assert.deepEqual([...utf8Prefix(e, 4)], [0x61, 0x62]);
  assert.deepEqual([...utf8Prefix(e, 3)], [0x61, 0x62]);
  assert.deepEqual([...utf8Prefix(e, 2)], [0x61, 0x62]);
  const g = Buffer.from('x😀', 'utf8'); // 78 f0 9f 98 80
  assert.deepEqual([...utf8Prefix(g, 4)], [0x78]);
  assert.deepEqual([...utf8Prefix(g, 1)], [0x78]);

  // A record whose JSON ends in a long run of 3-byte characters, cut inside that run.
  const rec = record(0);
  (rec.file as unknown) = { path: '€'.repeat(400) };
  const f = new SyslogFormatter({ ...fixed, maxMessageBytes: 1200 });
  const out = f.format(rec);
  assert.equal(f.truncated, 1);
  const head = Buffer.byteLength(EXPECTED_HEAD) + 3; // header + SD + SP, then the BOM
  const prefix = EXPECTED_JSON.slice(0, -1) + ',"file":{"path":"';
  const euros = Math.floor((1200 - head - Buffer.byteLength(prefix)) / 3);
  assert.ok(euros > 0 && euros < 400);
  const expected = Buffer.concat([Buffer.from(EXPECTED_HEAD), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(prefix + '€'.repeat(euros))]);
  assert.ok(out.equals(expected), `${out.length} vs ${expected.length}`);
  assert.ok(out.length <= 1200 && out.length > 1197);
  new TextDecoder('utf-8', { fatal: true }).decode(out); // throws on a split sequence
});

test('oversized header fields: structured data falls back to NILVALUE, MSG cut to fit', () => {
  const f = new SyslogFormatter({ hostname: 'h'.repeat(300), appName: 'a'.repeat(60), procId: 'p'.repeat(200), clock: fixed.clock, maxMessageBytes: 480 });
  const out = f.format(record(0));
  // Fields are capped at RFC 5424 lengths (255, 48, 128); header + "- " is 476 bytes, BOM 3, 1 byte of JSON.
  const head = `<134>1 2023-11-14T22:13:23.123Z ${'h'.repeat(255)} ${'a'.repeat(48)} ${'p'.repeat(128)} verdict - `;
  assert.equal(Buffer.byteLength(head), 476);
  assert.ok(out.equals(Buffer.concat([Buffer.from(head), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{')])));
  assert.equal(f.truncated, 1);
});

test('octet counting frame is LEN SP MSG with the length in bytes', () => {
  assert.equal(octetCount(Buffer.from('abc€')).toString('utf8'), '6 abc€');
  assert.equal(octetCount(Buffer.alloc(0)).toString(), '0 ');
});

test('TCP transport sends octet-counted frames, byte-exact', async () => {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.on('data', (d) => chunks.push(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sink = new SyslogSink({ type: 'syslog', transport: 'tcp', port, ...fixed });
  sink.write(record(0));
  sink.write(record(0));
  await sink.flush();
  await sink.close();
  await new Promise((r) => setTimeout(r, 50));
  server.close();
  const msg = Buffer.concat([Buffer.from(EXPECTED_HEAD), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(EXPECTED_JSON)]);
  const frame = Buffer.concat([Buffer.from(`${msg.length} `), msg]);
  assert.ok(Buffer.concat(chunks).equals(Buffer.concat([frame, frame])));
  assert.deepEqual(sink.stats(), { sent: 2, errors: 0, spooled: 0, dropped: 0, spoolBytes: 0, truncated: 0 });
});
