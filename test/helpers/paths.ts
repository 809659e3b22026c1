import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file whether it runs from test/ or dist/test/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The shared real-traffic corpus (../shared/corpus beside the clone), or $STNN_CORPUS. */
export function corpusDir(): string {
  return process.env.STNN_CORPUS ?? resolve(repoRoot(), '..', 'shared', 'corpus');
}

export function ndpiPcapDir(): string {
  return join(corpusDir(), 'ndpi', 'pcap');
}

export function ndpiResultDir(): string {
  return join(corpusDir(), 'ndpi', 'result');
}

/** The CLI and what the project ships for `npm start`: its capture, labels and model directory. */
export function shipped(): { stnn: string; sample: string; labels: string; models: string } {
  const root = repoRoot();
  return {
    stnn: join(root, 'bin', 'stnn.js'),
    sample: join(root, 'data', 'testbed', 'sample.pcap'),
    labels: join(root, 'data', 'testbed', 'labels.yaml'),
    models: join(root, 'models', 'default'),
  };
}
