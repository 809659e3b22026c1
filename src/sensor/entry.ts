/**
 * Stand-alone entry of `stnn sensor` (node [--import tsx] src/sensor/entry.ts --config …): the
 * same error handling as src/cli/main.ts (StnnError → `stnn: message` on stderr and its exit
 * code). The tests and benchmarks/capture start the sensor through it.
 */
import { run } from '../cli/sensor.js';
import { StnnError } from '../util/errors.js';

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  if (err instanceof StnnError) {
    process.stderr.write(`stnn: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    throw err;
  }
}
