/**
 * Records per second through the SPSC ring between two threads: a worker produces
 * packet records (pushPacket, lossless: it waits for space), this thread consumes them
 * (pop, reading the four packet fields and one byte of each frame). The peer in the
 * same run is worker_threads' MessagePort carrying the same records one message each.
 *
 *   node --import tsx benchmarks/ring.ts [records] [ringBytes]
 *   node dist/benchmarks/ring.js [records] [ringBytes]
 */
import { Worker, isMainThread, parentPort, workerData, MessageChannel, type MessagePort } from 'node:worker_threads';
import { SpscRing, RingRecord, createRingBuffer } from '../src/capture/ring.js';

interface Job {
  mode: 'ring' | 'port';
  sab?: SharedArrayBuffer;
  port?: MessagePort;
  count: number;
  size: number;
}

function spawnSelf(data: Job, transfer: MessagePort[] = []): Worker {
  const url = import.meta.url;
  if (!url.endsWith('.ts')) return new Worker(new URL(url), { workerData: data, transferList: transfer });
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(code, { eval: true, workerData: data, transferList: transfer });
}

function produce(job: Job): void {
  const frame = new Uint8Array(job.size);
  for (let i = 0; i < frame.length; i++) frame[i] = i & 0xff;
  if (job.mode === 'ring') {
    const ring = new SpscRing(job.sab!);
    let waits = 0;
    for (let i = 0; i < job.count; i++) {
      frame[0] = i & 0xff;
      while (!ring.waitForSpace(16 + job.size, 10)) waits++; // lossless: wait, never drop
      ring.pushPacket(i, 0, job.size, frame, 0, job.size);
    }
    ring.close();
    parentPort!.postMessage({ waits, drops: ring.dropped });
  } else {
    const port = job.port!;
    for (let i = 0; i < job.count; i++) {
      frame[0] = i & 0xff;
      port.postMessage(frame);
    }
    port.postMessage(null);
    parentPort!.postMessage({ waits: 0, drops: 0 });
  }
}

async function runRing(count: number, size: number, ringBytes: number): Promise<{ rate: number; drops: number; bad: number }> {
  const sab = createRingBuffer(ringBytes);
  const ring = new SpscRing(sab);
  const w = spawnSelf({ mode: 'ring', sab, count, size });
  const done = new Promise<{ waits: number; drops: number }>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  const rec = new RingRecord();
  // wait for the first record so that worker start-up is not timed
  while (!ring.pop(rec)) ring.wait(1000);
  const t0 = process.hrtime.bigint();
  let n = 1;
  let bad = 0;
  for (;;) {
    if (ring.pop(rec)) {
      if (rec.buf[rec.off] !== (rec.tsSec & 0xff) || rec.capLen !== size) bad++;
      n++;
      continue;
    }
    if (ring.finished) break;
    ring.wait(100);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const { drops } = await done;
  await w.terminate();
  if (n !== count) throw new Error(`ring: got ${n} of ${count}`);
  return { rate: (n - 1) / secs, drops, bad };
}

async function runPort(count: number, size: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const w = spawnSelf({ mode: 'port', port: port2, count, size }, [port2]);
  let n = 0;
  let t0 = 0n;
  await new Promise<void>((resolve) => {
    port1.on('message', (m: Uint8Array | null) => {
      if (m === null) return resolve();
      if (n === 0) t0 = process.hrtime.bigint();
      n++;
    });
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  port1.close();
  await w.terminate();
  return (n - 1) / secs;
}

if (!isMainThread && workerData?.mode) {
  produce(workerData as Job);
} else {
  const count = Number(process.argv[2] ?? 2_000_000);
  const ringBytes = Number(process.argv[3] ?? 1 << 22);
  console.log(`SPSC ring vs MessagePort, ${count} records per size, ring ${ringBytes} bytes, ${process.version}`);
  await runRing(200_000, 64, ringBytes); // warm-up, not reported
  console.log('frame bytes   ring records/s   ring MB/s   port records/s   ring/port');
  for (const size of [64, 256, 1514]) {
    const r = await runRing(count, size, ringBytes);
    const portCount = Math.min(count, 200_000);
    const p = await runPort(portCount, size);
    if (r.bad !== 0 || r.drops !== 0) throw new Error(`ring: ${r.bad} bad records, ${r.drops} drops`);
    console.log(
      `${String(size).padStart(11)}   ${Math.round(r.rate).toLocaleString('en').padStart(14)}   ${((r.rate * size) / 1e6).toFixed(0).padStart(9)}   ${Math.round(p).toLocaleString('en').padStart(14)}   ${(r.rate / p).toFixed(1).padStart(9)}`,
    );
  }
}
