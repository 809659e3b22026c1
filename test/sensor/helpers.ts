/** Shared by the sensor tests: run `stnn sensor` in a child process, read JSON lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** node arguments that run src/sensor/entry (.ts under tsx, .js when built). */
export function sensorArgv(args: string[]): string[] {
  const ts = import.meta.url.endsWith('.ts');
  const script = fileURLToPath(new URL(`../../src/sensor/entry${ts ? '.ts' : '.js'}`, import.meta.url));
  return [...(ts ? ['--import', 'tsx'] : []), script, ...args];
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Kills every sensor this process started that is still running (for after() hooks). */
export function killSensors(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

/** Spawns the sensor (optionally under a prefix such as `ip netns exec NS`). */
export function spawnSensor(args: string[], prefix: string[] = []): { child: ChildProcess; exited: Promise<Finished>; stderr: () => string; running: () => boolean } {
  const argv = sensorArgv(args);
  const child = prefix.length
    ? spawn(prefix[0]!, [...prefix.slice(1), process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let running = true;
  const exited = new Promise<Finished>((resolve) => child.on('close', (code, signal) => {
    running = false;
    resolve({ code, signal, stdout, stderr });
  }));
  return { child, exited, stderr: () => stderr, running: () => running };
}

export function readJsonl(path: string): Record<string, any>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `f()` is true or the deadline passes. */
export async function until(f: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
