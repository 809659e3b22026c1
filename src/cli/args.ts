import { closeSync, existsSync, openSync, readdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from '../util/errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends OptionSpec> {
  /** e.g. 'stnn features <capture…> [options]' */
  usage: string;
  /** One paragraph saying what the command does. */
  summary: string;
  options: O;
  /** Help text per option name, shown by --help. */
  help: Partial<Record<keyof O, string>>;
  /** Minimum number of positional arguments. */
  minPositionals?: number;
}

export function helpText<O extends OptionSpec>(spec: CommandSpec<O>): string {
  const lines = [`usage: ${spec.usage}`, '', spec.summary, '', 'options:'];
  for (const [name, opt] of Object.entries(spec.options)) {
    const flag = `--${name}${opt.type === 'string' ? ' <value>' : ''}`;
    const text = spec.help[name as keyof O] ?? '';
    const dflt = opt.default !== undefined && !/\(default/.test(text) ? ` (default: ${String(opt.default)})` : '';
    lines.push(`  ${flag.padEnd(26)} ${text}${dflt}`);
  }
  lines.push(`  ${'--help'.padEnd(26)} show this help`);
  return lines.join('\n') + '\n';
}

/**
 * Parses argv for one command. Returns null when --help was asked (help is printed).
 * Unknown options and missing positionals throw a usage error (exit 2) naming them.
 */
export function parseCommand<O extends OptionSpec>(argv: string[], spec: CommandSpec<O>) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(spec));
    return null;
  }
  // '--idle-timeout -5': a value that looks like a negative number belongs to the option
  // (parseArgs would call it ambiguous); the range check then names the option
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : null;
    if (name !== null && spec.options[name]?.type === 'string' && i + 1 < argv.length && /^-[\d.]/.test(argv[i + 1])) {
      args.push(`${a}=${argv[++i]}`);
    } else {
      args.push(a);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: spec.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(`${(err as Error).message.split('\n')[0]} (see --help)`);
  }
  if ((spec.minPositionals ?? 0) > parsed.positionals.length) {
    throw usageError(`missing argument: ${spec.usage}`);
  }
  return parsed;
}

/** Parses an integer option, naming it in the error. */
/** Plain decimal numbers only: no hex, no blanks, no empty string. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function intOption(name: string, value: string | undefined, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return dflt;
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usageError(`--${name}: expected an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** Parses a number option, naming it in the error. */
export function numOption(name: string, value: string | undefined, dflt: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return dflt;
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = max === Infinity ? (min === -Infinity ? 'a number' : `a number ≥ ${min}`) : `a number from ${min} to ${max}`;
    throw usageError(`--${name}: expected ${range}, got '${value}'`);
  }
  return n;
}

/** Opens a file the user named for output, or fails as bad usage naming the option. */
export function openOutput(option: string, path: string): number {
  try {
    return openSync(path, 'w');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw usageError(`--${option}: cannot write '${path}' (${code})`);
  }
}

/**
 * Fails as bad usage, naming the option, when a file written at the end of a long run could not
 * be: its directory is missing or not a directory, or the path is a directory itself; or when the
 * output is one of the command's inputs (a capture, a file in an input directory, the labels…),
 * which writing it would destroy. Inputs are compared by device and inode, so another spelling
 * of the path, a symlink or a hard link to an input is caught too. Call it before anything is
 * opened for writing.
 */
export function checkOutputPath(option: string, path: string, inputs: readonly string[] = []): void {
  const d = dirname(resolve(path));
  if (!existsSync(d) || !statSync(d).isDirectory()) throw usageError(`--${option}: directory '${d}' does not exist`);
  const out = statOrNull(path);
  if (out?.isDirectory()) throw usageError(`--${option}: '${path}' is a directory`);
  if (!out?.isFile()) return; // absent, or a device/FIFO: writing it destroys no input file
  const same = (st: Stats | null) => st !== null && st.dev === out.dev && st.ino === out.ino;
  for (const input of inputs) {
    const st = statOrNull(input);
    if (same(st)) throw usageError(`--${option}: '${path}' is also an input ('${input}'): refusing to overwrite it`);
    if (st?.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(input);
      } catch {
        continue; // unreadable: the command reports it when it reads the input
      }
      for (const name of names) {
        if (same(statOrNull(join(input, name)))) {
          throw usageError(`--${option}: '${path}' is also an input ('${join(input, name)}'): refusing to overwrite it`);
        }
      }
    }
  }
}

/**
 * That new files can be made in the directory of `path` (a report writes its HTML and a JSON
 * beside it): creates and removes a temporary file there. A directory that exists but takes no
 * files (/proc, a read-only mount, no write permission) fails now, not after the work.
 */
export function checkCanCreateIn(option: string, path: string): void {
  const d = dirname(resolve(path));
  const probe = join(d, `.stnn-write-check-${process.pid}-${Date.now().toString(36)}`);
  let fd: number;
  try {
    fd = openSync(probe, 'wx');
  } catch (e) {
    throw usageError(`--${option}: cannot create files in directory '${d}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  closeSync(fd);
  try {
    unlinkSync(probe);
  } catch {
    // made but not removable: leave it, the report can still be written
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
