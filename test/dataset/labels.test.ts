import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labelFor, loadLabelRules, parseLabelRules } from '../../src/dataset/labels.js';
import { StnnError } from '../../src/util/errors.js';
import { repoRoot } from '../helpers/paths.js';

const RULES = `
- app: teams
  sni_suffix: teams.microsoft.com
- app: microsoft
  sni_suffix: [microsoft.com, '*.live.com']
- app: netflix
  sni_regex: '(^|\\.)nflx(video|img)\\.net$'
- app: catchall-cdn
  sni_regex: cdn
`;

test('labels: suffix on label boundaries, wildcard = subdomains only, regex, first match wins', () => {
  const r = parseLabelRules(RULES, 'rules.yaml');
  assert.deepEqual(r.apps, ['teams', 'microsoft', 'netflix', 'catchall-cdn']);
  const cases: [string | undefined, string][] = [
    ['teams.microsoft.com', 'teams'], // first rule wins over the microsoft.com suffix
    ['eu.teams.microsoft.com', 'teams'],
    ['microsoft.com', 'microsoft'],
    ['WWW.Microsoft.COM.', 'microsoft'], // case and trailing dot ignored
    ['notmicrosoft.com', 'background'], // suffix only on a label boundary
    ['live.com', 'background'], // '*.live.com' = subdomains only
    ['login.live.com', 'microsoft'],
    ['ipv4-c001.1.nflxvideo.net', 'netflix'],
    ['nflxvideo.net.evil.com', 'background'], // regex anchored with $ by its author
    ['nflximg.net', 'netflix'],
    ['mycdn.example.org', 'catchall-cdn'], // unanchored regex matches anywhere
    [undefined, 'background'],
    ['', 'background'],
  ];
  for (const [sni, app] of cases) assert.equal(labelFor(r, sni), app, String(sni));
});

test('labels: sni_regex takes a list like sni_suffix; app names follow the model directory rule', () => {
  const r = parseLabelRules("- app: c++tube\n  sni_regex: ['^video\\.', 'vod\\.example\\.net$']\n", 'x.yaml');
  assert.equal(labelFor(r, 'video.example.org'), 'c++tube');
  assert.equal(labelFor(r, 'eu.vod.example.net'), 'c++tube');
  assert.equal(labelFor(r, 'www.example.net'), 'background');
  assert.deepEqual(r.apps, ['c++tube']);
});

test('labels: a mapping with rules: is accepted, rule fields are kept', () => {
  const r = parseLabelRules('rules:\n  - app: a\n    sni_suffix: a.com\n', 'x.yaml');
  assert.equal(r.rules.length, 1);
  assert.deepEqual(r.rules[0].sniSuffix, ['a.com']);
  assert.equal(r.rules[0].index, 1);
  assert.equal(r.rules[0].line, 2);
});

function configError(text: string, re: RegExp) {
  assert.throws(
    () => parseLabelRules(text, 'conf/labels.yaml'),
    (e: unknown) => {
      assert.ok(e instanceof StnnError, 'StnnError');
      assert.equal(e.code, 'STNN_CONFIG');
      assert.equal(e.exitCode, 2);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('labels: bad files give one-line errors naming file, line, rule and key', () => {
  configError('- app: [\n', /^conf\/labels\.yaml:2: invalid YAML: Flow sequence/);
  configError('- app: a\n\tsni_suffix: x\n', /^conf\/labels\.yaml:2: invalid YAML: /);
  configError('', /^conf\/labels\.yaml:1: no label rules$/);
  configError('rules: []\n', /no label rules/);
  configError('app: x\n', /unknown top-level key 'app'/);
  configError('"just a string"\n', /expected a list of rules/);
  configError('- app: a\n  sni_suffix: a.com\n- app: b\n  sni_sufix: b.com\n', /^conf\/labels\.yaml:4: rule 2: unknown key 'sni_sufix' \(allowed: app, sni_suffix, sni_regex\)$/);
  configError('- sni_suffix: a.com\n', /:1: rule 1: app: missing$/);
  configError('- app: "has space"\n  sni_suffix: a.com\n', /:1: rule 1: app: 'has space' is not a valid name/);
  // YAML reads an unquoted 42 as a number: say so, rather than that '42' breaks the naming rule
  configError('- app: 42\n  sni_suffix: a.com\n', /:1: rule 1: app: 42 is a number, not a name: quote it \('"42"'\) if it is meant as one$/);
  configError('- app: Background\n  sni_suffix: a.com\n', /rule 1: app: 'Background' is reserved/);
  configError('- app: a\n', /rule 1 \(app 'a'\): sni_suffix\/sni_regex: give exactly one of them/);
  configError('- app: a\n  sni_suffix: a.com\n  sni_regex: a\n', /give exactly one/);
  configError('- app: a\n  sni_suffix: []\n', /rule 1 \(app 'a'\): sni_suffix: empty list/);
  configError('- app: a\n  sni_suffix: [a.com, "a b.com"]\n', /:2: rule 1 \(app 'a'\): sni_suffix: 'a b\.com' is not a host name suffix/);
  configError('- app: a\n  sni_suffix: [a.com, 3]\n', /:2: rule 1 \(app 'a'\): sni_suffix: expected names, got '3'$/);
  configError('- app: a\n  sni_suffix: a.com\n- app: b\n\n  sni_regex: "(unclosed"\n', /^conf\/labels\.yaml:5: rule 2 \(app 'b'\): sni_regex: Invalid regular expression/);
  configError('- app: a\n  sni_regex: 12\n', /sni_regex: expected a regular expression or a list of them, got '12'/);
  configError('- app: a\n  sni_regex: []\n', /sni_regex: empty list/);
  configError('- app: a\n  sni_regex: [ok, "(bad"]\n', /sni_regex: Invalid regular expression/);
  configError('- just-a-string\n', /rule 1: expected a mapping/);
  configError('- app: a\n  app: b\n  sni_suffix: a.com\n', /invalid YAML: Map keys must be unique/);
});

test('labels: the shipped example parses and labels corpus SNIs', () => {
  const path = join(repoRoot(), 'conf', 'labels.example.yaml');
  const r = loadLabelRules(path);
  assert.equal(labelFor(r, 'pitangui.amazon.com'), 'amazon');
  assert.equal(labelFor(r, 'eu0.sec-tunnel.com'), 'opera-vpn');
  assert.equal(labelFor(r, 'teams.microsoft.com'), 'teams');
  assert.equal(labelFor(r, 'www.microsoft.com'), 'microsoft');
  assert.equal(labelFor(r, 'ipv4-c001.nflxvideo.net'), 'netflix');
  assert.equal(labelFor(r, 'example.org'), 'background');
  assert.throws(() => loadLabelRules('/nonexistent/labels.yaml'), /^Error: \/nonexistent\/labels\.yaml: cannot read label rules: ENOENT$|\/nonexistent\/labels\.yaml: cannot read label rules: ENOENT/);
});
