// The reference side of `cargo xtask bench` accounts-rss and startup: N instances of the official
// pure-JS client, `@openim/client-sdk` 0.0.14 (installed from npm into target/ to measure
// against, never part of the project), logged in inside one Node 24 process against
// `imsim --openim`, each as a user of its own.
//
//   node accounts-sdk.mjs <sdk-prefix> <imsim-ready-file> <bot-prefix> <accounts> <settle-ms>
//
// Instance n logs in as <bot-prefix>-<n>. The tokens are fetched first; the clock then runs from
// the first `getSDK()` and `login` to every instance connected (OnConnectSuccess and its login
// resolved) and synced (OnSyncServerFinish, the SDK's end of its first catch-up, which is what
// our accounts' "connected" means). The process then idles for <settle-ms> and reads its
// resident set. Prints one JSON object on stdout; whatever the SDK prints goes to stderr.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const SDK_VERSION = '0.0.14';
const LIMIT_MS = 120_000;
const PLATFORM = 5;

const stderr = console.error.bind(console);
console.log = console.info = console.debug = console.trace = (...args) => stderr(...args);

function fail(message) {
  stderr(`accounts-sdk bench: ${message}`);
  process.exit(1);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const [prefix, readyFile, bots, accountsArg, settleArg] = process.argv.slice(2);
const accounts = Number(accountsArg);
const settleMs = Number(settleArg);
if (!(accounts >= 1) || !(settleMs >= 0)) {
  fail('usage: node accounts-sdk.mjs <sdk-prefix> <ready-file> <bot-prefix> <accounts> <settle-ms>');
}
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

const dir = join(prefix, 'node_modules', '@openim', 'client-sdk');
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
if (manifest.version !== SDK_VERSION) fail(`${dir} is ${manifest.version}, not ${SDK_VERSION}`);
const importStarted = performance.now();
const { getSDK, CbEvents } = await import(pathToFileURL(join(dir, 'lib', 'index.modern.mjs')).href);
const importSeconds = (performance.now() - importStarted) / 1000;

const users = Array.from({ length: accounts }, (_, n) => `${bots}-${n + 1}`);
const tokens = await Promise.all(users.map((userID) => admin('token', { userID, platformID: PLATFORM })));

let connected = 0;
let synced = 0;
let loggedIn = 0;
const started = performance.now();
const instances = users.map((userID, n) => {
  const sdk = getSDK();
  sdk.on(CbEvents.OnConnectSuccess, () => (connected += 1));
  sdk.on(CbEvents.OnSyncServerFinish, () => (synced += 1));
  const login = sdk
    .login({
      userID,
      token: tokens[n].token,
      platformID: PLATFORM,
      wsAddr: server.ws,
      apiAddr: server.api,
      logLevel: 5,
    })
    .then((res) => {
      if (res?.errCode !== 0) fail(`login of ${userID}: errCode ${res?.errCode}`);
      loggedIn += 1;
    });
  return { sdk, login };
});

let connectedAt = 0;
for (;;) {
  const now = performance.now();
  if (!connectedAt && connected >= accounts && loggedIn >= accounts) connectedAt = now;
  if (connectedAt && synced >= accounts) break;
  if (now - started >= LIMIT_MS) {
    fail(`after ${LIMIT_MS} ms: ${loggedIn} logged in, ${connected} connected, ${synced} synced of ${accounts}`);
  }
  await sleep(2);
}
const syncedAt = performance.now();

await sleep(settleMs);
const rss = process.memoryUsage().rss;
// The private part of it (heaps, stacks), without the pages mapped from files (code).
const status = readFileSync('/proc/self/status', 'utf8');
const rssAnon = Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024;
process.stdout.write(
  `${JSON.stringify({
    bench: 'accounts',
    side: 'sdk',
    accounts,
    instances: instances.length,
    importSeconds,
    loginSeconds: (connectedAt - started) / 1000,
    connectSeconds: (syncedAt - started) / 1000,
    rssBytes: rss,
    rssAnonBytes: rssAnon,
    heapUsedBytes: process.memoryUsage().heapUsed,
  })}\n`,
);
process.exit(0);
