// SPDX-License-Identifier: MIT
// Writes random signature cases, signed by Twilio's official helper (the `twilio` npm package),
// as JSON lines for check_sig.c: {token, url, body, sig, expect, note}.
//   node gen_cases.js <seed> <count>
//
// Character choice: JavaScript sorts names (and a repeated name's values) by UTF-16 code units;
// the contract sorts bytes. The two orders agree except between U+E000..U+FFFF and characters
// past U+FFFF, so the generator never mixes those: its non-ASCII pool stays below U+D800 plus
// characters past U+FFFF.
'use strict';

// The module behind twilio.validateRequest and twilio.getExpectedTwilioSignature, loaded on its
// own: it needs only node's crypto, url and querystring, so it also runs on Debian 12's Node 18
// (the package as a whole declares node >= 20).
const { getExpectedTwilioSignature, validateRequest } = require('twilio/lib/webhooks/webhooks');

const seed = Number(process.argv[2] || 1) >>> 0;
const count = Number(process.argv[3] || 300);

// mulberry32: small, seedable, so a failing run can be replayed from its seed.
let state = seed || 1;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rand() < p;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ASCII = ALNUM + " -_.~!*'()+&=%#?/:;@,$[]\"<>\\^`{|}\t\n";
const UNICODE = ['é', 'ß', 'Ω', 'Ж', 'ש', 'ع', 'न', '中', '文', '日', '한', '€', '™', '\u00a0',
  '\u2028', '😀', '👍🏽', '𝄞', '𐍈', '🇺🇸'];
const TWILIO_NAMES = ['Body', 'From', 'To', 'MessageSid', 'SmsSid', 'SmsMessageSid', 'AccountSid',
  'MessagingServiceSid', 'NumMedia', 'NumSegments', 'MediaUrl0', 'MediaContentType0', 'FromCity',
  'FromState', 'FromZip', 'FromCountry', 'ToCity', 'ToCountry', 'ApiVersion', 'SmsStatus',
  'MessageStatus', 'ErrorCode', 'Reason', 'ReasonConferenceEnded', 'ProfileName', 'WaId',
  'ButtonText', 'Latitude', 'Longitude', 'OptOutType', 'ChannelToAddress', 'ChannelPrefix'];

function str(maxLen, unicode) {
  let s = '';
  const n = int(maxLen + 1);
  for (let i = 0; i < n; i++) {
    if (unicode && chance(0.25)) s += pick(UNICODE);
    else if (chance(0.01)) s += '\u0000';
    else s += ASCII[int(ASCII.length)];
  }
  return s;
}

function name() {
  if (chance(0.6)) return pick(TWILIO_NAMES) + (chance(0.2) ? String(int(10)) : '');
  let s = str(12, chance(0.3));
  if (s === '__proto__') s = 'proto';
  return s;
}

// ---------------------------------------------------------------- URLs

function host() {
  switch (int(4)) {
    case 0: return `${int(256)}.${int(256)}.${int(256)}.${int(256)}`;
    case 1: return `[2001:db8::${int(65536).toString(16)}]`;
    default: {
      const labels = [];
      for (let i = 0, n = 1 + int(3); i < n; i++) {
        let l = '';
        for (let k = 0, m = 1 + int(10); k < m; k++) l += pick('abcdefghijklmnopqrstuvwxyz0123456789-'.split(''));
        labels.push(l);
      }
      return labels.join('.') + pick(['.com', '.example', '.io', '']);
    }
  }
}

// Path and query characters as they appear raw in a configured URL: what Twilio signs.
const URL_CHARS = ALNUM + "-._~!$&'()*+,;=:@%";
function urlPart(maxLen) {
  let s = '';
  for (let i = 0, n = int(maxLen + 1); i < n; i++) {
    if (chance(0.1)) s += '%' + pick(['2B', '2b', '20', 'E2%82%AC', '3A', '41']);
    else s += URL_CHARS[int(URL_CHARS.length)].replace('%', '%25');
  }
  return s;
}

function configuredUrl() {
  const https = chance(0.7);
  let scheme = https ? 'https' : 'http';
  if (chance(0.05)) scheme = scheme.toUpperCase();
  const ports = [null, null, https ? 443 : 80, 8080, 8443, 1 + int(65535)];
  const port = pick(ports);
  let url = `${scheme}://${host()}${port === null ? '' : ':' + port}`;
  if (chance(0.9)) {
    for (let i = 0, n = int(4); i < n; i++) url += '/' + urlPart(10);
    if (chance(0.2)) url += '/';
    if (url.indexOf('/', scheme.length + 3) === -1) url += '/';
  }
  if (chance(0.5)) {
    const q = [];
    for (let i = 0, n = 1 + int(3); i < n; i++) q.push(urlPart(6).replace(/[#?]/g, '') + '=' + urlPart(8));
    url += '?' + q.join('&');
  }
  return url;
}

// The URL variants a Twilio back end may have signed, computed as the helper splits URLs.
function signingVariants(url) {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(url);
  const authority = m[2];
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const portAt = hostPort.indexOf(':', hostPort.lastIndexOf(']') + 1);
  const rest = url.slice(m[0].length);
  if (portAt === -1) {
    const def = m[1].toLowerCase() === 'https://' ? ':443' : ':80';
    return [url, m[1] + authority + def + rest];
  }
  return [url, m[1] + authority.slice(0, authority.length - hostPort.length + portAt) + rest];
}

// ---------------------------------------------------------------- bodies

function encodeForm(s) {
  let out = '';
  for (const ch of s) {
    if (ch === ' ' && chance(0.5)) {
      out += '+';
      continue;
    }
    if (/[A-Za-z0-9]/.test(ch) && chance(0.05)) {
      out += '%' + ch.charCodeAt(0).toString(16).toUpperCase(); // needless but legal escape
      continue;
    }
    let e = encodeURIComponent(ch);
    if (chance(0.3)) e = e.replace(/%[0-9A-F]{2}/g, (x) => x.toLowerCase()); // either hex case
    out += e;
  }
  return out.replace(/[!'()*~]/g, (c) => (chance(0.5) ? c : '%' + c.charCodeAt(0).toString(16)));
}

function makeCase() {
  const token = chance(0.8)
    ? Array.from({ length: 32 }, () => '0123456789abcdef'[int(16)]).join('')
    : str(20, false).replace(/\u0000/g, 'x') || 'k';
  const url = configuredUrl();
  const signedUrl = pick(signingVariants(url));
  const params = Object.create(null);
  const delivered = []; // [name, value] in delivery order
  let expect = 'accept';
  let note = 'helper signature';
  for (let i = 0, n = int(25); i < n; i++) {
    const k = name();
    if (k in params) continue;
    if (chance(0.15)) {
      // A repeated name: the helper signs its distinct values sorted; the contract's
      // "values sorted" variant is that string.
      const values = new Set();
      for (let j = 0, m = 2 + int(3); j < m; j++) values.add(str(10, chance(0.4)));
      if (values.size < 2) continue;
      params[k] = [...values];
      for (const v of values) delivered.push([k, v]);
    } else {
      params[k] = str(chance(0.1) ? 200 : 20, chance(0.4));
      delivered.push([k, params[k]]);
    }
  }
  if (chance(0.05)) {
    // An identical value repeated: the helper's Set drops one copy, so its signature covers
    // less than was delivered and must be refused.
    const k = 'Dup' + int(100);
    if (!(k in params)) {
      const v = str(5, false);
      params[k] = [v, v];
      delivered.push([k, v], [k, v]);
      expect = 'reject';
      note = 'helper dropped an identical repeated value';
    }
  }
  for (let i = delivered.length - 1; i > 0; i--) { // delivery order is arbitrary
    const j = int(i + 1);
    [delivered[i], delivered[j]] = [delivered[j], delivered[i]];
  }
  const segments = delivered.map(([k, v]) =>
    v === '' && chance(0.3) ? encodeForm(k) : encodeForm(k) + '=' + encodeForm(v));
  if (chance(0.1)) segments.splice(int(segments.length + 1), 0, '');
  const body = segments.join('&');

  const sig = getExpectedTwilioSignature(token, signedUrl, params);
  if (expect === 'accept' && !validateRequest(token, sig, url, params)) {
    throw new Error(`oracle rejects its own signature: ${url} (${signedUrl})`);
  }
  const fragment = chance(0.2) ? pick(['#rc=2&rp=all', '#', '#ct=3000']) : '';
  return { token, url: url + fragment, body, sig, expect, note };
}

const lines = [];
for (let i = 0; i < count; i++) lines.push(JSON.stringify(makeCase()));
process.stdout.write(lines.join('\n') + '\n');
