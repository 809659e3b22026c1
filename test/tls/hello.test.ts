import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGrease16, parseClientHello, parseServerHello, versionName, SH_MALFORMED, SH_OK, SH_RETRY, type HelloSink } from '../../src/tls/hello.js';
import { alpnExt, cat, clientHelloBody, earlyDataExt, ext, keyShareCH, serverHelloBody, sniExt, supportedVersionSH, supportedVersionsCH } from './helpers.js';

const sink = (): HelloSink => ({ sni: undefined, alpnOffered: [], alpnNegotiated: undefined, versionOffered: 0, versionNegotiated: 0, earlyData: false });

test('GREASE values and version names', () => {
  for (const v of [0x0a0a, 0x1a1a, 0x2a2a, 0xfafa]) assert.equal(isGrease16(v), true, v.toString(16));
  for (const v of [0x0303, 0x0a1a, 0x0a0b, 0x1301]) assert.equal(isGrease16(v), false, v.toString(16));
  assert.equal(versionName(0x0300), 'SSLv3');
  assert.equal(versionName(0x0301), 'TLSv1.0');
  assert.equal(versionName(0x0302), 'TLSv1.1');
  assert.equal(versionName(0x0303), 'TLSv1.2');
  assert.equal(versionName(0x0304), 'TLSv1.3');
  assert.equal(versionName(0x7f1c), '0x7f1c');
  assert.equal(versionName(0x0002), '0x0002');
});

test('ClientHello: SNI, ALPN without GREASE, highest non-GREASE supported version, early data', () => {
  const body = clientHelloBody({
    exts: [
      ext(0x0a0a, []),
      sniExt('www.example.com'),
      ext(23, []),
      supportedVersionsCH([0x2a2a, 0x0304, 0x7f1c, 0x0303]),
      alpnExt([[0x3a, 0x3a], 'h2', 'http/1.1']),
      keyShareCH(0x11ec, 1216, [{ group: 0x001d, len: 32 }]),
      earlyDataExt(),
      ext(0xfafa, [0]),
    ],
  });
  const s = sink();
  assert.equal(parseClientHello(body, 0, body.length, s), true);
  assert.equal(s.sni, 'www.example.com');
  assert.deepEqual(s.alpnOffered, ['h2', 'http/1.1']);
  assert.equal(s.versionOffered, 0x0304);
  assert.equal(s.earlyData, true);
});

test('ClientHello: legacy version when supported_versions is absent or only GREASE; no extension block', () => {
  let s = sink();
  let body = clientHelloBody({ legacyVersion: 0x0303, exts: [sniExt('a.b')] });
  assert.equal(parseClientHello(body, 0, body.length, s), true);
  assert.equal(s.versionOffered, 0x0303);
  s = sink();
  body = clientHelloBody({ legacyVersion: 0x0301, exts: [supportedVersionsCH([0x0a0a])] });
  assert.equal(parseClientHello(body, 0, body.length, s), true);
  assert.equal(s.versionOffered, 0x0301);
  s = sink();
  body = clientHelloBody({ legacyVersion: 0x0300, noExtensions: true });
  assert.equal(parseClientHello(body, 0, body.length, s), true);
  assert.equal(s.versionOffered, 0x0300);
  assert.equal(s.sni, undefined);
  // a 1.3 draft alone is the highest, and ranks below the final 1.3
  s = sink();
  body = clientHelloBody({ exts: [supportedVersionsCH([0x0303, 0x7f17])] });
  parseClientHello(body, 0, body.length, s);
  assert.equal(s.versionOffered, 0x7f17);
});

test('ClientHello: non-printable SNI bytes become ?, a broken later extension keeps the SNI', () => {
  const nameExt = ext(0, [0, 7, 0, 0, 4, 0x61, 0x0a, 0x62, 0xc3]);
  const broken = cat(sniExt('ok.example'), [0x00, 0x10, 0x00, 0x50, 0x00]); // ALPN claims 80 bytes, has 1
  let body = clientHelloBody({ exts: [nameExt] });
  let s = sink();
  assert.equal(parseClientHello(body, 0, body.length, s), true);
  assert.equal(s.sni, 'a?b?');
  // extensions block length covers the broken extension exactly
  body = cat(clientHelloBody({ noExtensions: true }), [0, broken.length], broken);
  s = sink();
  assert.equal(parseClientHello(body, 0, body.length, s), false);
  assert.equal(s.sni, 'ok.example');
});

test('ClientHello: truncations at every length never throw and never read past the range', () => {
  const body = clientHelloBody({ exts: [sniExt('www.example.com'), alpnExt(['h2']), supportedVersionsCH([0x0304])] });
  // place it inside a larger buffer filled with a valid-looking tail, so reading past `len` would show
  const big = cat(body, body);
  for (let len = 0; len < body.length; len++) {
    const s = sink();
    const ok = parseClientHello(big, 0, len, s);
    // cut right before the extension block (2+32+1+32 + 2+10 + 2 = 81 bytes), it is a valid extension-less hello
    assert.equal(ok, len === 81, `len ${len}`);
    assert.equal(s.sni, undefined);
  }
  // session id longer than 32 is malformed
  const bad = clientHelloBody({ sessionId: 33 });
  assert.equal(parseClientHello(bad, 0, bad.length, sink()), false);
});

test('ServerHello: ALPN chosen, supported_versions, legacy fallback, HelloRetryRequest', () => {
  let s = sink();
  let body = serverHelloBody({ exts: [alpnExt(['h2'])] });
  assert.equal(parseServerHello(body, 0, body.length, s), SH_OK);
  assert.equal(s.alpnNegotiated, 'h2');
  assert.equal(s.versionNegotiated, 0x0303);
  s = sink();
  body = serverHelloBody({ exts: [supportedVersionSH(0x0304)] });
  assert.equal(parseServerHello(body, 0, body.length, s), SH_OK);
  assert.equal(s.versionNegotiated, 0x0304);
  s = sink();
  body = serverHelloBody({ retry: true, exts: [supportedVersionSH(0x0304)] });
  assert.equal(parseServerHello(body, 0, body.length, s), SH_RETRY);
  assert.equal(s.versionNegotiated, 0);
  s = sink();
  body = serverHelloBody({ exts: [ext(43, [3, 4, 0])] }); // selected_version must be 2 bytes
  assert.equal(parseServerHello(body, 0, body.length, s), SH_MALFORMED);
  for (let len = 0; len < 38; len++) assert.equal(parseServerHello(body, 0, len, sink()), SH_MALFORMED);
});
