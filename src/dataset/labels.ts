/**
 * Labelling rules: SNI → application, from YAML. Used only to label training/evaluation data; the
 * SNI is never a feature.
 *
 * File format: a list of rules (or a mapping with a `rules:` list), first match wins, an SNI that
 * no rule matches (or a flow without SNI) is 'background':
 *
 *   - app: google
 *     sni_suffix: [google.com, googleapis.com, '*.gstatic.com']
 *   - app: netflix
 *     sni_regex: '(^|\.)nflx(video|ext|img)\.(net|com)$'
 *
 * sni_suffix: a name or list of names. 'example.com' matches example.com and any subdomain
 * (www.example.com), never notexample.com; '*.example.com' or '.example.com' matches subdomains
 * only. Comparison ignores case and a trailing dot of the SNI.
 * sni_regex: a JavaScript regular expression or a list of them, case-insensitive, tested against
 * the lower-cased SNI, not anchored unless written with ^/$.
 * app: letters, digits, '.', '_', '+', '-', starting with a letter or digit, at most 64 characters
 * (it names a model file); 'background', 'unknown' and 'unclassified' are reserved.
 *
 * Errors name the file, the line, the rule (1-based position in the list) and the key.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { StnnError } from '../util/errors.js';
import { appNameProblem } from '../util/app-name.js';
import { BACKGROUND } from '../eval/metrics.js';

export { RESERVED_LABELS } from '../util/app-name.js';
const NAME_RE = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const RULE_KEYS = ['app', 'sni_suffix', 'sni_regex'];

export interface LabelRule {
  app: string;
  /** Normalised suffixes; a leading '.' means "subdomains only". */
  sniSuffix?: string[];
  sniRegex?: RegExp[];
  /** 1-based position in the file's list, and the line it starts on. */
  index: number;
  line: number;
}

export interface LabelRules {
  file: string;
  rules: LabelRule[];
  /** Application names in first-appearance order. */
  apps: string[];
}

/** Lower-cases and drops a trailing dot. */
export function normaliseSni(sni: string): string {
  const s = sni.toLowerCase();
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

function suffixMatches(sni: string, suffix: string): boolean {
  if (suffix.startsWith('.')) return sni.length > suffix.length && sni.endsWith(suffix);
  return sni === suffix || (sni.length > suffix.length && sni.endsWith(suffix) && sni.charCodeAt(sni.length - suffix.length - 1) === 46);
}

/** The first matching rule's application, or 'background'. */
export function labelFor(rules: LabelRules, sni: string | undefined | null): string {
  if (!sni) return BACKGROUND;
  const s = normaliseSni(sni);
  for (const r of rules.rules) {
    if (r.sniSuffix) {
      for (const suf of r.sniSuffix) if (suffixMatches(s, suf)) return r.app;
    } else if (r.sniRegex && r.sniRegex.some((re) => re.test(s))) {
      return r.app;
    }
  }
  return BACKGROUND;
}

/** Parses rules from YAML text; `file` is used in error messages. */
export function parseLabelRules(text: string, file: string): LabelRules {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: YamlNode | null | undefined) => (node?.range ? lc.linePos(node.range[0]).line : 1);
  const fail = (line: number, msg: string): never => {
    throw new StnnError('STNN_CONFIG', `${file}:${line}: ${msg}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    fail(e.linePos?.[0].line ?? lc.linePos(e.pos[0]).line, `invalid YAML: ${e.message.split('\n')[0]}`);
  }
  let list: YamlNode | null = doc.contents as YamlNode | null;
  if (isMap(list)) {
    const keys = list.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
    const extra = keys.filter((k) => k !== 'rules');
    if (extra.length) fail(lineOf(list), `unknown top-level key '${extra[0]}' (expected a list of rules, or 'rules:' with a list)`);
    list = list.get('rules', true) as YamlNode | null;
  }
  if (list === null || list === undefined || (isScalar(list) && list.value === null)) fail(1, 'no label rules');
  if (!isSeq(list)) return fail(lineOf(list), 'expected a list of rules ({ app, sni_suffix } or { app, sni_regex })');

  const rules: LabelRule[] = [];
  const apps: string[] = [];
  list.items.forEach((item, k) => {
    const index = k + 1;
    const node = item as YamlNode;
    const line = lineOf(node);
    if (!isMap(node)) fail(line, `rule ${index}: expected a mapping with 'app' and 'sni_suffix' or 'sni_regex'`);
    const map = node as import('yaml').YAMLMap;
    const at = (key: string) => {
      const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
      return pair ? lineOf((pair.value as YamlNode) ?? (pair.key as YamlNode)) : line;
    };
    for (const p of map.items) {
      const key = isScalar(p.key) ? String(p.key.value) : String(p.key);
      if (!RULE_KEYS.includes(key)) fail(lineOf(p.key as YamlNode), `rule ${index}: unknown key '${key}' (allowed: ${RULE_KEYS.join(', ')})`);
    }
    const raw = map.toJS(doc) as Record<string, unknown>;
    const app = raw.app;
    if (app === undefined) fail(line, `rule ${index}: app: missing`);
    const problem = appNameProblem(app);
    if (problem) fail(at('app'), `rule ${index}: app: ${problem}`);
    const appName = app as string;
    const hasSuffix = raw.sni_suffix !== undefined;
    const hasRegex = raw.sni_regex !== undefined;
    if (hasSuffix === hasRegex) {
      fail(line, `rule ${index} (app '${appName}'): sni_suffix/sni_regex: give exactly one of them`);
    }
    const rule: LabelRule = { app: appName, index, line };
    if (hasSuffix) {
      const v = raw.sni_suffix;
      const arr = Array.isArray(v) ? v : [v];
      if (arr.length === 0) fail(at('sni_suffix'), `rule ${index} (app '${appName}'): sni_suffix: empty list`);
      rule.sniSuffix = arr.map((s) => {
        if (typeof s !== 'string' || s.trim() === '') {
          return fail(at('sni_suffix'), `rule ${index} (app '${appName}'): sni_suffix: expected names, got '${String(s)}'`);
        }
        let t = normaliseSni(s.trim());
        if (t.startsWith('*.')) t = t.slice(1);
        const bare = t.startsWith('.') ? t.slice(1) : t;
        if (!NAME_RE.test(bare)) fail(at('sni_suffix'), `rule ${index} (app '${appName}'): sni_suffix: '${s}' is not a host name suffix`);
        return t;
      });
    } else {
      const v = raw.sni_regex;
      const arr = Array.isArray(v) ? v : [v];
      if (arr.length === 0) fail(at('sni_regex'), `rule ${index} (app '${appName}'): sni_regex: empty list`);
      rule.sniRegex = arr.map((x) => {
        if (typeof x !== 'string' || x === '') {
          return fail(at('sni_regex'), `rule ${index} (app '${appName}'): sni_regex: expected a regular expression or a list of them, got '${String(x)}'`);
        }
        try {
          return new RegExp(x, 'i');
        } catch (err) {
          return fail(at('sni_regex'), `rule ${index} (app '${appName}'): sni_regex: ${(err as Error).message}`);
        }
      });
    }
    rules.push(rule);
    if (!apps.includes(appName)) apps.push(appName);
  });
  if (rules.length === 0) fail(lineOf(list), 'no label rules');
  return { file, rules, apps };
}

/** Reads and parses a rules file (missing/unreadable file → STNN_CONFIG naming it). */
export function loadLabelRules(path: string): LabelRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StnnError('STNN_CONFIG', `${path}: cannot read label rules: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseLabelRules(text, path);
}
