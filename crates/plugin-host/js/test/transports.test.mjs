// Transport modules through the JS entry: a `netease-yunxin` account on the `nim-sdk` module
// (crates/yunxin/js, as IMBRIDGE_TRANSPORTS_DIR) with the stub SDK as its `sdkModule`, started
// the way the gateway starts accounts. Login, an inbound text turned into a host turn, the reply
// sent through the SDK, a stop that logs out and closes the SDK instance, a refused token, a
// kick, and a package without the module.
//
// Build first: cargo build -p plugin-host --all-features
// then: node --test crates/plugin-host/js/test/*.test.mjs
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../../..");
const state = fs.mkdtempSync(path.join(os.tmpdir(), "imbridge-transports-"));
// Everything this file writes (addon copies are 170 MB in a debug build) goes when it ends.
process.on("exit", () => fs.rmSync(state, { recursive: true, force: true }));
process.env.OPENCLAW_STATE_DIR = state;
const addon = path.join(state, "imbridge.node");
fs.copyFileSync(process.env.IMBRIDGE_ADDON ?? path.join(root, "target/debug/libplugin_host.so"), addon);
process.env.IMBRIDGE_ADDON = addon;
const MODULES = path.join(root, "crates/yunxin/js");
process.env.IMBRIDGE_TRANSPORTS_DIR = MODULES;

// The stub the module loads as its SDK; the same instance (and control) as imported here.
const STUB = path.join(MODULES, "test/stub-sdk.mjs");
const { stub } = await import(STUB);
const { SDK_PACKAGE, SDK_VERSION } = await import(path.join(MODULES, "nim-sdk.mjs"));
const entry = (await import("../index.js")).default;
const { native } = await import("../lib/native.js");

const ID = "netease-yunxin";
const TOKEN = "yx-t0ken-never-logged";
const tick = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, ok, limit = 5000) {
  const deadline = Date.now() + limit;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await tick(10);
  }
}

// A fake OpenClaw: the logger, and the channel runtime a turn uses (every agent answers
// "echo: <text>").
const logged = [];
const logger = Object.fromEntries(["debug", "info", "warn", "error"].map((level) => [level, (m) => logged.push([level, m])]));
const registered = [];
entry.register({ registrationMode: "full", logger, registerChannel: ({ plugin }) => registered.push(plugin) });
const channel = registered.find((p) => p.id === ID);

const turns = [];
const channelRuntime = {
  routing: {
    resolveAgentRoute: ({ peer }) => ({ agentId: "main", sessionKey: `agent:main:${ID}:direct:${peer.id}`, mainSessionKey: "agent:main:main" }),
  },
  pairing: {
    readAllowFromStore: async () => [],
    upsertPairingRequest: async () => ({ code: "PAIR1234", created: true }),
    buildPairingReply: ({ code }) => `pairing code ${code}`,
  },
  inbound: {
    buildContext: (facts) => ({ facts, Body: facts.message.body, From: facts.from, SessionKey: facts.route.routeSessionKey }),
    dispatch: async ({ ctxPayload, delivery }) => {
      turns.push(ctxPayload);
      await delivery.deliver({ text: `echo: ${ctxPayload.Body}` }, { kind: "final" });
      return { admission: { kind: "dispatch" }, dispatched: true, dispatchResult: { queuedFinal: true, counts: { tool: 0, block: 0, final: 1 } } };
    },
  },
};

function config(extra = {}) {
  return { channels: { [ID]: { appKey: "appkey-1", accountId: "bot1", token: TOKEN, dmPolicy: "open", allowFrom: ["*"], sdkModule: STUB, ...extra } } };
}

// Starts the default account as the gateway does; `stop()` aborts it and waits for its end.
function start(cfg = config()) {
  const abort = new AbortController();
  const statuses = [];
  const ctx = {
    cfg,
    accountId: "default",
    abortSignal: abort.signal,
    channelRuntime,
    getStatus: () => statuses.at(-1) ?? {},
    setStatus: (s) => statuses.push(s),
  };
  const running = channel.gateway.startAccount(ctx);
  return {
    statuses,
    last: () => statuses.at(-1) ?? {},
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

test.beforeEach(() => {
  stub.reset();
  stub.setAccounts({ bot1: TOKEN });
  turns.length = 0;
});

test("the descriptor declares the nim-sdk module with the SDK it pins", () => {
  assert.ok(channel, `build the addon with --all-features (channels: ${registered.map((p) => p.id)})`);
  const d = native.descriptor().channels.find((c) => c.id === ID);
  assert.deepEqual(d.transports, [{ name: "nim-sdk", source: "crates/yunxin/js/nim-sdk.mjs", npmDependencies: { [SDK_PACKAGE]: SDK_VERSION } }]);
});

test("an account logs in through the module, turns an inbound text into a turn, replies, and logs out when stopped", async () => {
  const account = start();
  await until("connected", () => account.last().connected === true);
  assert.equal(stub.logins.length, 1);
  assert.deepEqual(
    { accountId: stub.logins[0].accountId, appKey: stub.logins[0].appKey, ok: stub.logins[0].ok, aiBot: stub.logins[0].option.aiBot },
    { accountId: "bot1", appKey: "appkey-1", ok: true, aiBot: 2 },
  );

  stub.deliver("bot1", stub.p2pText({ from: "alice", to: "bot1", text: "hello there" }));
  await until("the reply", () => stub.sent.length === 1);
  assert.equal(turns.length, 1);
  assert.equal(turns[0].Body, "hello there");
  assert.equal(turns[0].From, "alice");
  assert.equal(turns[0].facts.channel, ID);
  assert.equal(stub.sent[0].conversationId, "bot1|1|alice");
  assert.equal(stub.sent[0].text, "echo: hello there");
  assert.equal(stub.sent[0].ok, true);
  await until("lastOutboundAt", () => account.last().lastOutboundAt > 0);

  await account.stop();
  assert.deepEqual(stub.logouts, [{ accountId: "bot1" }], "logged out on purpose");
  assert.equal(stub.destroyed, 1, "the SDK instance is gone");
  assert.equal(stub.instances.size, 0);
  assert.equal(account.last().lifecycle, "stopped");
  assert.equal(account.last().running, false);

  // The module's log lines reach the host's logger, marked with the channel; never the token.
  const lines = logged.map(([, m]) => m);
  assert.ok(lines.some((m) => m.startsWith(`[${ID}] default: nim: login bot1`)), JSON.stringify(lines));
  assert.ok(!JSON.stringify(logged).includes(TOKEN), "no token in the logs");
  // Loaded once for the process, however many accounts start.
  const second = start();
  await until("connected again", () => second.last().connected === true);
  await second.stop();
  const loaded = [...globalThis[Symbol.for("imbridge.transportModules")].keys()];
  assert.deepEqual(loaded, [path.join(MODULES, "nim-sdk.mjs")]);
});

test("a refused token (302) stops the account as needsLogin, at once and for good", async () => {
  stub.setAccounts({ bot1: "another-token" });
  const account = start();
  await until("blocked", () => account.last().lifecycle === "blocked" && account.last().running === false);
  const status = account.last();
  assert.equal(status.needsLogin, true);
  assert.match(status.lastError, /^needsLogin: .*302/);
  assert.ok(!status.lastError.includes(TOKEN));
  await tick(300);
  assert.equal(stub.logins.length, 1, "no retry of a refused token");
  assert.equal(stub.destroyed, 1, "its SDK instance is closed");
  assert.equal(stub.instances.size, 0);
  await account.stop();
});

test("a kick shows in the status; a stop during the pause before the next login ends it cleanly", async () => {
  const account = start();
  await until("connected", () => account.last().connected === true);
  assert.equal(stub.kick("bot1", { reason: 1, reasonDesc: "another device" }), 1);
  await until("the kick in the status", () => /kick/i.test(account.last().lastError ?? ""));
  assert.equal(account.last().connected, false);
  assert.equal(account.last().lifecycle, "recovering");
  assert.match(account.last().lastError, /another device/);
  await until("the kicked instance closed", () => stub.destroyed === 1);
  await account.stop();
  assert.equal(stub.logins.length, 1, "stopped before logging in again");
  assert.equal(stub.instances.size, 0);
  assert.equal(account.last().lifecycle, "stopped");
});

test("a package without the module says which file is missing", async (t) => {
  const empty = fs.mkdtempSync(path.join(state, "no-transports-"));
  process.env.IMBRIDGE_TRANSPORTS_DIR = empty;
  t.after(() => (process.env.IMBRIDGE_TRANSPORTS_DIR = MODULES));
  const account = start();
  await until("the error", () => account.last().lastError?.includes("nim-sdk"));
  assert.match(account.last().lastError, /opening transport module nim-sdk: transport module "nim-sdk": .*nim-sdk\.mjs is missing/);
  assert.equal(stub.constructed.length, 0);
  await account.stop();
});

// NetEase's real SDK (IMBRIDGE_NIM_SDK_DIR, as CI installs it) through the entry, with the
// private-deployment endpoints on a closed loopback port: the account must show a classified
// network error and keep "recovering" with a backoff, with no crash and no unhandled rejection.
const SDK_DIR = process.env.IMBRIDGE_NIM_SDK_DIR;
const REAL_SDK = SDK_DIR && path.join(SDK_DIR, "node_modules/nim-web-sdk-ng/dist/nodejs/nim.js");
test("the real SDK against an unreachable endpoint: a network error, then recovering with backoff", { skip: !REAL_SDK || !fs.existsSync(REAL_SDK) ? "IMBRIDGE_NIM_SDK_DIR unset" : false, timeout: 60_000 }, async () => {
  const unhandled = [];
  const onUnhandled = (reason) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  const net = await import("node:net");
  const closed = await new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
  const account = start(config({
    sdkModule: REAL_SDK,
    lbsUrls: [`http://127.0.0.1:${closed}/lbs/webconf.jsp`],
    linkUrl: `127.0.0.1:${closed}`,
  }));
  try {
    await until("a recovering status", () => account.last().lifecycle === "recovering", 45_000);
    const status = account.last();
    assert.equal(status.connected, false);
    assert.equal(status.running, true, "still running: it will try again");
    // The SDK's connect failure (192001) or another code of the network/timeout families.
    assert.match(status.lastError ?? "", /NIM error (192\d{3}|191005|408|415)/);
    assert.ok(!JSON.stringify(account.statuses).includes(TOKEN));
  } finally {
    await account.stop();
    process.off("unhandledRejection", onUnhandled);
  }
  assert.equal(account.last().lifecycle, "stopped");
  assert.deepEqual(unhandled, []);
});
