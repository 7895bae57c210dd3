// The `sdk` transport on NetEase's real SDK, offline: the private-deployment endpoints point at
// 127.0.0.1 (a closed port, or a local LBS that answers with a closed link), so login must
// fail as a classified network error, with the SDK's status events, no crash, no unhandled
// rejection, and no connection anywhere but loopback (enforced: any other destination is
// rewritten to a closed loopback port and recorded, which fails the test).
//
// It installs nothing. Install the pinned SDK once and name the directory:
//   npm install --ignore-scripts --prefix /tmp/nimsdk nim-web-sdk-ng@10.9.77-alpha.4
//   IMBRIDGE_NIM_SDK_DIR=/tmp/nimsdk node --test crates/yunxin/js/test/real-sdk.test.mjs
import assert from "node:assert/strict";
import dns from "node:dns";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, test } from "node:test";

import { open } from "../nim-sdk.mjs";

const TOKEN = "real-sdk-offline-t0ken";
const SDK_DIR = process.env.IMBRIDGE_NIM_SDK_DIR;
const tick = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

// The Node build inside IMBRIDGE_NIM_SDK_DIR: an npm prefix, or the package directory itself.
function sdkEntry(dir) {
  const candidates = [path.join(dir, "node_modules/nim-web-sdk-ng/dist/nodejs/nim.js"), path.join(dir, "dist/nodejs/nim.js"), dir];
  return candidates.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
}
const entry = SDK_DIR ? sdkEntry(SDK_DIR) : undefined;
const skip = !SDK_DIR
  ? "IMBRIDGE_NIM_SDK_DIR is unset: npm install --ignore-scripts --prefix DIR nim-web-sdk-ng@10.9.77-alpha.4, then set IMBRIDGE_NIM_SDK_DIR=DIR"
  : !entry
    ? `no dist/nodejs/nim.js under IMBRIDGE_NIM_SDK_DIR=${SDK_DIR}`
    : false;
if (skip) console.log(`# real-sdk: skipped: ${skip}`);

// --- loopback-only network guard ------------------------------------------------------------
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);
const outside = []; // destinations the SDK tried that are not loopback
const reached = []; // every destination, for the report
let closedPort = 9;
const restore = [];

function installGuard() {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const options = first !== null && typeof first === "object" ? first : { port: first, host: typeof args[1] === "string" ? args[1] : undefined };
    if (options.path === undefined) {
      const host = options.host ?? "localhost";
      reached.push(`${host}:${options.port}`);
      if (!LOOPBACK.has(host)) {
        outside.push(`${host}:${options.port}`);
        options.host = "127.0.0.1";
        options.port = closedPort;
        options.servername = undefined;
      }
    }
    return connect.apply(this, args);
  };
  restore.push(() => (net.Socket.prototype.connect = connect));

  const lookup = dns.lookup;
  dns.lookup = function guardedLookup(hostname, ...rest) {
    if (!LOOPBACK.has(hostname)) outside.push(`dns:${hostname}`);
    return lookup.call(this, LOOPBACK.has(hostname) ? hostname : "127.0.0.1", ...rest);
  };
  restore.push(() => (dns.lookup = lookup));

  const fetch = globalThis.fetch;
  globalThis.fetch = function guardedFetch(input, init) {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    reached.push(`fetch ${url.origin}${url.pathname}`);
    if (!LOOPBACK.has(url.hostname.replace(/^\[|\]$/g, ""))) {
      outside.push(`fetch ${url.origin}`);
      return Promise.reject(new TypeError(`blocked by the test: ${url.origin}`));
    }
    return fetch.call(this, input, init);
  };
  restore.push(() => (globalThis.fetch = fetch));
}

// Nothing may print to the console: the SDK's lines go to our logger.
const printed = [];
function installConsoleWatch() {
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const original = console[level];
    console[level] = (...args) => {
      printed.push([level, args.map(String).join(" ")]);
    };
    restore.push(() => (console[level] = original));
  }
}

const unhandled = [];
const onUnhandled = (err) => unhandled.push(err);

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let lbs;
let lbsHits = 0;

before(async () => {
  if (skip) return;
  closedPort = await freePort();
  installGuard();
  installConsoleWatch();
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUnhandled);
  // A private-deployment LBS on loopback that hands out a link to the closed port.
  lbs = http.createServer((req, res) => {
    lbsHits++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ common: { link: [`127.0.0.1:${closedPort}`], "link.default": [`127.0.0.1:${closedPort}`] } }));
  });
  await new Promise((resolve) => lbs.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  if (skip) return;
  await new Promise((resolve) => lbs.close(resolve));
  for (const undo of restore.splice(0).reverse()) undo();
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
  console.log(`real-sdk: destinations: ${[...new Set(reached)].join(", ")}`);
});

const transports = [];
afterEach(async () => {
  if (skip) return;
  for (const t of transports.splice(0)) await t.close();
  await tick(50);
  assert.deepEqual(unhandled.splice(0), [], "no unhandled rejection or exception");
  assert.deepEqual(outside, [], "nothing but loopback was contacted");
  assert.deepEqual(printed, [], "the SDK printed nothing to the console");
});

async function start(options) {
  const events = [];
  const logs = [];
  const log = Object.fromEntries(["debug", "info", "warn", "error"].map((level) => [level, (text) => logs.push([level, text])]));
  const transport = await open({
    options: { sdkModule: entry, appKey: "offline-test-appkey", debugLevel: "debug", ...options },
    emit: (event, payload) => events.push([event, payload]),
    log,
  });
  transports.push(transport);
  return { transport, events, logs, of: (name) => events.filter(([e]) => e === name).map(([, p]) => p) };
}

// 192xxx (link), 191005 (timeout), 408/415 (V1-style timeout / network): the network family.
function assertNetworkFamily(code) {
  assert.ok((code >= 192000 && code < 193000) || [191005, 408, 415].includes(code), `a network or timeout code, got ${code}`);
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

function assertOffline(t, status) {
  const logins = t.of("loginStatus");
  assert.equal(logins[0], 2, "the SDK reported logging in");
  assert.ok([0, 3].includes(logins.at(-1)), `unlogged or waiting at the end: ${logins}`);
  assert.ok([0, 3].includes(status.loginStatus), JSON.stringify(status));
  assert.ok([0, 3].includes(status.connectStatus), JSON.stringify(status));
  assert.ok(!t.of("loginStatus").includes(1), "never logged in");
  const text = JSON.stringify([t.events, t.logs]);
  assert.ok(!text.includes(TOKEN), "the token is in no event or log line");
}

test("login to a closed loopback link fails as a network error (LBS on a closed port too)", { skip }, async (ctx) => {
  const t = await start({ lbsUrls: [`http://127.0.0.1:${closedPort}/lbs/webconf.jsp`], linkUrl: `127.0.0.1:${closedPort}` });
  assert.deepEqual(await t.transport.call("status", {}), { loginStatus: 0, connectStatus: 0 });
  const err = await rejection(t.transport.call("login", { accountId: "bot-offline", token: TOKEN, retryCount: 0 }));
  assert.ok(err instanceof Error);
  assertNetworkFamily(err.code);
  assert.ok(err.message.length > 0 && !/^\d/.test(err.message), `the code is apart from the message: ${err.message}`);
  assert.ok(!err.message.includes(TOKEN));
  const failures = t.of("connectFailed");
  assert.ok(failures.length >= 1, JSON.stringify(t.events));
  for (const f of failures) assertNetworkFamily(f.code);
  assertOffline(t, await t.transport.call("status", {}));
  assert.ok(t.logs.some(([, text]) => text.startsWith("nim-sdk: ")), "the SDK logs through our logger");
  ctx.diagnostic(`real-sdk closed link: rejected ${err.message}; events ${JSON.stringify(t.events)}`);
});

test("login through a loopback LBS that hands out a closed link fails the same way", { skip }, async (ctx) => {
  const before = lbsHits;
  const t = await start({ lbsUrls: [`http://127.0.0.1:${lbs.address().port}/lbs/webconf.jsp`], linkUrl: `127.0.0.1:${closedPort}` });
  const err = await rejection(t.transport.call("login", { accountId: "bot-offline", token: TOKEN, retryCount: 0 }));
  assertNetworkFamily(err.code);
  assert.ok(lbsHits > before, "the SDK asked our LBS");
  assertOffline(t, await t.transport.call("status", {}));
  ctx.diagnostic(`real-sdk via LBS: rejected ${err.message}; events ${JSON.stringify(t.events)}`);
});

test("with the SDK's default retries one call makes a bounded number of attempts, then stays quiet", { skip }, async (ctx) => {
  const t = await start({ lbsUrls: [`http://127.0.0.1:${lbs.address().port}/lbs/webconf.jsp`], linkUrl: `127.0.0.1:${closedPort}` });
  const err = await rejection(t.transport.call("login", { accountId: "bot-offline", token: TOKEN }));
  assertNetworkFamily(err.code);
  const attempts = t.of("connectFailed").length;
  assert.ok(attempts >= 1 && attempts <= 4, `attempts: ${attempts}`);
  await tick(1500);
  assert.equal(t.of("connectFailed").length, attempts, "no attempt after the rejection");
  assertOffline(t, await t.transport.call("status", {}));
  ctx.diagnostic(`real-sdk default retries: ${attempts} connect attempts, then ${err.message}`);
});

test("before a login: sends are refused with the SDK's codes, close() is clean", { skip }, async (ctx) => {
  const t = await start({ lbsUrls: [`http://127.0.0.1:${closedPort}/lbs`], linkUrl: `127.0.0.1:${closedPort}` });
  const text = await rejection(t.transport.call("sendText", { conversationId: "bot|1|alice", text: "hi" }));
  assert.equal(text.code, 190002);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nim-real-"));
  const file = path.join(dir, "a.png");
  fs.writeFileSync(file, "x");
  const media = await rejection(t.transport.call("sendMedia", { conversationId: "bot|1|alice", kind: "image", path: file, width: 1, height: 1 }));
  assert.equal(media.code, 190002);
  const empty = await rejection(t.transport.call("sendText", { conversationId: "bot|1|alice", text: "" }));
  assert.equal(empty.code, 191004);
  fs.rmSync(dir, { recursive: true, force: true });
  await t.transport.close();
  await t.transport.close();
});
