'use strict';
// npm "install" script: builds the addon with node-gyp. When no nodedir is configured
// and Node's headers sit beside the node binary (distribution packages, offline hosts),
// points node-gyp at them instead of letting it download headers.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function findNodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  for (const id of ['node-gyp/bin/node-gyp.js', path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')]) {
    try {
      return require.resolve(id);
    } catch {
      // next
    }
  }
  return null;
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error('stnn-afpacket: node-gyp not found; live AF_PACKET capture will be unavailable');
  process.exit(1);
}
const args = [gyp, 'rebuild'];
if (!process.env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const inc = path.join(prefix, 'include', 'node');
  if (fs.existsSync(path.join(inc, 'node_api.h')) && fs.existsSync(path.join(inc, 'common.gypi'))) args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) console.error('stnn-afpacket: the build failed; live AF_PACKET capture will be unavailable (pcap input still works)');
process.exit(r.status ?? 1);
