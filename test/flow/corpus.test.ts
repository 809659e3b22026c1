import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { extractFlows } from '../../src/flow/extract.js';
import { StnnError } from '../../src/util/errors.js';
import { compareCorpus } from '../helpers/agreement.js';
import { ndpiPcapDir } from '../helpers/paths.js';

const corpus = ndpiPcapDir();
const haveCorpus = existsSync(corpus);

test('every corpus capture goes through decode, flows and TLS without an exception', { skip: !haveCorpus && 'no corpus at ' + corpus }, async () => {
  const files = readdirSync(corpus).filter((f) => /\.(pcap|pcapng|cap)$/.test(f)).sort();
  assert.ok(files.length >= 540, `expected the 543 corpus captures, found ${files.length}`);
  let flows = 0;
  let tls = 0;
  let truncated = 0;
  for (const name of files) {
    try {
      const s = await extractFlows([join(corpus, name)], { allFlows: true, onFlow: () => { flows++; } });
      tls += s.tlsFlows;
      truncated += s.errors.length;
      for (const e of s.errors) assert.equal(e.code, 'STNN_CAPTURE_TRUNCATED', `${name}: ${e.message}`);
    } catch (err) {
      // a file that is not a capture at all may be refused at open, with a clear error
      assert.ok(err instanceof StnnError, `${name}: ${(err as Error).stack}`);
      assert.equal(err.code, 'STNN_BAD_INPUT', `${name}: ${err.message}`);
    }
  }
  assert.ok(flows > 9000, `flows ${flows}`); // 9255 when written
  assert.ok(tls > 780, `TLS flows ${tls}`); // 791 when written
  assert.ok(truncated <= 3, `truncated files ${truncated}`); // 1 (fuzz-2021-10-13.pcap) when written
});

test('packets per direction and SNI agree with nDPI on ≥ 99 % of its TLS flows', { skip: !haveCorpus && 'no corpus at ' + corpus }, async () => {
  const all = await compareCorpus();
  const comparable = all.filter((c) => c.ours.length > 0);
  const agree = comparable.filter((c) => c.packetsAgree && c.sniAgree);
  // nDPI recognised 808 TLS flows by DPI in these files; 807 can be matched (docs/ndpi-agreement.md)
  assert.ok(all.length >= 800, `nDPI TLS flows ${all.length}`);
  assert.ok(comparable.length >= 805, `comparable flows ${comparable.length}`);
  const rate = agree.length / comparable.length;
  assert.ok(rate >= 0.99, `agreement ${(rate * 100).toFixed(2)} % (${agree.length}/${comparable.length}); see docs/ndpi-agreement.md`);
});
