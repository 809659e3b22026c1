/**
 * A progress line on stderr, only when stderr is a terminal, redrawn at most
 * 5 times a second.
 */
export class Progress {
  private last = 0;
  private shown = false;
  private readonly started = Date.now();
  constructor(private readonly enabled = process.stderr.isTTY === true) {}

  update(done: number, total: number, label: string, frames: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 200 && done < total) return;
    this.last = now;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 30;
    const fill = Math.round(frac * width);
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? Math.round(frames / secs) : 0;
    const bar = '#'.repeat(fill) + '-'.repeat(width - fill);
    process.stderr.write(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${frames} frames ${rate}/s ${label.slice(-40)}\x1b[K`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }
}
