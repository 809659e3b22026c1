/**
 * One-off agreement check of the TLS tracker against nDPI's results on the shared
 * corpus (not a CI test: run by hand).
 *
 *   node --import tsx test/tls/corpus-check.ts --run [--verbose] [pcap…]
 *
 * Without pcap arguments it takes every corpus capture whose nDPI result lists a
 * TCP TLS flow. Each file goes through the product's offline path (capture reader →
 * decode → flow table → TlsTracker), and each TCP flow nDPI reports as TLS is
 * matched to ours by its endpoints. Printed: how many were matched, how many we
 * recognised as TLS, and agreement on SNI, advertised ALPN, negotiated ALPN and
 * version (nDPI's `[TLSv1.x]` is the ServerHello's version when it saw one, else
 * the ClientHello's legacy version: compared with our negotiated version only
 * where we have one). Under `node --test` (no --run) it does nothing.
 *
 *   node --import tsx test/tls/corpus-check.ts --acks [pcap…]
 *
 * runs the tracker through a minimal TCP flow map of its own, once without and once
 * with ACK numbers, and prints the TLS flows whose handshake/data split differs
 * (the flow table does not pass ACK numbers yet).
 *
 *   node --import tsx test/tls/corpus-check.ts --dump [pcap…]
 *
 * prints one JSON line per TLS flow of the product's path (endpoints, handshake and
 * data packets) for test/tls/phase-reference.py, an independent re-implementation
 * of the phase rule over tshark-extracted segments.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { extractFlows } from '../../src/flow/extract.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { defaultTlsCounters, TlsCounters, TlsTracker } from '../../src/tls/tracker.js';
import { openCapture, newRawFrame } from '../../src/capture/reader.js';
import { decodeFrame, DecodeCounters } from '../../src/decode/index.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { formatIP } from '../../src/flow/ip.js';

const CORPUS = '/work/shared/corpus/ndpi';

interface NdpiFlow {
  key: string;
  proto: string;
  sni?: string;
  alpnAdv?: string;
  alpnNeg?: string;
  version?: string;
  line: string;
}

function endpoint(s: string): string {
  return s.toLowerCase();
}

function parseNdpi(file: string): NdpiFlow[] {
  const out: NdpiFlow[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*\d+\s+TCP (\S+) (?:<->|->) (\S+) \[proto: ([^\]]+)\]/.exec(line);
    if (!m) continue;
    const f: NdpiFlow = { key: [endpoint(m[1]!), endpoint(m[2]!)].sort().join(' '), proto: m[3]!, line };
    const sni = /\[Hostname\/SNI: ([^\]]*)\]/.exec(line);
    if (sni) f.sni = sni[1];
    const adv = /\[\(Advertised\) ALPNs: ([^\]]*)\]/.exec(line);
    if (adv) f.alpnAdv = adv[1];
    const neg = /\[\(Negotiated\) ALPN: ([^\]]*)\]/.exec(line);
    if (neg) f.alpnNeg = neg[1];
    const ver = /\]\[(SSLv3|TLSv1(?:\.[0-3])?(?: \([A-Za-z]+\))?|TLS \([0-9A-Fa-f]+\))\]\[/.exec(line);
    if (ver) f.version = ver[1];
    out.push(f);
  }
  return out;
}

const ep = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
const ourKey = (r: FlowRecord) => [ep(r.srcIp, r.srcPort), ep(r.dstIp, r.dstPort)].map(endpoint).sort().join(' ');

/** nDPI's name for a version we print as 'TLSv1.0' etc. */
function ndpiVersionName(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === 'TLSv1.0') return 'TLSv1';
  return v;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const verbose = process.argv.includes('--verbose');
  let files: string[];
  if (args.length > 0) files = args;
  else {
    files = readdirSync(join(CORPUS, 'result'))
      .filter((f) => /^\s*\d+\s+TCP .*TLS/m.test(readFileSync(join(CORPUS, 'result', f), 'utf8')))
      .map((f) => join(CORPUS, 'pcap', f.replace(/\.out$/, '')))
      .filter((p) => existsSync(p));
  }
  const tot = { ndpiTls: 0, matched: 0, ourTls: 0, sniCmp: 0, sniOk: 0, advCmp: 0, advOk: 0, negCmp: 0, negOk: 0, verCmp: 0, verOk: 0, hs: 0, data: 0 };
  const notes: string[] = [];
  for (const pcap of files) {
    const res = join(CORPUS, 'result', basename(pcap) + '.out');
    if (!existsSync(res)) continue;
    const ndpi = parseNdpi(res).filter((f) => /TLS/.test(f.proto) && !/DTLS/.test(f.proto));
    if (ndpi.length === 0) continue;
    const ours = new Map<string, FlowRecord[]>();
    try {
      await extractFlows([pcap], {
        allFlows: true,
        onFlow: (r) => {
          if (r.transport !== 'tcp') return;
          const k = ourKey(r);
          const l = ours.get(k);
          if (l) l.push(r); else ours.set(k, [r]);
        },
      });
    } catch (e) {
      notes.push(`${basename(pcap)}: ${(e as Error).message}`);
      continue;
    }
    for (const n of ndpi) {
      tot.ndpiTls++;
      const list = ours.get(n.key);
      // several flows on one tuple: prefer the TLS one with the same SNI
      const r = list?.find((x) => x.isTls && x.tls?.sni === n.sni) ?? list?.find((x) => x.isTls) ?? list?.[0];
      if (!r) { notes.push(`${basename(pcap)}: no flow of ours for ${n.key}`); continue; }
      tot.matched++;
      if (!r.isTls) { notes.push(`${basename(pcap)}: ${n.key} not TLS for us (nDPI ${n.proto}, SNI ${n.sni ?? '-'})`); continue; }
      tot.ourTls++;
      tot.hs += r.handshakePackets;
      tot.data += r.dataPackets;
      const t = r.tls!;
      if (n.sni !== undefined) {
        tot.sniCmp++;
        if (t.sni === n.sni) tot.sniOk++;
        else notes.push(`${basename(pcap)}: ${n.key} SNI ours ${t.sni ?? '-'} nDPI ${n.sni}`);
      }
      if (n.alpnAdv !== undefined) {
        tot.advCmp++;
        if (t.alpnOffered.join(';') === n.alpnAdv) tot.advOk++;
        else notes.push(`${basename(pcap)}: ${n.key} ALPN offered ours ${t.alpnOffered.join(';')} nDPI ${n.alpnAdv}`);
      }
      if (n.alpnNeg !== undefined) {
        tot.negCmp++;
        if (t.alpnNegotiated === n.alpnNeg) tot.negOk++;
        else notes.push(`${basename(pcap)}: ${n.key} ALPN negotiated ours ${t.alpnNegotiated ?? '-'} nDPI ${n.alpnNeg}`);
      }
      if (n.version !== undefined && t.versionNegotiated !== undefined) {
        tot.verCmp++;
        const ndpiV = n.version.replace(' (Fizz)', '');
        const oursV = t.versionNegotiated === '0xfb1a' ? 'TLSv1.3' : ndpiVersionName(t.versionNegotiated);
        if (oursV === ndpiV) tot.verOk++;
        else notes.push(`${basename(pcap)}: ${n.key} version ours ${t.versionNegotiated} nDPI ${n.version}`);
      }
      if (verbose) console.log(basename(pcap), n.key, JSON.stringify(t), r.handshakePackets, r.dataPackets);
    }
  }
  const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(1)} %`);
  console.log(`files: ${files.length}`);
  console.log(`nDPI TCP TLS flows: ${tot.ndpiTls}, matched to ours: ${tot.matched}, TLS for us: ${tot.ourTls} (${pct(tot.ourTls, tot.matched)})`);
  console.log(`SNI agree: ${tot.sniOk}/${tot.sniCmp} (${pct(tot.sniOk, tot.sniCmp)})`);
  console.log(`ALPN advertised agree: ${tot.advOk}/${tot.advCmp} (${pct(tot.advOk, tot.advCmp)})`);
  console.log(`ALPN negotiated agree: ${tot.negOk}/${tot.negCmp} (${pct(tot.negOk, tot.negCmp)})`);
  console.log(`version agree (where we saw a ServerHello): ${tot.verOk}/${tot.verCmp} (${pct(tot.verOk, tot.verCmp)})`);
  console.log(`packets of these flows: handshake ${tot.hs}, data ${tot.data}`);
  console.log('tls counters:', JSON.stringify(defaultTlsCounters.toObject()));
  for (const n of notes) console.log('  ' + n);
}

const maxState = { bytes: 0, where: '' };

interface MiniFlow { t: TlsTracker; client: string; hs: number; data: number; key: string }

/** TCP flows of one capture through a bare flow map (client: SYN sender, SYN-ACK receiver, else first sender). */
function miniPipeline(pcap: string, withAcks: boolean, counters: TlsCounters): Map<string, MiniFlow> {
  const flows = new Map<string, MiniFlow>();
  const r = openCapture(pcap);
  const frame = newRawFrame();
  const p = new DecodedPacket();
  const dc = new DecodeCounters();
  try {
    while (r.next(frame)) {
      if (!decodeFrame(frame, p, dc) || p.proto !== 6) continue;
      const a = ep(formatIP(p.ipVersion as 4 | 6, p.buf, p.srcAddrOff), p.srcPort);
      const b = ep(formatIP(p.ipVersion as 4 | 6, p.buf, p.dstAddrOff), p.dstPort);
      const key = [a, b].sort().join(' ');
      let f = flows.get(key);
      if (f === undefined) {
        const synAck = (p.tcpFlags & 0x12) === 0x12;
        f = { t: new TlsTracker(counters), client: synAck ? b : a, hs: 0, data: 0, key };
        flows.set(key, f);
      }
      const dir = a === f.client ? 0 : 1;
      const ph = withAcks
        ? f.t.onPacket(dir, p.tcpSeq, p.tcpFlags, p.buf, p.payloadOff, p.payloadCapLen, p.payloadLen, p.tcpAck)
        : f.t.onPacket(dir, p.tcpSeq, p.tcpFlags, p.buf, p.payloadOff, p.payloadCapLen, p.payloadLen);
      if (ph === 0) f.hs++; else f.data++;
      const sb = f.t.stateBytes();
      if (sb > maxState.bytes) { maxState.bytes = sb; maxState.where = `${basename(pcap)} ${key}`; }
    }
  } catch (e) {
    console.log(`  ${basename(pcap)}: ${(e as Error).message}`);
  } finally {
    r.close();
  }
  return flows;
}

function compareAcks(files: string[]): void {
  const c0 = new TlsCounters(), c1 = new TlsCounters();
  let tls = 0, differ = 0, ended0 = 0, ended1 = 0;
  for (const pcap of files) {
    const a = miniPipeline(pcap, false, c0);
    const b = miniPipeline(pcap, true, c1);
    for (const [k, f] of a) {
      const g = b.get(k)!;
      if (f.t.status !== 'tls' && g.t.status !== 'tls') continue;
      tls++;
      if (f.t.handshakeDone) ended0++;
      if (g.t.handshakeDone) ended1++;
      else if (process.argv.includes('--verbose')) console.log(`  not ended: ${basename(pcap)} ${k} hs ${g.hs} sni ${g.t.info().sni ?? '-'} v ${g.t.info().versionNegotiated ?? '-'}`);
      if (f.hs !== g.hs || f.t.status !== g.t.status) {
        differ++;
        console.log(`  ${basename(pcap)} ${k}: without ACKs ${f.t.status} hs ${f.hs} data ${f.data}; with ACKs ${g.t.status} hs ${g.hs} data ${g.data} sni ${g.t.info().sni ?? '-'}`);
      }
    }
  }
  console.log(`TLS flows: ${tls}; handshake ended without ACKs: ${ended0}, with ACKs: ${ended1}; split differs: ${differ}`);
  console.log(`largest stateBytes() after any packet: ${maxState.bytes} (${maxState.where})`);
  console.log('counters without ACKs:', JSON.stringify(c0.toObject()));
  console.log('counters with ACKs:   ', JSON.stringify(c1.toObject()));
}

async function dump(files: string[]): Promise<void> {
  for (const f of files) {
    await extractFlows([f], {
      onFlow: (r) => {
        if (r.transport !== 'tcp') return;
        console.log(JSON.stringify({ file: f, a: r.srcIp, ap: r.srcPort, b: r.dstIp, bp: r.dstPort, hs: r.handshakePackets, data: r.dataPackets, n: r.fwdPackets + r.bwdPackets }));
      },
    }).catch((e) => console.error(f, String(e)));
  }
}

if (process.argv.includes('--dump')) {
  dump(process.argv.slice(2).filter((a) => !a.startsWith('--'))).catch((e) => { console.error(e); process.exit(1); });
} else if (process.argv.includes('--acks')) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  compareAcks(args);
} else if (process.argv.includes('--run')) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
