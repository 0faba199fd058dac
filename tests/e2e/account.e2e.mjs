// Issue 4 in the real window: the account screens driven over WebDriver
// against the real service run.sh starts, each step checked where it takes
// effect — the service's HTTP API, the mail it writes to its outbox, the
// device's keychain, the files the app writes.
//
// One account (Grace) goes through the tests in order, the way a person
// would: sign up and confirm the email, accept the policy, correct her
// details (kept across a restart), change her email, choose her mail, manage
// sessions and her password, turn on two-step sign-in, sign in on a second
// computer, sign out everywhere, see her quota, export her data to a typed
// path, delete the account and restore it from the sign-in screen. A second
// service with no storage shows "storage full".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { app, artifacts, device, launch, pictureOnFailure, server, work, writeFiles } from './lib.mjs';
import {
  api,
  appToken,
  base32Encode,
  formatBytes,
  keychain,
  linkIn,
  mails,
  serverData,
  signInApi,
  totp,
  totpStep,
  waitForMail,
} from './account-lib.mjs';

const grace = { first: 'Grace', last: 'Hoper', email: 'grace.hopper@example.com', password: 'cobol compiler 1959' };
const NEW_EMAIL = 'rear.admiral.hopper@example.com';
const NEW_PASSWORD = 'nanosecond wire 11.8 inches';
const ADDRESS = { line1: '1 Navy Yard', line2: 'Room 1959', city: 'Arlington', region: 'Virginia', postal_code: '22202', country: 'United States' };
const POLICY_VERSION = '2026-01'; // published by run.sh
const serverBin = path.join(path.dirname(app), 'coffer-server');
const shots = path.join(artifacts, 'account');
fs.rmSync(shots, { recursive: true, force: true }); // pictures of this run only
const seenMail = new Set();

const main = device('account-main');
const second = device('account-second');
let w;
let shot = 0;
/** Facts later tests build on. */
const state = { email: grace.email, password: grace.password, tablet: null, enabledStep: 0, secret: '', recoveryCodes: [] };

async function closeWindow() {
  if (w) await w.close();
  w = null;
}
after(closeWindow);

/** A picture of the window, with `scrollTo` (a selector) scrolled into the middle first. */
async function picture(name, scrollTo = null) {
  shot += 1;
  if (scrollTo) await (await w.el(scrollTo)).scrollIntoView({ block: 'center' });
  await w.screenshot(path.join(shots, `${String(shot).padStart(2, '0')}-${name}.png`));
}

/** The account as the service sees it, through the app's own session. */
async function serviceAccount(dev) {
  const { status, json } = await api('GET', '/v1/account', { token: appToken(dev) });
  assert.equal(status, 200, `${dev.name}'s session reads the account`);
  return json;
}

async function settings(page) {
  await w.click('#nav-settings');
  await w.click(`#settings-tab-${page}`);
}

/** Opens a settings page afresh (every page loads its data when it opens). */
async function reopen(page) {
  await settings(page === 'general' ? 'account' : 'general');
  await w.click(`#settings-tab-${page}`);
}

const value = async (selector) => (await w.el(selector)).getValue();

async function untilValue(selector, expected, message) {
  let last;
  await w
    .until(async () => (last = await value(selector)) === expected, 20000)
    .catch(() => assert.fail(`${message}: ${selector} shows ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`));
}

/** The email's state on Settings → Account: confirmed, unconfirmed or pending. */
const emailState = async () => (await w.el('#profile-email-state', 20000)).getAttribute('data-state');

async function untilEmailState(expected, message) {
  let last;
  await w
    .until(async () => (last = await (await w.browser.$('#profile-email-state')).getAttribute('data-state')) === expected, 20000)
    .catch(() => assert.fail(`${message}: the email state is ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`));
}

/** The sidebar's name and email (the email may wrap after its local part). */
const sidebarAccount = async () =>
  w.browser.execute(() => ({
    name: document.querySelector('#sidebar-name')?.textContent?.trim() ?? '',
    email: document.querySelector('#sidebar-email')?.textContent?.replace(/\s+/g, '') ?? '',
  }));

/** A purge time as the service's mail and the app name the day: "December 8, 2026" (UTC). */
const serviceDay = (ms) => new Date(ms).toLocaleDateString('en-US', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

test('sign up: the mailed link confirms the email; the published policy is shown and accepting it is kept', () =>
  pictureOnFailure(() => w, 'account-signup', async () => {
    w = await launch(main);
    await w.signUp(grace);
    await w.click('#signup-submit');
    await w.el('#backup-status', 60000);

    // The verification mail, as the service wrote it to its outbox.
    const mail = await waitForMail({ to: grace.email, subject: /confirm your email/i, seen: seenMail });
    const link = linkIn(mail, '/v1/verify-email?token=');
    assert.ok(link.startsWith(server), `the link points at the service (${link})`);

    // Not confirmed yet, in the app and at the service.
    await settings('account');
    assert.equal(await emailState(), 'unconfirmed', 'before the link is opened the app says the email is not confirmed');
    assert.match(await w.text('#profile-email-state'), /not confirmed/i);
    assert.equal((await serviceAccount(main)).email_verified, false);
    await picture('account-unconfirmed');

    const page = await api('GET', link);
    assert.equal(page.status, 200, `the verification link answers 200 (${page.text.slice(0, 200)})`);
    assert.equal((await serviceAccount(main)).email_verified, true, 'the service records the email as verified');
    assert.equal((await api('GET', link)).status, 400, 'the link works once');

    await reopen('account');
    await untilEmailState('confirmed', 'the app shows the email confirmed');

    // The policy: a banner asks to read it; Privacy shows the text, date and the accept button.
    await w.click('#nav-dashboard');
    const banner = await w.text('#policy-banner');
    assert.match(banner, new RegExp(`Version ${POLICY_VERSION}`), 'the banner names the published version');
    await picture('policy-banner');
    await w.click('#policy-review');
    assert.match(await w.text('#policy-text'), /What we cannot see/, 'Privacy shows the published policy text');
    assert.match(await w.text('#policy-status'), new RegExp(`Version ${POLICY_VERSION}, published`));
    await w.el('#policy-accept');
    await picture('policy-to-accept');
    await w.click('#policy-accept');
    await w.untilText('#policy-status', (t) => /You accepted it on/.test(t), 20000, 'the app says the policy is accepted');
    assert.equal(await (await w.browser.$('#policy-accept')).isExisting(), false, 'nothing asks to accept any more');
    const account = await serviceAccount(main);
    assert.equal(account.policy_accepted_version, POLICY_VERSION, 'the service records the accepted version');
    assert.ok(account.policy_accepted_at > 0);
  }));

test('Settings → Account: corrected name and address are kept by the service across a restart; a new email is verified by mail', () =>
  pictureOnFailure(() => w, 'account-profile', async () => {
    await settings('account');
    await untilValue('#profile-last', grace.last, 'the profile shows the name given at sign-up');
    await w.type('#profile-last', 'Hopper');
    for (const [part, text] of Object.entries(ADDRESS)) await w.type(`#profile-${part.replace('_', '-')}`, text);
    await w.click('#profile-save');
    await w.untilText('#profile-saved', 'Saved.', 20000, 'the details were saved');
    await w.until(async () => (await sidebarAccount()).name === 'Grace Hopper', 20000, 'the sidebar shows the corrected name at once');
    const stored = await serviceAccount(main);
    assert.equal(stored.last_name, 'Hopper', 'the service holds the corrected last name');
    assert.deepEqual(stored.address, ADDRESS, 'the service holds the postal address');

    // Restart the app on the same computer: still signed in (keychain), the details come back from the service.
    assert.ok(keychain(main)['refresh-token'], 'the session is kept in the keychain');
    await closeWindow();
    w = await launch(main);
    await w.el('#backup-status', 60000);
    await settings('account');
    await untilValue('#profile-last', 'Hopper', 'after a restart the corrected name is shown');
    assert.equal(await value('#profile-first'), grace.first);
    for (const [part, text] of Object.entries(ADDRESS)) assert.equal(await value(`#profile-${part.replace('_', '-')}`), text, `after a restart the address ${part} is shown`);
    await picture('account-after-restart');

    // The accepted policy is remembered: Privacy says so, and the Overview no longer asks.
    await w.click('#settings-tab-privacy');
    await w.untilText('#policy-status', (t) => /You accepted it on/.test(t), 20000, 'after a restart the policy is still accepted');
    await w.click('#nav-dashboard');
    await w.el('#backup-status');
    assert.equal(await (await w.browser.$('#policy-banner')).isExisting(), false, 'the Overview does not ask for the policy again');

    // A new email: pending until the link mailed to it is opened, then the account's email.
    await settings('account');
    await untilValue('#profile-email', grace.email, 'the email is shown');
    await w.type('#profile-email', NEW_EMAIL);
    await w.click('#profile-save');
    await w.untilText('#profile-saved', (t) => t.includes(NEW_EMAIL), 20000, 'the app says a link was sent to the new address');
    assert.equal(await emailState(), 'pending');
    assert.match(await w.text('#profile-email-state'), /waiting for confirmation/i);
    await picture('account-email-pending', '#profile-email');
    let account = await serviceAccount(main);
    assert.equal(account.pending_email, NEW_EMAIL, 'the service holds the new email as pending');
    assert.equal(account.email, grace.email, 'the email does not change before the link is opened');
    const mail = await waitForMail({ to: NEW_EMAIL, subject: /confirm your email/i, seen: seenMail });
    assert.equal((await api('GET', linkIn(mail, '/v1/verify-email?token='))).status, 200, 'the link to the new address answers 200');
    account = await serviceAccount(main);
    assert.equal(account.email, NEW_EMAIL, 'after the link the new email is the account email');
    assert.equal(account.pending_email, null);
    state.email = NEW_EMAIL;
    await reopen('account');
    await untilValue('#profile-email', NEW_EMAIL, 'the app shows the new email');
    await untilEmailState('confirmed', 'the new email is shown confirmed');
    await w.until(async () => (await sidebarAccount()).email === NEW_EMAIL, 20000, 'the sidebar shows the new email without a restart');
    await picture('sidebar-new-email', '#profile-email');
  }));

test('Settings → Communication: all off by default; one turned on gets the operator\'s mail; one-click unsubscribe turns it off', () =>
  pictureOnFailure(() => w, 'account-communication', async () => {
    await settings('communication');
    const switches = { 'product-announcements': false, 'software-updates': false, 'surveys-research': false, newsletter: false, 'operational-alerts': true };
    for (const [name, on] of Object.entries(switches)) {
      await w.until(async () => (await (await w.browser.$(`#pref-${name}`)).isExisting()), 20000, `the ${name} switch is shown`);
      assert.equal(await (await w.browser.$(`#pref-${name}`)).isSelected(), on, `${name} is ${on ? 'on' : 'off'} by default`);
    }
    const token = appToken(main);
    const before = await api('GET', '/v1/account/preferences', { token });
    assert.deepEqual(before.json, { product_announcements: false, software_updates: false, surveys_research: false, newsletter: false, operational_alerts: true });

    await w.click('#pref-newsletter');
    await w.until(async () => (await api('GET', '/v1/account/preferences', { token })).json.newsletter === true, 20000, 'the service reports the newsletter on');
    await picture('communication-newsletter-on');

    // Someone who did not opt in must not get it.
    const bystander = 'bystander@example.com';
    const signUp = await api('POST', '/v1/accounts', {
      body: { first_name: 'By', last_name: 'Stander', email: bystander, password: 'just watching 2026', age_confirmed: true, key_mode: 'default', data_key: crypto.randomBytes(32).toString('base64') },
    });
    assert.equal(signUp.status, 201, `a second account signs up (${signUp.text})`);

    const bodyFile = path.join(work, 'newsletter.txt');
    fs.writeFileSync(bodyFile, 'This month: how to test your restore.\n');
    const subject = `Coffer news ${crypto.randomBytes(3).toString('hex')}`;
    const send = spawnSync(serverBin, ['send-mail', '--data-dir', serverData, '--public-url', server, '--category', 'newsletter', '--subject', subject, '--body-file', bodyFile], { encoding: 'utf8' });
    assert.equal(send.status, 0, `send-mail ran: ${send.stderr}`);
    assert.match(send.stdout, /sent [1-9]\d* mails \(0 failed\)/);
    const news = await waitForMail({ to: NEW_EMAIL, subject: new RegExp(subject), seen: seenMail });
    assert.equal(mails().filter((m) => m.subject === subject && m.to.includes(bystander)).length, 0, 'nobody who did not opt in got the newsletter');
    assert.equal(news.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click', 'RFC 8058 one-click header');
    const unsubscribe = news.headers['list-unsubscribe']?.match(/<(https?:[^>]+)>/)?.[1];
    assert.ok(unsubscribe, `the mail has a List-Unsubscribe URL (${news.headers['list-unsubscribe']})`);
    assert.ok(news.body.includes(unsubscribe), 'the same link is in the body');

    // One POST, without signing in, as a mail program sends it.
    const response = await fetch(unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal(response.status, 200, 'the one-click unsubscribe answers 200');
    const after = await api('GET', '/v1/account/preferences', { token });
    assert.equal(after.json.newsletter, false, 'the service turned the newsletter off');
    assert.equal(after.json.operational_alerts, true, 'only that category changed');

    await reopen('communication');
    await w.until(async () => (await (await w.browser.$('#pref-newsletter')).isExisting()), 20000, 'the switches are shown again');
    assert.equal(await (await w.browser.$('#pref-newsletter')).isSelected(), false, 'after a reload the app shows the newsletter off');
  }));

test('Settings → Devices & sessions lists this session by device name; revoking one ends it at once; a new password ends the others', () =>
  pictureOnFailure(() => w, 'account-sessions', async () => {
    const phone = await signInApi({ email: state.email, password: state.password, device: "Grace's phone" });
    const tablet = await signInApi({ email: state.email, password: state.password, device: "Grace's tablet" });
    assert.equal(phone.status, 200, `the phone signs in through the API (${phone.text})`);
    assert.equal(tablet.status, 200);
    const mine = appToken(main);
    const records = (await api('GET', '/v1/sessions?active=true', { token: mine })).json;
    const current = records.find((s) => s.current);
    assert.equal(current.device_name, os.hostname(), 'the app signs in with this computer\'s name');

    await settings('devices');
    const thisOne = await w.el(`#session-list li[data-session="${current.session_id}"]`);
    const text = await thisOne.getText();
    assert.ok(text.includes(os.hostname()) && /This device/.test(text), `this session is listed with its device name and marked (${text})`);
    await w.el(`#session-list li[data-session="${phone.json.session_id}"]`);
    await w.el(`#session-list li[data-session="${tablet.json.session_id}"]`);
    const order = await w.browser.execute(() => [...document.querySelectorAll('#session-list li')].map((li) => li.dataset.session));
    assert.equal(order[0], current.session_id, `this session is listed first (${order})`);
    assert.equal(await (await w.browser.$(`#session-list li[data-session="${current.session_id}"] [data-action="revoke"]`)).isExisting(), false, 'this session has no Sign out of its own');
    await picture('devices-three-sessions');

    // Revoke the phone: its token fails at once, the tablet's still works.
    await w.click(`#session-list li[data-session="${phone.json.session_id}"] [data-action="revoke"]`);
    await w.browser
      .$(`#session-list li[data-session="${phone.json.session_id}"]`)
      .waitForExist({ reverse: true, timeout: 20000, timeoutMsg: 'the revoked session left the list' });
    assert.equal((await api('GET', '/v1/account', { token: phone.json.access_token })).status, 401, 'the revoked session\'s token fails at once');
    assert.equal((await api('POST', '/v1/sessions/refresh', { body: { refresh_token: phone.json.refresh_token } })).status, 401, 'and cannot be refreshed');
    assert.equal((await api('GET', '/v1/account', { token: tablet.json.access_token })).status, 200, 'the other sessions go on');

    // Change the password in the app: the tablet is signed out, this window stays.
    await w.click('#settings-tab-account');
    await w.type('#password-current', state.password);
    await w.type('#password-new', NEW_PASSWORD);
    await w.type('#password-repeat', NEW_PASSWORD);
    await w.click('#password-submit');
    await w.untilText('#password-changed', (t) => t.length > 0, 20000, 'the app says the password changed');
    await picture('password-changed', '#password-changed');
    assert.equal((await api('GET', '/v1/account', { token: tablet.json.access_token })).status, 401, 'another session ends with the password change');
    assert.equal((await api('GET', '/v1/account', { token: appToken(main) })).status, 200, 'the session that changed it stays');
    const old = await signInApi({ email: state.email, password: state.password, device: 'probe' });
    assert.equal(old.status, 401, 'the old password no longer signs in');
    assert.equal(old.json?.error?.code, 'invalid_credentials');
    const fresh = await signInApi({ email: state.email, password: NEW_PASSWORD, device: "Grace's tablet" });
    assert.equal(fresh.status, 200, `the new password signs in (${fresh.text})`);
    state.password = NEW_PASSWORD;
    state.tablet = fresh.json;
    const ended = (await api('GET', '/v1/sessions', { token: appToken(main) })).json;
    assert.equal(ended.find((s) => s.session_id === phone.json.session_id)?.end_reason, 'revoked');
    assert.equal(ended.find((s) => s.session_id === tablet.json.session_id)?.end_reason, 'password_changed');
  }));

test('two-step sign-in: turned on in the app with a code from the shown key; a new computer needs a code; sign out everywhere', () =>
  pictureOnFailure(() => w, 'account-totp', async () => {
    // RFC 6238's own example (SHA-1, "12345678901234567890", T=59 s) checks the code generator first.
    assert.equal(totp(base32Encode(Buffer.from('12345678901234567890')), 1), '287082');

    await settings('account');
    // Cancel goes back and turns nothing on.
    await w.click('#totp-start');
    await w.el('#totp-qr');
    await w.click('#totp-cancel');
    await w.el('#totp-start');
    assert.equal((await serviceAccount(main)).totp_enabled, false);
    await w.click('#totp-start');
    const shown = (await w.text('#totp-secret')).replace(/[^A-Z2-7]/gi, '');
    const url = new URL(await (await w.el('#totp-url')).getAttribute('href'));
    const qr = await w.el('#totp-qr');
    const qrSize = await qr.getSize();
    assert.ok(qrSize.width >= 150 && qrSize.width === qrSize.height, `a square QR code big enough to scan is shown (${JSON.stringify(qrSize)})`);
    assert.ok(Number(await qr.getAttribute('data-modules')) >= 29, 'the QR code holds the whole otpauth link (version 3 or more)');
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.searchParams.get('secret'), shown, 'the typed key and the otpauth link hold the same secret');
    assert.ok(shown.length >= 16, `a secret of at least 80 bits is shown (${shown})`);
    await picture('totp-setup', '#totp-secret');

    // A wrong code is refused and nothing turns on.
    const step = totpStep();
    const wrong = String((Number(totp(shown, step)) + 1) % 1_000_000).padStart(6, '0');
    await w.type('#totp-code', wrong);
    await w.click('#totp-enable');
    await w.untilText('#totp-code-error', (t) => t.length > 0, 20000, 'a wrong code is refused');
    assert.equal((await serviceAccount(main)).totp_enabled, false);

    state.enabledStep = totpStep();
    await w.type('#totp-code', totp(shown, state.enabledStep));
    await w.click('#totp-enable');
    await w.el('#totp-recovery-codes li');
    state.recoveryCodes = await w.browser.execute(() => [...document.querySelectorAll('#totp-recovery-codes li')].map((li) => li.textContent.trim()));
    assert.equal(state.recoveryCodes.length, 10, 'ten recovery codes are shown');
    assert.equal(new Set(state.recoveryCodes).size, 10);
    await picture('totp-recovery-codes', '#totp-recovery-codes');
    await w.click('#totp-done');
    await w.untilText('#totp-codes-saved-error', (t) => t.length > 0, 5000, '"Done" needs "I saved my recovery codes" ticked');
    await w.click('#totp-codes-saved');
    await w.click('#totp-done');
    await w.untilText('#totp-state', (t) => /\bOn\b/.test(t), 20000, 'the app shows two-step sign-in on');
    assert.equal((await serviceAccount(main)).totp_enabled, true, 'the service has two-step sign-in on');
    state.secret = shown;
    const passwordOnly = await signInApi({ email: state.email, password: state.password, device: 'probe' });
    assert.equal(passwordOnly.json?.error?.code, 'totp_required', 'the password alone no longer signs in');
    const mainToken = appToken(main);
    await closeWindow();

    // A second computer: the password, then a code.
    w = await launch(second);
    await w.signIn({ email: state.email, password: state.password });
    await w.el('#signin-totp', 30000);
    await picture('signin-needs-code');
    // A code is good once: take the step after the one used to turn it on if the clock has not moved on.
    const signInStep = Math.max(totpStep(), state.enabledStep + 1);
    await w.type('#signin-totp', totp(state.secret, signInStep));
    await w.click('#signin-submit');
    await w.el('#backup-status', 60000);
    assert.equal(await (await w.browser.$('#policy-banner')).isExisting(), false, 'the accepted policy is not asked for on a new computer');
    const secondToken = appToken(second);

    // Sign out everywhere: every session ends, this one too.
    await settings('devices');
    await w.el('#session-list li');
    const listed = await w.browser.execute(() => [...document.querySelectorAll('#session-list li')].map((li) => li.dataset.session));
    assert.equal(listed.length, 3, `the first computer, the tablet and this one are signed in (${listed})`);
    await w.click('#sign-out-everywhere');
    await w.el('#sign-out-everywhere-dialog');
    await picture('sign-out-everywhere');
    await w.click('#sign-out-everywhere-confirm');
    await w.untilText('#welcome-notice', (t) => /signed out on every device/i.test(t), 20000, 'the app returns to Welcome and says why');
    assert.equal(await (await w.browser.$('#signin-totp')).isExisting(), false, 'the sign-in form starts without the last sign-in\'s code field');
    assert.equal(await value('#signin-email'), state.email, 'and with the email of the account that left');
    await picture('signed-out-everywhere');
    for (const [name, token] of [['this computer', secondToken], ['the first computer', mainToken], ['the tablet', state.tablet.access_token]]) {
      assert.equal((await api('GET', '/v1/account', { token })).status, 401, `${name}'s session ended`);
    }
    assert.equal(keychain(second)['session-token'], undefined, 'the signed-out computer keeps no token in its keychain');
  }));

test('Dashboard shows used/total as the service counts it; export my data writes a file; delete account signs out at once', () =>
  pictureOnFailure(() => w, 'account-privacy', async () => {
    // Sign in again on the second computer with a one-time recovery code.
    await w.signIn({ email: state.email, password: state.password });
    await w.el('#signin-totp', 30000);
    await w.type('#signin-totp', state.recoveryCodes[0]);
    await w.click('#signin-submit');
    await w.el('#backup-status', 60000);
    const reuse = await signInApi({ email: state.email, password: state.password, device: 'probe', recovery_code: state.recoveryCodes[0] });
    assert.equal(reuse.json?.error?.code, 'totp_invalid', 'a recovery code works once');

    // A small backup, so the quota has something to count.
    const folder = path.join(work, 'Grace');
    writeFiles(folder, { 'notes/compiler.txt': Buffer.from('A-0 System, 1952.\n'), 'bug.bin': crypto.randomBytes(200 * 1024) });
    await w.addFolder(folder);
    await w.untilBackedUp();
    let quota;
    await w.until(
      async () => {
        quota = (await serviceAccount(second)).quota;
        return quota.used > 0 && (await w.text('#quota-used')) === formatBytes(quota.used);
      },
      30000,
      'the Overview shows the storage the service counts',
    );
    assert.equal(await w.text('#quota-total'), `used of ${formatBytes(quota.total)}`, `the Overview shows the quota (${quota.total} bytes)`);
    await picture('overview-quota');

    // Export my data to a typed path (the keyboard's way; "Choose…" opens the native dialog).
    await settings('privacy');
    const exportFile = path.join(work, 'exports', 'grace-export.json');
    fs.mkdirSync(path.dirname(exportFile), { recursive: true });
    await w.type('#export-path', exportFile);
    await w.click('#export-data');
    await w.untilText('#export-row #export-result', (t) => t.includes(exportFile), 30000, 'the app says where the export was saved, in the export row');
    await picture('export-done', '#export-row');
    const exported = JSON.parse(fs.readFileSync(exportFile, 'utf8'));
    assert.equal(exported.format, 'coffer-account-export/1');
    assert.equal(exported.account.email, NEW_EMAIL);
    assert.equal(exported.account.last_name, 'Hopper');
    assert.deepEqual(exported.account.address, ADDRESS);
    assert.equal(exported.preferences.newsletter, false);
    assert.equal(exported.two_factor.enabled, true);
    const current = (await api('GET', '/v1/sessions?active=true', { token: appToken(second) })).json.find((s) => s.current);
    assert.ok(exported.sessions.some((s) => s.session_id === current.session_id), 'the export lists this session');
    assert.ok(exported.sessions.some((s) => s.end_reason === 'signed_out_everywhere'), 'and the ended ones');
    assert.ok(exported.objects.snapshots.length >= 1, 'and the backup list');
    assert.doesNotMatch(JSON.stringify(exported), new RegExp(state.secret), 'the export holds no two-step secret');

    // Delete the account (a wrong password first: nothing happens).
    const token = appToken(second);
    await w.click('#delete-account');
    await w.type('#delete-password', 'not my password');
    await w.click('#delete-confirm');
    await w.untilText('#delete-password-error', (t) => t.length > 0, 20000, 'a wrong password is refused');
    assert.equal((await api('GET', '/v1/account', { token })).status, 200, 'after a wrong password the account is still there');
    await w.type('#delete-password', state.password);
    const earliest = await w.text('#delete-purge-date');
    await picture('delete-dialog');
    await w.click('#delete-confirm');
    const notice = await w.untilText('#welcome-notice', (t) => /purged on/i.test(t), 30000, 'the app returns to Welcome and says when the files are purged');
    await picture('deleted');
    assert.equal((await api('GET', '/v1/account', { token })).status, 401, 'the session fails at once');
    assert.equal(keychain(second)['session-token'], undefined, 'the keychain no longer holds a session');
    const signIn = await signInApi({ email: state.email, password: state.password, device: 'probe', totp_code: totp(state.secret, totpStep() + 1) });
    assert.equal(signIn.status, 403);
    assert.equal(signIn.json.error.code, 'account_deleted', 'the service reports the deletion scheduled');
    assert.ok(signIn.json.error.purge_at > Date.now(), 'with a purge date in the future');
    const purgeDay = serviceDay(signIn.json.error.purge_at);
    assert.ok(notice.includes(`purged on ${purgeDay}.`), `the notice names the service's day, ${purgeDay} (${notice})`);
    assert.equal(earliest, purgeDay, 'the dialog\'s date is the one the service then chose (no holidays here)');
    await waitForMail({ to: NEW_EMAIL, subject: /will be deleted/i, seen: seenMail });

    // Signing in again in the app says the account is scheduled for deletion, until when, and offers to restore it.
    assert.equal(await value('#signin-email'), state.email, 'the sign-in form has the email of the account that left');
    await w.type('#signin-password', state.password);
    await w.click('#signin-submit');
    const refused = await w.untilText('#account-deleted', (t) => t.length > 0, 30000, 'signing in to a deleted account is refused');
    assert.match(refused, /scheduled for deletion/i, `the app says why (${refused})`);
    assert.ok(refused.includes(purgeDay), `with the day, readable (${refused})`);
    assert.doesNotMatch(refused, /\/v1\/|\d{4}-\d\d-\d\d/, 'no API route, no ISO date');
    assert.equal(await (await w.browser.$('#welcome-notice')).isExisting(), false, 'the earlier notice is not left above it');
    await picture('signin-deleted-account');

    // Restore it in the app: the deletion is cancelled, then sign-in asks for the second step.
    await w.click('#restore-account');
    await w.el('#signin-totp', 30000);
    assert.equal((await signInApi({ email: state.email, password: state.password, device: 'probe' })).json?.error?.code, 'totp_required', 'the service no longer reports the account deleted');
    await w.type('#signin-totp', state.recoveryCodes[1]);
    await w.click('#signin-submit');
    await w.el('#backup-status', 60000);
    assert.equal((await serviceAccount(second)).email, NEW_EMAIL, 'the restored account works again');
    await picture('restored-account');
    await closeWindow();
  }));

test('a full account: the backup fails with "storage full" and the Overview says so', () =>
  pictureOnFailure(() => w, 'account-quota', async () => {
    // A second service whose accounts get no storage at all (--quota-gb 0).
    const data = path.join(work, 'full-server');
    const child = spawn(serverBin, ['--listen', '127.0.0.1:0', '--data-dir', data, '--quota-gb', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const url = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const found = out.match(/listening on (http:\S+)/);
          if (found) resolve(found[1]);
        });
        child.on('exit', (code) => reject(new Error(`the second service exited (${code})`)));
      });
      w = await launch(device('account-full'));
      await w.el('#signup-first', 60000);
      await w.click('#advanced-toggle');
      await w.type('#server-url', url);
      await w.type('#signup-first', 'Ada');
      await w.type('#signup-last', 'Full');
      await w.type('#signup-email', 'full@example.com');
      await w.type('#signup-password', 'no room at all 2026');
      await w.click('#signup-age');
      await w.click('#signup-submit');
      await w.el('#backup-status', 60000);
      const folder = path.join(work, 'Full');
      writeFiles(folder, { 'a.txt': Buffer.from('does not fit\n') });
      await w.addFolder(folder);
      await w.click('#nav-dashboard');
      const error = await w.untilText('#backup-error', (t) => t.length > 0, 60000, 'the Overview shows the failed backup');
      assert.match(error, /storage|quota|full/i, `the error says the storage is full (${error})`);
      assert.match(await w.text('#backup-error'), /^Storage full/, 'with its own title');
      assert.doesNotMatch(error, /quota is exceeded/, 'and advice rather than the service\'s text');
      assert.equal(await w.text('#backup-status'), 'Your storage is full');
      assert.doesNotMatch(await w.text('#last-backup'), /earlier backups|·/, 'no earlier backups are promised, no stray separator');
      assert.equal(await w.text('#quota-used'), 'No storage space', 'a 0-byte plan reads as no storage');
      assert.doesNotMatch(await w.text('#quota'), /0 bytes/);
      await picture('storage-full');
      const signIn = await api('POST', '/v1/sessions', { base: url, body: { email: 'full@example.com', password: 'no room at all 2026' } });
      const listed = await api('GET', '/v1/repo/snapshots', { base: url, token: signIn.json.access_token });
      assert.deepEqual(listed.json, [], 'nothing was stored');
      await closeWindow();
    } finally {
      child.kill();
    }
  }));
