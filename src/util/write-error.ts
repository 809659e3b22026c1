/**
 * Write failures of outputs (a full disk, an I/O error, a closed descriptor) as one line naming
 * the file — or 'standard output' — and the reason: `<file>: write failed: <reason>`, exit 1.
 */
import { StnnError } from './errors.js';

export const STDOUT_NAME = 'standard output';

/** 'ENOSPC: no space left on device, write' → 'no space left on device (ENOSPC)'. */
export function writeReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  let msg = typeof e?.message === 'string' ? e.message : String(err);
  if (code !== undefined && msg.startsWith(`${code}: `)) msg = msg.slice(code.length + 2).replace(/, \w+(?: '[^']*')?$/, '');
  msg = msg.split('\n')[0];
  return code !== undefined && !msg.includes(code) ? `${msg} (${code})` : msg;
}

export function writeFailedMessage(file: string, err: unknown): string {
  return `${file}: write failed: ${writeReason(err)}`;
}

/** The error a command fails with when its output cannot be written (exit 1). */
export function writeFailed(file: string, err: unknown): StnnError {
  return new StnnError('STNN_RUNTIME', writeFailedMessage(file, err));
}

/**
 * Who handles errors of process.stdout other than EPIPE. The sensor's jsonl output to '-' counts
 * them (and the run reports them at its end); otherwise the command stops: one line, exit 1.
 */
let stdoutOwner: ((err: Error) => void) | null = null;

export function claimStdoutErrors(handler: ((err: Error) => void) | null): void {
  stdoutOwner = handler;
}

/** process.stdout's 'error' listener of bin/stnn.js. */
export function onStdoutError(err: NodeJS.ErrnoException): void {
  // `stnn features big.pcap | head`: a closed pipe ends the command quietly (status 141, as SIGPIPE)
  if (err?.code === 'EPIPE') process.exit(141);
  if (stdoutOwner) {
    stdoutOwner(err);
    return;
  }
  process.stderr.write(`stnn: ${writeFailedMessage(STDOUT_NAME, err)}\n`);
  process.exit(1);
}
