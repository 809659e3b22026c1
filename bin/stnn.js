#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

// `stnn features big.pcap | head`: a closed pipe ends the command quietly (status 141, as SIGPIPE)
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(141); // as a shell reports a command ended by SIGPIPE
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`stnn: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
