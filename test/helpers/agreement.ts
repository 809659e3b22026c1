/**
 * Compares our flows with nDPI's reference results for the corpus: for every TCP
 * flow nDPI recognised as TLS by DPI, find our flow(s) on the same tuple and
 * compare packets per direction and the SNI.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractFlows } from '../../src/flow/extract.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { parseNdpiResult, tupleKey, type NdpiFlow } from '../../src/dataset/ndpi.js';
import { ndpiPcapDir, ndpiResultDir } from './paths.js';

export interface Comparison {
  file: string;
  ndpi: NdpiFlow;
  ours: FlowRecord[];
  packetsAgree: boolean;
  sniAgree: boolean;
  weSayTls: boolean;
}

const key = tupleKey;

export async function compareFile(pcap: string, resultFile: string): Promise<Comparison[]> {
  // Bidirectional ('<->') lines without a VLAN field only: the flows this comparison was measured on
  // (docs/ndpi-agreement.md) when the parser read no other lines.
  const ndpi = parseNdpiResult(resultFile).filter((f) => f.transport === 'tcp' && f.tlsByDpi && f.bidirectional && f.vlan === undefined);
  if (ndpi.length === 0) return [];
  const byTuple = new Map<string, FlowRecord[]>();
  try {
    await extractFlows([pcap], {
      allFlows: true,
      onFlow: (f) => {
        const k = key(f.srcIp, f.srcPort, f.dstIp, f.dstPort);
        const list = byTuple.get(k) ?? [];
        list.push(f);
        byTuple.set(k, list);
      },
    });
  } catch {
    // a file we cannot open counts as no flows found
  }
  const out: Comparison[] = [];
  for (const n of ndpi) {
    let ours = byTuple.get(key(n.a, n.aPort, n.b, n.bPort)) ?? [];
    let flipped = false;
    if (ours.length === 0) {
      ours = byTuple.get(key(n.b, n.bPort, n.a, n.aPort)) ?? [];
      flipped = true;
    }
    const fwd = ours.reduce((s, f) => s + f.fwdPackets, 0);
    const bwd = ours.reduce((s, f) => s + f.bwdPackets, 0);
    const [aPk, bPk] = flipped ? [bwd, fwd] : [fwd, bwd];
    const sni = ours.find((f) => f.tls?.sni)?.tls?.sni;
    out.push({
      file: pcap,
      ndpi: n,
      ours,
      packetsAgree: ours.length > 0 && aPk === n.aPackets && bPk === n.bPackets,
      sniAgree: (n.sni ?? '') === (sni ?? '') || (n.sni === undefined && sni !== undefined),
      weSayTls: ours.some((f) => f.isTls),
    });
  }
  return out;
}

export async function compareCorpus(): Promise<Comparison[]> {
  const results = ndpiResultDir();
  const all: Comparison[] = [];
  for (const name of readdirSync(results).sort()) {
    if (!name.endsWith('.out')) continue;
    const pcap = join(ndpiPcapDir(), name.slice(0, -4));
    if (!existsSync(pcap)) continue;
    all.push(...(await compareFile(pcap, join(results, name))));
  }
  return all;
}
