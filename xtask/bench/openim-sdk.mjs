// The reference side of `cargo xtask bench` openim-live and openim-catchup: the official pure-JS
// client, `@openim/client-sdk` 0.0.14 (installed from npm into target/ to measure against,
// never part of the project), under Node 24 against `imsim --openim`.
//
//   node openim-sdk.mjs <sdk-prefix> <imsim-ready-file> <live|catchup> <bot> <messages> <senders>
//
// live:    logs in as <bot>, waits for the first sync, then stores <messages> for it through the
//          simulator's admin API from every sender at once, and counts the messages that reach
//          OnRecvNewMessages. The clock runs from the first injection to the last message.
// catchup: logs in and syncs, then the simulator drops the connection and the messages are
//          stored while the SDK waits to reconnect (its own delay, about 5 s); the clock runs
//          from the reconnect to the last message. (After a logout and a new login instead, as
//          when a bot restarts, the SDK delivers none of them through OnRecvNewMessages.)
// A side that stops receiving for QUIET_MS is done: what it has is what it delivers.
// Prints one JSON object on stdout; whatever the SDK prints goes to stderr.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const SDK_VERSION = '0.0.14';
const QUIET_MS = 10_000;
const LIMIT_MS = 300_000;
const PLATFORM = 5;

const stderr = console.error.bind(console);
console.log = console.info = console.debug = console.trace = (...args) => stderr(...args);

// What the SDK throws from its own callbacks (its catch-up throws on an empty pull answer) is
// kept and reported; the process goes on counting, as a bot with such a handler would.
const thrown = [];
function caught(err) {
  const at = String(err?.stack ?? '').split('\n').find((l) => l.trim().startsWith('at ')) ?? '';
  const text = `${err?.name ?? 'Error'}: ${err?.message ?? err} ${at.trim().replace(/\(file:.*\//, '(')}`;
  if (thrown.length < 5) thrown.push(text.slice(0, 200));
}
process.on('uncaughtException', caught);
process.on('unhandledRejection', caught);

function fail(message) {
  stderr(`openim-sdk bench: ${message}`);
  process.exit(1);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(probe, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (probe()) return;
    if (Date.now() >= end) fail(`timed out after ${ms} ms: ${what}`);
    await sleep(5);
  }
}

const [prefix, readyFile, mode, bot, messagesArg, sendersArg] = process.argv.slice(2);
if (!sendersArg || !['live', 'catchup'].includes(mode)) {
  fail('usage: node openim-sdk.mjs <sdk-prefix> <ready-file> <live|catchup> <bot> <messages> <senders>');
}
const messages = Number(messagesArg);
const senders = sendersArg.split(',');
const ready = JSON.parse(readFileSync(readyFile, 'utf8').split('\n').find((l) => l.startsWith('{')));
const server = ready.openim?.[0] ?? fail('imsim was not started with --openim');

async function admin(path, body) {
  const res = await fetch(new URL(path, server.admin), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) fail(`/_admin/${path} answered HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

async function inject() {
  const per = Math.floor(messages / senders.length);
  const extra = messages % senders.length;
  await Promise.all(
    senders.map((from, n) => admin('inject_many', { from, to: [bot], count: per + (n < extra ? 1 : 0) })),
  );
}

const dir = join(prefix, 'node_modules', '@openim', 'client-sdk');
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
if (manifest.version !== SDK_VERSION) fail(`${dir} is ${manifest.version}, not ${SDK_VERSION}`);
const { getSDK, CbEvents } = await import(pathToFileURL(join(dir, 'lib', 'index.modern.mjs')).href);

const sdk = getSDK();
const seen = new Set();
let connected = 0;
let connectedAt = 0;
let synced = 0;
let lastAt = 0;
sdk.on(CbEvents.OnConnectSuccess, () => {
  connected += 1;
  connectedAt = performance.now();
});
sdk.on(CbEvents.OnSyncServerFinish, () => (synced += 1));
const onMessages = (ev) => {
  const data = ev?.data;
  for (const m of Array.isArray(data) ? data : data ? [data] : []) {
    if (m?.sendID !== bot && m?.clientMsgID && !seen.has(m.clientMsgID)) {
      seen.add(m.clientMsgID);
      lastAt = performance.now();
    }
  }
};
sdk.on(CbEvents.OnRecvNewMessages, onMessages);
sdk.on(CbEvents.OnRecvNewMessage, onMessages);

const { token } = await admin('token', { userID: bot, platformID: PLATFORM });
async function login() {
  const before = { connected, synced };
  const res = await sdk.login({
    userID: bot,
    token,
    platformID: PLATFORM,
    wsAddr: server.ws,
    apiAddr: server.api,
    logLevel: 5,
  });
  if (res?.errCode !== 0) fail(`login: errCode ${res?.errCode}`);
  await until(() => connected > before.connected && synced > before.synced, 30_000, 'connected and synced');
}

// Done once every message came, or nothing came for QUIET_MS.
async function received(started) {
  for (;;) {
    const now = performance.now();
    if (seen.size >= messages) return;
    if (now - Math.max(lastAt, started) >= QUIET_MS || now - started >= LIMIT_MS) return;
    await sleep(1);
  }
}

await login();
let started;
let cpuBefore;
if (mode === 'live') {
  cpuBefore = process.cpuUsage();
  started = performance.now();
  await Promise.all([inject(), received(started)]);
} else {
  const before = connected;
  const dropped = await admin('drop', { userID: bot });
  if (!dropped.dropped) fail('/_admin/drop dropped no connection of the SDK');
  await inject();
  cpuBefore = process.cpuUsage();
  await until(() => connected > before, 60_000, 'the SDK reconnected');
  started = connectedAt;
  await received(started);
}
const cpu = process.cpuUsage(cpuBefore);
const seconds = ((seen.size >= messages ? lastAt : lastAt || performance.now()) - started) / 1000;
process.stdout.write(
  `${JSON.stringify({
    bench: mode === 'live' ? 'openim-live' : 'openim-catchup',
    side: 'sdk',
    messages,
    received: seen.size,
    lost: messages - seen.size,
    seconds,
    perSecond: seen.size / Math.max(seconds, 1e-9),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    thrown,
  })}\n`,
);
process.exit(0);
