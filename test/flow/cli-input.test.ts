/**
 * Capture inputs through the CLI (bin/stnn.js in a child process): FIFOs and pipes into
 * /dev/stdin give the same records as the file read directly, for every offline command
 * (features, classify, dataset build, demo); a bad stream is bad input (exit 2) with no
 * output; regular files are still all checked before any work; a file cut inside its first
 * block (pcap file header, pcapng section header) is bad input before any output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRawFrame, openCapture } from '../../src/capture/reader.js';
import { readDataset } from '../../src/dataset/io.js';
import { buildPcapng, type GenFrame } from '../helpers/pcapgen.js';
import { repoRoot } from '../helpers/paths.js';

const root = repoRoot();
const STNN = join(root, 'bin', 'stnn.js');
const SAMPLE = join(root, 'data', 'testbed', 'sample.pcap');
const LABELS = join(root, 'data', 'testbed', 'labels.yaml');
const MODELS = join(root, 'models', 'default');

let dir = '';
let seq = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'stnn-cli-input-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `stnn args…`. `pipeFrom`: a file that `cat` pipes into its standard input (a real
 * pipe, as `cat x.pcap | stnn …` in a shell; Node's own stdio pipes are socket pairs).
 * `fifo`: a FIFO path that a `cat` writes `fifoData` into at the same time (a separate
 * process, as in `cat x.pcap > f &`).
 */
function stnn(args: string[], opts: { pipeFrom?: string; fifo?: string; fifoData?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = opts.pipeFrom
      ? spawn('sh', ['-c', 'cat "$0" | exec "$@"', opts.pipeFrom, process.execPath, STNN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [STNN, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const writer = opts.fifo ? spawn('sh', ['-c', 'cat "$0" > "$1"', opts.fifoData!, opts.fifo], { stdio: 'ignore' }) : null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      writer?.kill('SIGKILL');
      reject(new Error(`stnn ${args.join(' ')}: no exit within ${opts.timeoutMs ?? 60_000} ms; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      writer?.kill('SIGKILL');
      resolve({ code, stdout, stderr });
    });
  });
}

function fifo(): string {
  const p = join(dir, `fifo${seq++}`);
  execFileSync('mkfifo', [p]);
  return p;
}

function tmp(name: string, bytes?: Uint8Array): string {
  const p = join(dir, `${seq++}-${name}`);
  if (bytes) writeFileSync(p, bytes);
  return p;
}

/** JSON lines, each record's file.path replaced (the one thing that names the input). */
function records(out: string): Record<string, any>[] {
  return out.split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l);
    if (r.file) r.file.path = '<input>';
    return r;
  });
}

const sample = readFileSync(SAMPLE);

test('stnn features: a FIFO and a pipe into /dev/stdin give the records of the file read directly', { timeout: 120_000 }, async () => {
  const direct = await stnn(['features', SAMPLE, '-q']);
  assert.equal(direct.code, 0, direct.stderr);
  const want = records(direct.stdout);
  assert.equal(want.length, 1 + 38, 'the header record and the 38 TLS flows of the sample');
  assert.equal(want[0]['@metadata'].type, 'stnn-features-header');

  const f = fifo();
  const viaFifo = await stnn(['features', f, '-q'], { fifo: f, fifoData: SAMPLE });
  assert.equal(viaFifo.code, 0, viaFifo.stderr);
  assert.equal(viaFifo.stderr, '');
  assert.deepEqual(records(viaFifo.stdout), want);
  assert.equal(JSON.parse(viaFifo.stdout.split('\n')[1]!).file.path, f);

  const viaPipe = await stnn(['features', '/dev/stdin', '-q'], { pipeFrom: SAMPLE });
  assert.equal(viaPipe.code, 0, viaPipe.stderr);
  assert.deepEqual(records(viaPipe.stdout), want);
  const viaDash = await stnn(['features', '-', '-q'], { pipeFrom: SAMPLE });
  assert.equal(viaDash.code, 0, viaDash.stderr);
  assert.deepEqual(records(viaDash.stdout), want);
  assert.equal(JSON.parse(viaDash.stdout.split('\n')[1]!).file.path, '-');

  // a regular file and a FIFO on one command line: both read, in order
  const g = fifo();
  const both = await stnn(['features', SAMPLE, g, '-q', '--format', 'csv'], { fifo: g, fifoData: SAMPLE });
  assert.equal(both.code, 0, both.stderr);
  const rows = both.stdout.split('\n').filter((l) => l && !l.startsWith('#')).slice(1);
  assert.equal(rows.length, 2 * 38);
  const fileCol = (r: string) => r.split(',')[20];
  assert.deepEqual([...new Set(rows.map(fileCol))], [SAMPLE, g]);
});

test('stnn classify, dataset build and demo read a FIFO or /dev/stdin like the file', { timeout: 180_000 }, async (t) => {
  if (!existsSync(join(MODELS, 'manifest.json'))) return t.skip(`no model at ${MODELS}`);
  const direct = await stnn(['classify', SAMPLE, '--models', MODELS, '-q']);
  assert.equal(direct.code, 0, direct.stderr);
  const want = records(direct.stdout);
  assert.equal(want.length, 38);
  assert.ok(want.every((r) => typeof r.stnn.verdict.app === 'string'));
  const viaPipe = await stnn(['classify', '/dev/stdin', '--models', MODELS, '-q'], { pipeFrom: SAMPLE });
  assert.equal(viaPipe.code, 0, viaPipe.stderr);
  assert.deepEqual(records(viaPipe.stdout), want);

  const dsDirect = tmp('direct.msgpack');
  const d1 = await stnn(['dataset', 'build', SAMPLE, '--labels', LABELS, '--out', dsDirect, '-q']);
  assert.equal(d1.code, 0, d1.stderr);
  const f = fifo();
  const dsFifo = tmp('fifo.msgpack');
  const d2 = await stnn(['dataset', 'build', f, '--labels', LABELS, '--out', dsFifo, '-q'], { fifo: f, fifoData: SAMPLE });
  assert.equal(d2.code, 0, d2.stderr);
  const a = readDataset(dsDirect);
  const b = readDataset(dsFifo);
  assert.equal(a.n, 38);
  assert.equal(b.n, a.n);
  assert.deepEqual(b.y, a.y);
  assert.deepEqual(b.sni, a.sni);
  assert.deepEqual(b.split, a.split);
  assert.deepEqual(Array.from(b.X), Array.from(a.X));
  assert.deepEqual([...new Set(b.file)], [f]);

  const demo = await stnn(['demo', '--capture', SAMPLE]);
  assert.equal(demo.code, 0, demo.stderr);
  assert.match(demo.stdout, /accuracy against the labels: \d+\/38 flows/);
  const demoPipe = await stnn(['demo', '--capture', '/dev/stdin'], { pipeFrom: SAMPLE });
  assert.equal(demoPipe.code, 0, demoPipe.stderr);
  // the first line names the capture; the summary has the run time
  const body = (s: string) => s.split('\n').slice(1).join('\n').replace(/ in \d+\.\d+ s\n/, ' in - s\n');
  assert.equal(body(demoPipe.stdout), body(demo.stdout));
});

test('a stream that is not a capture is bad input when opened: exit 2, one line, no output written', { timeout: 60_000 }, async () => {
  const out = tmp('out.jsonl');
  const text = tmp('text.txt', Buffer.from('hello, not a capture\n'));
  const r = await stnn(['features', '/dev/stdin', '--out', out], { pipeFrom: text });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'stnn: /dev/stdin: not a pcap or pcapng file (magic 0x68656c6c)\n');
  assert.equal(existsSync(out), false, 'the output file is not created');
  const f = fifo();
  const junk = tmp('junk.bin', Buffer.from('GIF89a not a capture either'));
  const r2 = await stnn(['features', f], { fifo: f, fifoData: junk });
  assert.equal(r2.code, 2);
  assert.equal(r2.stdout, '', 'no header record');
  assert.equal(r2.stderr, `stnn: ${f}: not a pcap or pcapng file (magic 0x47494638)\n`);
});

test('regular files are all checked before any FIFO is opened: a missing one fails at once', { timeout: 30_000 }, async () => {
  const f = fifo(); // no writer: opening it would block
  const missing = join(dir, 'missing.pcap');
  const cmds: Array<[string[], string]> = [
    [['features', f, missing], 'no such file'],
    [['classify', f, missing, '--models', MODELS], 'no such file'],
    [['dataset', 'build', f, missing, '--labels', LABELS, '--out', tmp('x.msgpack')], 'cannot open: ENOENT'],
    [['demo', '--capture', missing], 'no such file'],
  ];
  for (const [cmd, reason] of cmds) {
    const r = await stnn(cmd, { timeoutMs: 15_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `stnn: ${missing}: ${reason}\n`);
  }
});

/** The sample as pcapng with a section header as dumpcap writes it (options: 184 bytes). */
function samplePcapng(): Uint8Array {
  const frames: GenFrame[] = [];
  const rd = openCapture(SAMPLE);
  const f = newRawFrame();
  while (rd.next(f)) frames.push({ sec: f.tsSec, nsec: f.tsNsec, bytes: new Uint8Array(f.buf.subarray(f.off, f.off + f.capLen)) /* a copy: the reader reuses its buffer */, wireLen: f.wireLen });
  rd.close();
  return buildPcapng(frames, {
    shbOptions: [
      { code: 2, value: 'Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz (with SSE4.2)' },
      { code: 3, value: 'Linux 6.1.0-13-amd64' },
      { code: 4, value: 'Dumpcap (Wireshark) 4.0.11 (Git v4.0.11 packaged as 4.0.11-1~deb12u1)' },
    ],
  });
}

test('a capture cut inside its first block is bad input (exit 2, one line) before any output, pcap and pcapng alike', { timeout: 120_000 }, async () => {
  const ng = samplePcapng();
  const shbLen = new DataView(ng.buffer, ng.byteOffset).getUint32(4, true);
  assert.equal(shbLen, 192);
  // the whole pcapng gives the pcap's records
  const ngFile = tmp('sample.pcapng', ng);
  const whole = await stnn(['features', ngFile, '-q']);
  const direct = await stnn(['features', SAMPLE, '-q']);
  assert.equal(whole.code, 0, whole.stderr);
  assert.deepEqual(records(whole.stdout), records(direct.stdout));

  const cases: Array<[Uint8Array, string, string]> = [];
  for (const n of [10, 20, 23]) cases.push([sample.subarray(0, n), `cut${n}.pcap`, `truncated pcap file header (${n} bytes, need 24)`]);
  for (const n of [10, 28, 40, 100, 191]) {
    cases.push([ng.subarray(0, n), `cut${n}.pcapng`, `truncated pcapng section header block (${n} bytes, need ${n < 12 ? 'at least 28' : shbLen})`]);
  }
  for (const [bytes, name, reason] of cases) {
    const p = tmp(name, bytes);
    const out = tmp('cut.jsonl');
    const r = await stnn(['features', p, '--out', out]);
    assert.equal(r.code, 2, `${p}: ${r.stderr}`);
    assert.equal(r.stderr, `stnn: ${p}: ${reason}\n`);
    assert.equal(existsSync(out), false, `${p}: no output file`);
    const toStdout = await stnn(['features', p]);
    assert.equal(toStdout.code, 2);
    assert.equal(toStdout.stdout, '', `${p}: no header record`);
    const ds = await stnn(['dataset', 'build', p, '--labels', LABELS, '--out', tmp('cut.msgpack')]);
    assert.equal(ds.code, 2);
    assert.equal(ds.stderr, `stnn: ${p}: ${reason}\n`);
    // the same bytes through a pipe: the same verdict when the stream is opened
    const piped = await stnn(['features', '/dev/stdin'], { pipeFrom: p });
    assert.equal(piped.code, 2);
    assert.equal(piped.stdout, '');
    assert.equal(piped.stderr, `stnn: /dev/stdin: ${reason}\n`);
  }
  const demo = await stnn(['demo', '--capture', tmp('cut.pcapng', ng.subarray(0, 100))]);
  assert.equal(demo.code, 2);
  assert.equal(demo.stdout, '', 'demo prints nothing before the check');

  // cut after the section header (inside the interface block): a truncated capture, exit 1,
  // the header record written as for any damaged capture
  const past = tmp('past.pcapng', ng.subarray(0, shbLen + 10));
  const r = await stnn(['features', past]);
  assert.equal(r.code, 1);
  assert.equal(records(r.stdout).length, 1);
  assert.match(r.stderr, new RegExp(`error: ${past.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated record at byte offset ${shbLen} \\(block header of 12 bytes, 10 present\\)`));
});

// (dataset build takes no '-': its inputs are files or directories)
test("'-' (standard input) given twice is bad usage for every command that takes captures: one line, exit 2, nothing read or written", { timeout: 120_000 }, async () => {
  const line = "stnn: '-' (standard input) given more than once\n";
  const out = join(dir, `twice-${++seq}.jsonl`);
  const conf = join(dir, `twice-${seq}.yaml`);
  writeFileSync(conf, 'metrics: { listen: off }\noutputs: [{ type: "null" }]\n');
  const runs: [string, string[]][] = [
    ['features', ['features', '-', '-']],
    ['features --out', ['features', '-', SAMPLE, '-', '--out', out]],
    ['classify', ['classify', '-', '-', '--models', MODELS]],
    ['sensor', ['sensor', '--config', conf, '--pcap', '-', '--pcap', '-']],
    ['sensor --check', ['sensor', '--config', conf, '--pcap', '-', '-', '--check']],
  ];
  for (const [what, args] of runs) {
    const r = await stnn(args, { pipeFrom: SAMPLE });
    assert.equal(r.stderr, line, what);
    assert.equal(r.stdout, '', what);
    assert.equal(r.code, 2, what);
  }
  assert.ok(!existsSync(out));
});
