/**
 * Runs `stnn sensor` in a child process for the tests, as src/cli/main.ts would (StnnError →
 * `stnn: message` on stderr and its exit code), until main.ts dispatches `sensor` itself.
 */
import { run } from '../../src/cli/sensor.js';
import { StnnError } from '../../src/util/errors.js';

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
