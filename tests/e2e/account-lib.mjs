// Helpers for account.e2e.mjs: the service's HTTP API from node, its mail
// outbox, RFC 6238 codes and a device's keychain entries. (Exports go to a
// typed path, so no native dialog needs driving.)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { server } from './lib.mjs';

/** The e2e service's data folder (run.sh exports it). */
export const serverData = process.env.COFFER_E2E_SERVER_DATA;
if (!serverData) throw new Error('COFFER_E2E_SERVER_DATA is not set: run this through tests/e2e/run.sh');
export const outbox = path.join(serverData, 'outbox');

/** One request to a Coffer service (default: the e2e one); JSON in and out. */
export async function api(method, route, { token, body, base = server } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(route, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // HTML pages (mailed links) and empty bodies.
  }
  return { status: response.status, json, text, headers: response.headers };
}

/** Signs in through the API as another device; returns the whole answer. */
export function signInApi({ email, password, device, totp_code, recovery_code }) {
  return api('POST', '/v1/sessions', {
    body: { email, password, device_id: `api-${device.replace(/\W+/g, '-').toLowerCase()}`, device_name: device, app_version: 'e2e', totp_code, recovery_code },
  });
}

// ---------------------------------------------------------------- mail

/** Unfolds and splits an RFC 5322 message; decodes a base64 or quoted-printable body. */
export function parseMail(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  let body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] || '').toLowerCase();
  if (encoding === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (encoding === 'quoted-printable') {
    body = Buffer.from(
      body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  }
  const subject = (headers.subject || '').replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, kind, text) =>
    kind.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, h) => String.fromCharCode(parseInt(h, 16))),
  );
  return { headers, subject, body, to: headers.to || '' };
}

/** Every mail in the outbox, oldest first, with its file name. */
export function mails() {
  if (!fs.existsSync(outbox)) return [];
  return fs
    .readdirSync(outbox)
    .filter((name) => name.endsWith('.eml'))
    .sort()
    .map((file) => ({ file, ...parseMail(fs.readFileSync(path.join(outbox, file), 'utf8')) }));
}

/**
 * Waits for a mail to `to` whose subject matches `subject` and that is not
 * one of `seen` (file names already handled); returns it.
 */
export async function waitForMail({ to, subject, seen = new Set(), timeout = 20000 }) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = mails().find((m) => !seen.has(m.file) && m.to.toLowerCase().includes(to.toLowerCase()) && subject.test(m.subject));
    if (found) {
      seen.add(found.file);
      return found;
    }
    if (Date.now() > deadline) {
      const list = mails().map((m) => `${m.to} | ${m.subject}`).join('\n  ');
      throw new Error(`no mail to ${to} matching ${subject} in ${outbox} within ${timeout} ms; the outbox holds:\n  ${list}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The first link in a mail's body that contains `part` (e.g. "/v1/verify-email?token="). */
export function linkIn(mail, part) {
  const link = mail.body.match(/https?:\/\/[^\s<>"]+/g)?.find((url) => url.includes(part));
  if (!link) throw new Error(`the mail "${mail.subject}" has no link with ${part}:\n${mail.body}`);
  return link;
}

// ---------------------------------------------------------------- TOTP (RFC 6238)

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[^A-Z2-7]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of clean) {
    value = (value << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function base32Encode(bytes) {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The 30-second step a time (ms) falls in. */
export const totpStep = (ms = Date.now()) => Math.floor(ms / 1000 / 30);

/** HOTP(secret, step) with HMAC-SHA1, 6 digits: the code an authenticator app shows. */
export function totp(secretBase32, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// ---------------------------------------------------------------- keychain

/** A device's keychain entries ({ "session-token": value, … }), read with secret-tool. */
export function keychain(dev) {
  const service = dev.env.COFFER_KEYCHAIN_SERVICE;
  const search = spawnSync('secret-tool', ['search', '--all', 'service', service], { encoding: 'utf8' });
  if (search.error) throw new Error(`secret-tool is needed to read the keychain: ${search.error.message}`);
  const entries = {};
  for (const [, username] of (search.stderr + search.stdout).matchAll(/^attribute\.username = (.*)$/gm)) {
    const lookup = spawnSync('secret-tool', ['lookup', 'service', service, 'username', username], { encoding: 'utf8' });
    entries[username.split('/').pop()] = lookup.stdout.trim();
  }
  return entries;
}

/** The access token the app keeps in the keychain (throws when there is none). */
export function appToken(dev) {
  const token = keychain(dev)['session-token'];
  if (!token) throw new Error(`${dev.name} has no session token in its keychain`);
  return token;
}

// ---------------------------------------------------------------- sizes as the app shows them

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
/** The app's formatBytes (ui/src/lib/format.ts): decimal units. */
export function formatBytes(bytes) {
  if (bytes === 1) return '1 byte';
  if (bytes < 1000) return `${bytes} bytes`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const text = digits > 0 ? value.toFixed(digits).replace(/\.?0+$/, '') : value.toFixed(0);
  return `${text} ${UNITS[unit]}`;
}
