#!/usr/bin/env node
import { main, onStdoutError } from '../dist/src/cli/main.js';

// a closed pipe (`stnn features big.pcap | head`) ends the command quietly with status 141, as
// SIGPIPE would; any other write error on stdout (a full disk) is one line and exit 1
process.stdout.on('error', onStdoutError);

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`stnn: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
