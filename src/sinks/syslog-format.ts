/**
 * RFC 5424 message builder for verdict records.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [stnn@32473 k="v" …] BOM{json}
 *
 * SD-ID `stnn@32473`: 32473 is the private enterprise number that RFC 5612 reserves for
 * documentation examples; a site with its own PEN sets `sdId`. SD-PARAMs carry the key fields
 * (app, confidence, community_id, src_ip, src_port, dst_ip, dst_port, transport, sni), their
 * values escaped as §6.3.3 says (`"`, `\` and `]` get a backslash). MSG is the JSON record,
 * without stnn.features unless asked (DESIGN.md), UTF-8 with the BOM that §6.4 requires of a
 * UTF-8 MSG. The whole message (without the RFC 6587 octet count) is kept within
 * `maxMessageBytes` by cutting the MSG on a UTF-8 character boundary; cuts are counted.
 */
import * as os from 'node:os';
import { StnnError } from '../util/errors.js';


/** max_message_bytes when not set: what common receivers take without cutting. */
export const DEFAULT_MAX_MESSAGE_BYTES = 2048;
export const DEFAULT_SD_ID = 'stnn@32473';

const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, audit: 13, alert: 14, clock: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
const SEVERITIES: Record<string, number> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

export interface SyslogFormatOptions {
  /** Facility name (local0…local7, daemon, …) or number 0-23 (default local0). */
  facility?: string | number;
  /** Severity name or number 0-7 (default info). */
  severity?: string | number;
  /** HOSTNAME field (default os.hostname()). */
  hostname?: string;
  /** APP-NAME field (default 'stnn'). */
  appName?: string;
  /** PROCID field (default process.pid). */
  procId?: string | number;
  /** MSGID field (default 'verdict'). */
  msgId?: string;
  /** SD-ID (default stnn@32473). */
  sdId?: string;
  /** Largest message in bytes, header to end of MSG (default 2048, at least 480). */
  maxMessageBytes?: number;
  /** Keep stnn.features in the MSG (default false). */
  features?: boolean;
  /** Start the MSG with the UTF-8 BOM (default true, as RFC 5424 §6.4 asks of UTF-8 MSGs). */
  bom?: boolean;
  /** Clock for TIMESTAMP, ms since the epoch (default Date.now). */
  clock?: () => number;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** PRINTUSASCII (33-126) only, at most `max` characters, '-' (NILVALUE) when empty. */
function headerField(v: string, max: number): string {
  let s = '';
  for (let i = 0; i < v.length && s.length < max; i++) {
    const c = v.charCodeAt(i);
    s += c >= 33 && c <= 126 ? v[i] : '_';
  }
  return s.length ? s : '-';
}

/** SD-PARAM value escaping (RFC 5424 §6.3.3). */
export function escapeParamValue(v: string): string {
  return v.replace(/["\\\]]/g, (c) => '\\' + c);
}

/** Longest prefix of `buf` of at most `max` bytes that does not split a UTF-8 sequence. */
export function utf8Prefix(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let n = max;
  while (n > 0 && (buf[n]! & 0xc0) === 0x80) n--;
  return buf.subarray(0, n);
}

/** Cuts a string to at most `max` UTF-8 bytes on a character boundary. */
function cutUtf8(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? s : utf8Prefix(b, max).toString('utf8');
}

function lookup(table: Record<string, number>, v: string | number | undefined, dflt: number, max: number, what: string): number {
  if (v === undefined) return dflt;
  const n = typeof v === 'number' ? v : table[v.toLowerCase()] ?? (/^\d+$/.test(v) ? Number(v) : NaN);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new StnnError('STNN_CONFIG', `syslog ${what}: unknown value ${JSON.stringify(v)} (names: ${Object.keys(table).join(', ')}, or 0-${max})`);
  }
  return n;
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

export class SyslogFormatter {
  readonly maxMessageBytes: number;
  /** Messages whose MSG was cut to fit maxMessageBytes. */
  truncated = 0;
  private readonly pri: number;
  private readonly headerRest: string;
  private readonly sdId: string;
  private readonly features: boolean;
  private readonly bom: boolean;
  private readonly clock: () => number;

  constructor(opts: SyslogFormatOptions = {}) {
    const facility = lookup(FACILITIES, opts.facility, 16, 23, 'facility');
    const severity = lookup(SEVERITIES, opts.severity, 6, 7, 'severity');
    this.pri = facility * 8 + severity;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(this.maxMessageBytes) || this.maxMessageBytes < 480) {
      throw new StnnError('STNN_CONFIG', `syslog maxMessageBytes: must be an integer of at least 480 (RFC 5424 §6.1), got ${opts.maxMessageBytes}`);
    }
    const sdId = opts.sdId ?? DEFAULT_SD_ID;
    if (!/^[!#-<>-\\^-~]{1,32}$/.test(sdId) || !/^[^@]+(@\d+(\.\d+)*)?$/.test(sdId)) {
      throw new StnnError('STNN_CONFIG', `syslog sdId: ${JSON.stringify(sdId)} is not an SD-ID (name@PEN, printable ASCII without = ] " space, at most 32)`);
    }
    this.sdId = sdId;
    const host = headerField(opts.hostname ?? os.hostname(), 255);
    const app = headerField(opts.appName ?? 'stnn', 48);
    const procId = headerField(String(opts.procId ?? process.pid), 128);
    const msgId = headerField(opts.msgId ?? 'verdict', 32);
    this.headerRest = ` ${host} ${app} ${procId} ${msgId} `;
    this.features = opts.features ?? false;
    this.bom = opts.bom ?? true;
    this.clock = opts.clock ?? Date.now;
  }

  /** STRUCTURED-DATA for one record. */
  structuredData(rec: Record<string, unknown>): string {
    const net = obj(rec.network);
    const src = obj(rec.source);
    const dst = obj(rec.destination);
    const verdict = obj(obj(rec.stnn).verdict);
    const sni = str(obj(obj(rec.tls).client).server_name);
    const params: [string, string | undefined][] = [
      ['app', str(verdict.app) ?? str(net.application)],
      ['confidence', str(verdict.confidence)],
      ['community_id', str(net.community_id)],
      ['transport', str(net.transport)],
      ['src_ip', str(src.ip)],
      ['src_port', str(src.port)],
      ['dst_ip', str(dst.ip)],
      ['dst_port', str(dst.port)],
      ['sni', sni],
    ];
    let sd = '[' + this.sdId;
    for (const [k, v] of params) if (v !== undefined) sd += ` ${k}="${escapeParamValue(cutUtf8(v, 255))}"`;
    return sd + ']';
  }

  /** The JSON text of MSG: the record, without stnn.features unless asked. */
  msgJson(rec: Record<string, unknown>): string {
    const stnn = rec.stnn;
    if (!this.features && stnn !== null && typeof stnn === 'object' && 'features' in stnn) {
      const { features: _drop, ...rest } = stnn as Record<string, unknown>;
      return JSON.stringify({ ...rec, stnn: rest });
    }
    return JSON.stringify(rec);
  }

  /** The whole RFC 5424 message as bytes (no transport framing). */
  format(rec: Record<string, unknown>): Buffer {
    const ts = new Date(this.clock()).toISOString();
    const sd = this.structuredData(rec);
    let head = Buffer.from(`<${this.pri}>1 ${ts}${this.headerRest}${sd} `, 'utf8');
    const msg = Buffer.from(this.msgJson(rec), 'utf8');
    const bom = this.bom ? BOM : BOM.subarray(0, 0);
    if (head.length + bom.length > this.maxMessageBytes) {
      // Only a hostile record gets here (escaped SD values of hundreds of bytes): keep the
      // message valid with NILVALUE structured data; the JSON still carries the fields.
      head = Buffer.from(`<${this.pri}>1 ${ts}${this.headerRest}- `, 'utf8');
    }
    const room = Math.max(0, this.maxMessageBytes - head.length - bom.length);
    let body: Buffer = msg;
    if (msg.length > room) {
      body = utf8Prefix(msg, room);
      this.truncated++;
    }
    return Buffer.concat([head, bom, body]);
  }
}

/** RFC 6587 §3.4.1 octet-counting frame: `MSG-LEN SP SYSLOG-MSG`. */
export function octetCount(msg: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${msg.length} `, 'ascii'), msg]);
}
