/**
 * Checks a sink section read from YAML (unknown shape) and returns a typed SinkConfig. Every
 * error is an STNN_CONFIG naming the key (e.g. `outputs[1].port`) and the reason.
 *
 * The YAML keys are snake_case like the rest of the configuration (`app_name`, `max_bytes`);
 * the typed config is camelCase. The readers below take the camelCase field name and read
 * (and name in errors) its snake_case key.
 */
import { StnnError } from '../util/errors.js';
import type { SinkConfig } from './sink.js';
import type { SpoolOptions } from './spool.js';

type Raw = Record<string, unknown>;

const fail = (key: string, why: string): never => {
  throw new StnnError('STNN_CONFIG', `${key}: ${why}`);
};

function isObj(v: unknown): v is Raw {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The YAML key of a camelCase field: maxMessageBytes → max_message_bytes. */
export const yamlKey = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function allowOnly(o: Raw, key: string, fields: readonly string[]) {
  const names = fields.map(yamlKey);
  for (const k of Object.keys(o)) {
    if (names.includes(k)) continue;
    const hint = names.includes(yamlKey(k)) ? `write it ${yamlKey(k)}` : `allowed: ${names.join(', ')}`;
    fail(`${key}.${k}`, `unknown key (${hint})`);
  }
}

function str(o: Raw, key: string, field: string, required = false): string | undefined {
  const name = yamlKey(field);
  const v = o[name];
  if (v === undefined || v === null) return required ? fail(`${key}.${name}`, 'missing') : undefined;
  if (typeof v !== 'string' || v === '') fail(`${key}.${name}`, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v as string;
}

function int(o: Raw, key: string, field: string, min: number, max: number): number | undefined {
  const name = yamlKey(field);
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${key}.${name}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v as number;
}

function bool(o: Raw, key: string, field: string): boolean | undefined {
  const name = yamlKey(field);
  const v = o[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(`${key}.${name}`, `must be true or false, got ${JSON.stringify(v)}`);
  return v as boolean;
}

function oneOf<T extends string>(o: Raw, key: string, field: string, values: readonly T[], required = false): T | undefined {
  const name = yamlKey(field);
  const v = o[name];
  if (v === undefined || v === null) return required ? fail(`${key}.${name}`, `missing (one of ${values.join(', ')})`) : undefined;
  if (!values.includes(v as T)) fail(`${key}.${name}`, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function spool(o: Raw, key: string): SpoolOptions | undefined {
  const v = o.spool;
  if (v === undefined || v === null) return undefined;
  const k = `${key}.spool`;
  if (!isObj(v)) return fail(k, 'must be a mapping with dir (and max_bytes, segment_bytes)');
  allowOnly(v, k, ['dir', 'maxBytes', 'segmentBytes']);
  return drop({
    dir: str(v, k, 'dir', true)!,
    maxBytes: int(v, k, 'maxBytes', 1024, Number.MAX_SAFE_INTEGER),
    segmentBytes: int(v, k, 'segmentBytes', 4096, 1 << 30),
  });
}

const drop = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** Validates one entry of the `sinks` list; `key` names it in errors (e.g. 'sinks[0]'). */
export function sinkConfigFrom(raw: unknown, key: string): SinkConfig {
  if (!isObj(raw)) return fail(key, 'must be a mapping with a type (jsonl, syslog, kafka, null)');
  // `type: null` unquoted is YAML's null value, not the string: say how to write the null sink.
  if ('type' in raw && raw.type === null) fail(`${key}.type`, 'no value (YAML reads an unquoted null as no value: for the null sink write type: "null")');
  const type = oneOf(raw, key, 'type', ['jsonl', 'syslog', 'kafka', 'null'] as const, true)!;
  const name = str(raw, key, 'name');
  switch (type) {
    case 'null':
      allowOnly(raw, key, ['type', 'name']);
      return drop({ type, name });
    case 'jsonl':
      allowOnly(raw, key, ['type', 'name', 'path']);
      return drop({ type, name, path: str(raw, key, 'path', true)! });
    case 'syslog': {
      allowOnly(raw, key, [
        'type', 'name', 'transport', 'host', 'port', 'path', 'socketType', 'appName', 'facility', 'severity', 'hostname',
        'sdId', 'maxMessageBytes', 'features', 'bom', 'spool', 'memoryBytes', 'batchSize', 'backoffMinMs', 'backoffMaxMs',
      ]);
      const transport = oneOf(raw, key, 'transport', ['udp', 'tcp', 'unix'] as const, true)!;
      const socketType = oneOf(raw, key, 'socketType', ['dgram', 'stream'] as const);
      const datagram = transport === 'udp' || (transport === 'unix' && socketType !== 'stream');
      const facility = raw.facility;
      if (facility !== undefined && typeof facility !== 'string' && typeof facility !== 'number') fail(`${key}.facility`, 'must be a name (local0…) or a number 0-23');
      const severity = raw.severity;
      if (severity !== undefined && typeof severity !== 'string' && typeof severity !== 'number') fail(`${key}.severity`, 'must be a name (info…) or a number 0-7');
      return drop({
        type, name, transport, socketType,
        host: str(raw, key, 'host'),
        port: int(raw, key, 'port', 1, 65535),
        path: str(raw, key, 'path'),
        appName: str(raw, key, 'appName'),
        facility: facility as string | number | undefined,
        severity: severity as string | number | undefined,
        hostname: str(raw, key, 'hostname'),
        sdId: str(raw, key, 'sdId'),
        // A datagram carries one message: 65507 bytes is the most UDP over IPv4 can.
        maxMessageBytes: int(raw, key, 'maxMessageBytes', 480, datagram ? 65507 : 16 * 1024 * 1024),
        features: bool(raw, key, 'features'),
        bom: bool(raw, key, 'bom'),
        spool: spool(raw, key),
        memoryBytes: int(raw, key, 'memoryBytes', 1024, Number.MAX_SAFE_INTEGER),
        batchSize: int(raw, key, 'batchSize', 1, 100_000),
        backoffMinMs: int(raw, key, 'backoffMinMs', 1, 3_600_000),
        backoffMaxMs: int(raw, key, 'backoffMaxMs', 1, 3_600_000),
      });
    }
    case 'kafka': {
      allowOnly(raw, key, [
        'type', 'name', 'brokers', 'topic', 'clientId', 'compression', 'batchSize', 'lingerMs', 'idempotent', 'retries',
        'connectionTimeoutMs', 'requestTimeoutMs', 'spool', 'memoryBytes', 'backoffMinMs', 'backoffMaxMs',
      ]);
      const brokers = raw.brokers;
      if (!Array.isArray(brokers) || brokers.length === 0) fail(`${key}.brokers`, 'must be a non-empty list of host:port');
      (brokers as unknown[]).forEach((b, i) => {
        if (typeof b !== 'string' || !/^[^:\s]+:\d{1,5}$/.test(b)) fail(`${key}.brokers[${i}]`, `must be host:port, got ${JSON.stringify(b)}`);
      });
      return drop({
        type, name,
        brokers: brokers as string[],
        topic: str(raw, key, 'topic', true)!,
        clientId: str(raw, key, 'clientId'),
        compression: oneOf(raw, key, 'compression', ['gzip', 'none'] as const),
        batchSize: int(raw, key, 'batchSize', 1, 100_000),
        lingerMs: int(raw, key, 'lingerMs', 0, 60_000),
        idempotent: bool(raw, key, 'idempotent'),
        retries: int(raw, key, 'retries', 1, 1000),
        connectionTimeoutMs: int(raw, key, 'connectionTimeoutMs', 1, 600_000),
        requestTimeoutMs: int(raw, key, 'requestTimeoutMs', 1, 600_000),
        spool: spool(raw, key),
        memoryBytes: int(raw, key, 'memoryBytes', 1024, Number.MAX_SAFE_INTEGER),
        backoffMinMs: int(raw, key, 'backoffMinMs', 1, 3_600_000),
        backoffMaxMs: int(raw, key, 'backoffMaxMs', 1, 3_600_000),
      });
    }
  }
  return fail(key, 'unreachable');
}
