/** Prints the comparison with nDPI on the corpus (docs/ndpi-agreement.md): node --import tsx benchmarks/ndpi-agreement.ts */
import { compareCorpus } from '../test/helpers/agreement.js';
const all = await compareCorpus();
const found = all.filter((c) => c.ours.length > 0);
const ok = found.filter((c) => c.packetsAgree && c.sniAgree);
console.log(`nDPI TLS-by-DPI TCP flows ${all.length}, comparable ${found.length}, agree ${ok.length} (${(100 * ok.length / found.length).toFixed(2)}%), ours TLS ${found.filter(c=>c.weSayTls).length}`);
for (const c of all.filter((c) => !(c.packetsAgree && c.sniAgree))) {
  console.log(`| ${c.file.split('/').pop()} | ${c.ndpi.a}:${c.ndpi.aPort} ↔ ${c.ndpi.b}:${c.ndpi.bPort} | ${c.ndpi.aPackets}/${c.ndpi.bPackets} ${c.ndpi.sni ?? '–'} | ${c.ours.length ? c.ours.map((x) => `${x.fwdPackets}/${x.bwdPackets} ${x.tls?.sni ?? '–'}`).join('; ') : 'not found'} |`);
}
const notTls = found.filter((c) => !c.weSayTls);
const byFile = new Map<string, number>(); for (const c of notTls) byFile.set(c.file.split('/').pop()!, (byFile.get(c.file.split('/').pop()!) ?? 0) + 1);
console.log('not TLS for us:', notTls.length, [...byFile].map(([f, n]) => `${f} ${n}`).join(', '));
