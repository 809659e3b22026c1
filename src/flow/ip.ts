/** Address formatting for flow output (called once per flow, not per packet). */

export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** The eight 16-bit groups of the address being formatted. */
const G = new Int32Array(8);

/**
 * RFC 5952 text form: lower case, longest run of two or more zero groups as '::'.
 * (Plain loops over a scratch array: the map/slice/join form with a closure made per call
 * was deoptimised and recompiled by V8 several times per run.)
 */
export function formatIPv6(b: Uint8Array, off: number): string {
  const g = G;
  for (let i = 0; i < 8; i++) g[i] = (b[off + 2 * i] << 8) | b[off + 2 * i + 1];
  // IPv4-mapped ::ffff:a.b.c.d
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(b, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  let s = '';
  if (bestStart < 0) {
    for (let i = 0; i < 8; i++) s += (i > 0 ? ':' : '') + g[i].toString(16);
    return s;
  }
  for (let i = 0; i < bestStart; i++) s += (i > 0 ? ':' : '') + g[i].toString(16);
  s += '::';
  const tail = bestStart + bestLen;
  for (let i = tail; i < 8; i++) s += (i > tail ? ':' : '') + g[i].toString(16);
  return s;
}

export function formatIP(version: 4 | 6, b: Uint8Array, off: number): string {
  return version === 4 ? formatIPv4(b, off) : formatIPv6(b, off);
}
