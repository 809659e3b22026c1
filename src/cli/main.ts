import { StnnError } from '../util/errors.js';

export async function main(argv: string[]): Promise<number> {
  try {
    const cmd = argv[0];
    if (!cmd || cmd === '--help' || cmd === '-h') {
      process.stdout.write('usage: stnn <command> [options]\n');
      return cmd ? 0 : 2;
    }
    throw new StnnError('STNN_USAGE', `unknown command '${cmd}' (see stnn --help)`);
  } catch (err) {
    if (err instanceof StnnError) {
      process.stderr.write(`stnn: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
