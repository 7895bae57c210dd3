// The host services, one request kind at a time, against a fake OpenClaw runtime; and the entry
// against boundary.schema.json (generated from the Rust types): every request kind Rust can send
// has a service here, and there is none Rust does not know.
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
const state = fs.mkdtempSync(path.join(os.tmpdir(), "imbridge-services-"));
process.on("exit", () => fs.rmSync(state, { recursive: true, force: true }));
process.env.OPENCLAW_STATE_DIR = state;
const addon = path.join(state, "imbridge.node");
fs.copyFileSync(process.env.IMBRIDGE_ADDON ?? path.join(root, "target/debug/libplugin_host.so"), addon);
process.env.IMBRIDGE_ADDON = addon;

const { accountServices, hasRun, hostServices } = await import("../lib/services.js");
const { sessionTransports } = await import("../lib/transports.js");
const { answer, failureOf } = await import("../lib/session.js");
const { ImbridgeError, native } = await import("../lib/native.js");
const schema = JSON.parse(fs.readFileSync(path.join(here, "../boundary.schema.json"), "utf8"));

const ID = "multi-openim";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// Records every call into the fake runtime by name.
function fakeRuntime(overrides = {}) {
  const calls = [];
  const record = (name, result) => (arg) => {
    calls.push([name, arg]);
    return typeof result === "function" ? result(arg) : result;
  };
  const runtime = {
    routing: { resolveAgentRoute: record("resolveAgentRoute", { agentId: "main", sessionKey: "agent:main:x", mainSessionKey: "agent:main:main" }) },
    pairing: {
      readAllowFromStore: record("readAllowFromStore", ["alice"]),
      upsertPairingRequest: record("upsertPairingRequest", { code: "PAIR1", created: true }),
      buildPairingReply: record("buildPairingReply", ({ code }) => `code ${code}`),
    },
    media: {
      saveMediaBuffer: async (buffer, contentType, direction, maxBytes, fileName) => {
        calls.push(["saveMediaBuffer", { text: buffer.toString(), contentType, direction, maxBytes, fileName }]);
        return { path: "/state/media/inbound/x.png", contentType };
      },
    },
    inbound: {
      buildContext: record("buildContext", (facts) => ({ Body: facts.message?.body, SessionKey: facts.route.routeSessionKey, built: true })),
      dispatch: async (params) => {
        calls.push(["dispatch", params]);
        await params.delivery.deliver({ text: "one" }, { kind: "block" });
        await params.delivery.deliver({ text: "two", mediaUrl: "/m/a.png", mediaUrls: ["/m/a.png", "/m/b.png"] }, { kind: "final" });
        return { admission: { kind: "dispatch" }, dispatched: true, dispatchResult: { queuedFinal: true, counts: { tool: 0, block: 1, final: 1 } } };
      },
    },
    ...overrides,
  };
  return { runtime, calls };
}

// The request kinds Rust can send, from the schema.
function requestOps() {
  const variants = schema.$defs.Request.oneOf;
  return variants.map((v) => v.properties.op.const).sort();
}

test("the schema lists every request kind, and the entry serves exactly those", () => {
  const ops = requestOps();
  assert.ok(ops.includes("turn") && ops.includes("transport.call") && ops.includes("prompt"), ops.join(","));
  const transports = sessionTransports({ id: ID, transports: [] }, 0, "test", quiet);
  const served = [
    ...Object.keys(accountServices({}, ID, quiet)),
    ...Object.keys(hostServices({})),
    ...Object.keys(transports.services),
    // Served where their sessions run: an action's caller's media roots (lib/actions.js), a
    // person's answer at the terminal or in the Control UI (logins and commands).
    "media.roots",
    "prompt",
  ].sort();
  assert.deepEqual(served, ops);
  // Each answer JS gives has its shape in the schema too.
  assert.deepEqual(Object.keys(schema.$defs.Answers.properties).sort(), ops);
});

test("route asks the host's router with the newest config", async () => {
  const { runtime, calls } = fakeRuntime();
  const newest = { session: { dmScope: "per-peer" } };
  const services = accountServices({ runtime: { config: { current: () => newest } } }, ID, quiet);
  const peer = { kind: "group", id: "g1" };
  const route = await services.route({ channel: ID, accountId: "a", peer }, { runtime, cfg: { stale: true } });
  assert.equal(route.agentId, "main");
  assert.deepEqual(calls, [["resolveAgentRoute", { cfg: newest, channel: ID, accountId: "a", peer }]]);
});

test("pairing requests map onto the host's pairing store", async () => {
  const { runtime, calls } = fakeRuntime();
  const services = accountServices({}, ID, quiet);
  assert.deepEqual(await services["pairing.readAllowFrom"]({ channel: ID, accountId: "a" }, { runtime }), ["alice"]);
  assert.deepEqual(await services["pairing.upsert"]({ channel: ID, accountId: "a", id: "bob", meta: { name: "Bob" } }, { runtime }), { code: "PAIR1", created: true });
  assert.equal(await services["pairing.replyText"]({ channel: ID, idLine: "Your id: bob", code: "PAIR1" }, { runtime }), "code PAIR1");
  assert.deepEqual(calls, [
    ["readAllowFromStore", { channel: ID, accountId: "a" }],
    ["upsertPairingRequest", { channel: ID, id: "bob", accountId: "a", meta: { name: "Bob" } }],
    ["buildPairingReply", { channel: ID, idLine: "Your id: bob", code: "PAIR1" }],
  ]);
});

test("media.save hands the file to the host's store with Rust's cap", async () => {
  const { runtime, calls } = fakeRuntime();
  const file = path.join(state, "download.bin");
  fs.writeFileSync(file, "PNGDATA");
  const saved = await accountServices({}, ID, quiet)["media.save"]({ path: file, contentType: "image/png", fileName: null, maxBytes: 7 }, { runtime });
  assert.deepEqual(saved, { path: "/state/media/inbound/x.png" });
  assert.deepEqual(calls, [["saveMediaBuffer", { text: "PNGDATA", contentType: "image/png", direction: "inbound", maxBytes: 7, fileName: undefined }]]);
  await assert.rejects(accountServices({}, ID, quiet)["media.save"]({ path: path.join(state, "gone"), contentType: "image/png", maxBytes: 1 }, { runtime }), { code: "ENOENT" });
});

test("a turn builds its context from Rust's facts and the route, then records and dispatches, delivering every reply through Rust in order", async () => {
  const { runtime, calls } = fakeRuntime();
  const delivered = [];
  const deliver = async (handle, id, json) => {
    delivered.push([handle, id, JSON.parse(json)]);
    return { status: "sent", messageId: `m${delivered.length}`, parts: 1 };
  };
  const cfg = { session: { store: "s1" } };
  const facts = { channel: ID, accountId: "a", from: "alice", sender: { id: "alice" }, conversation: { kind: "direct", id: "alice" }, reply: { to: "alice" }, message: { rawBody: "hi", body: "hi" } };
  const args = {
    facts,
    route: { agentId: "main", sessionKey: "agent:main:x", mainSessionKey: "agent:main:main", dmScope: "per-peer" },
    peer: { kind: "direct", id: "alice" },
    accountId: "a",
  };
  const asked = [];
  const sessionRunning = async (where) => (asked.push(where), false);
  const done = await accountServices({}, ID, quiet, { deliver, sessionRunning }).turn(args, { runtime, cfg, handle: 5, id: 42 });
  const { dispatchedAtUs, ...outcome } = done;
  assert.deepEqual(outcome, { replies: 2, deferred: null, sessionRunning: false, heldBack: false });
  // When the host's dispatcher was called, for Rust's latency events: microseconds, wall clock.
  assert.ok(Math.abs(dispatchedAtUs - Date.now() * 1000) < 5e6, `dispatchedAtUs ${dispatchedAtUs}`);
  assert.deepEqual(asked, [{ store: "s1", sessionKey: "agent:main:x", agentId: "main" }]);
  assert.deepEqual(delivered, [
    [5, 42, { text: "one", kind: "block" }],
    [5, 42, { text: "two", mediaUrl: "/m/a.png", mediaUrls: ["/m/a.png", "/m/b.png"], kind: "final" }],
  ]);
  const [build, dispatch] = calls;
  assert.deepEqual(build, ["buildContext", { ...facts, route: { agentId: "main", dmScope: "per-peer", accountId: "a", routeSessionKey: "agent:main:x", mainSessionKey: "agent:main:main" } }]);
  assert.equal(dispatch[1].ctxPayload.built, true);
  assert.equal(dispatch[1].cfg, cfg);
  assert.deepEqual([dispatch[1].channel, dispatch[1].accountId], [ID, "a"]);
  assert.deepEqual(dispatch[1].route, { agentId: "main", dmScope: "per-peer", sessionKey: "agent:main:x" });
  assert.deepEqual(dispatch[1].record.updateLastRoute, { sessionKey: "agent:main:main", channel: ID, to: "alice", accountId: "a" });
  assert.deepEqual(dispatch[1].replyOptions, { disableBlockStreaming: true });
  assert.equal(calls.length, 2, "nothing else: no deprecated finalize or record calls");
});

test("a turn without a route resolves it for its route peer with the newest config, as it starts", async () => {
  const { runtime, calls } = fakeRuntime();
  runtime.routing.resolveAgentRoute = (query) => (calls.push(["resolveAgentRoute", query]), { agentId: "ops", sessionKey: "agent:ops:g", mainSessionKey: "agent:ops:main" });
  const newest = { session: { store: "s2" } };
  const args = {
    facts: { message: { rawBody: "hi", body: "hi" } },
    routePeer: { kind: "group", id: "g1@a" },
    peer: { kind: "group", id: "g1" },
    accountId: "a",
  };
  const asked = [];
  const deps = { deliver: async () => ({ status: "sent" }), sessionRunning: async (where) => (asked.push(where), false) };
  const api = { runtime: { config: { current: () => newest } } };
  await accountServices(api, ID, quiet, deps).turn(args, { runtime, cfg: { stale: true }, handle: 1, id: 1 });
  const [route, build, dispatch] = calls;
  assert.deepEqual(route, ["resolveAgentRoute", { cfg: newest, channel: ID, accountId: "a", peer: { kind: "group", id: "g1@a" } }]);
  assert.deepEqual(build[1].route, { agentId: "ops", dmScope: undefined, accountId: "a", routeSessionKey: "agent:ops:g", mainSessionKey: "agent:ops:main" });
  assert.deepEqual(asked, [{ store: "s2", sessionKey: "agent:ops:g", agentId: "ops" }]);
  assert.equal(dispatch[1].cfg, newest);
  assert.deepEqual(dispatch[1].record.updateLastRoute, { sessionKey: "agent:ops:main", channel: ID, to: "g1", accountId: "a" });
});

test("a turn the host takes into a busy session's active run comes back as deferred, with no replies", async () => {
  const { runtime } = fakeRuntime();
  runtime.inbound.dispatch = async () => ({ admission: { kind: "dispatch" }, dispatched: true, dispatchResult: { queuedFinal: false, counts: { tool: 0, block: 0, final: 0 }, deferredToActiveRun: "followup" } });
  const args = { facts: {}, route: { agentId: "main", sessionKey: "k", mainSessionKey: "k" }, peer: { kind: "direct", id: "p" }, accountId: "a" };
  const deps = { deliver: async () => assert.fail("nothing is delivered"), sessionRunning: async () => true };
  const done = await accountServices({}, ID, quiet, deps).turn(args, { runtime, cfg: {}, handle: 1, id: 1 });
  assert.deepEqual(done, { replies: 0, deferred: "followup", sessionRunning: true, heldBack: false, dispatchedAtUs: done.dispatchedAtUs });
});

test("a turn asks for blocks exactly when Rust says the account streams", async () => {
  for (const [blockStreaming, disableBlockStreaming] of [[true, false], [false, true], [undefined, true]]) {
    const { runtime, calls } = fakeRuntime();
    const args = { facts: {}, route: { agentId: "main", sessionKey: "k", mainSessionKey: "k" }, peer: { kind: "direct", id: "p" }, accountId: "a", blockStreaming };
    await accountServices({}, ID, quiet, { deliver: async () => ({ status: "sent" }), sessionRunning: async () => false }).turn(args, { runtime, cfg: {}, handle: 1, id: 1 });
    const dispatch = calls.find(([name]) => name === "dispatch");
    assert.deepEqual(dispatch[1].replyOptions, { disableBlockStreaming }, `blockStreaming ${blockStreaming}`);
  }
});

test("a turn the host declines (its echo or bot-loop checks) says so, with no replies", async () => {
  const { runtime } = fakeRuntime();
  runtime.inbound.dispatch = async () => ({ admission: { kind: "drop", reason: "echo" }, dispatched: false });
  const args = { facts: {}, route: { agentId: "main", sessionKey: "k", mainSessionKey: "k" }, peer: { kind: "direct", id: "p" }, accountId: "a" };
  const deps = { deliver: async () => assert.fail("nothing is delivered"), sessionRunning: async () => false };
  const done = await accountServices({}, ID, quiet, deps).turn(args, { runtime, cfg: {}, handle: 1, id: 1 });
  assert.deepEqual(done, { replies: 0, deferred: null, sessionRunning: false, heldBack: false, dispatchedAtUs: done.dispatchedAtUs, declined: "drop" });
});

test("a turn that asks for an idle session is held back, untouched, while the session has a run", async () => {
  const { runtime, calls } = fakeRuntime();
  const args = { facts: {}, route: { agentId: "main", sessionKey: "k", mainSessionKey: "k" }, peer: { kind: "direct", id: "p" }, accountId: "a", ifIdle: true };
  const deps = { deliver: async () => assert.fail("nothing is delivered"), sessionRunning: async () => true };
  const done = await accountServices({}, ID, quiet, deps).turn(args, { runtime, cfg: {}, handle: 1, id: 1 });
  assert.deepEqual(done, { replies: 0, deferred: null, sessionRunning: true, heldBack: true });
  assert.deepEqual(calls.map(([name]) => name), ["buildContext"], "neither recorded nor dispatched");
  const idle = await accountServices({}, ID, quiet, { deliver: async () => ({ status: "sent" }), sessionRunning: async () => false }).turn(args, { runtime, cfg: {}, handle: 1, id: 2 });
  assert.deepEqual(idle, { replies: 2, deferred: null, sessionRunning: false, heldBack: false, dispatchedAtUs: idle.dispatchedAtUs });
});

test("a host that cannot tell whether the session has a run says null, and the turn still runs", async () => {
  const { runtime } = fakeRuntime();
  const args = { facts: {}, route: { agentId: "main", sessionKey: "k", mainSessionKey: "k" }, peer: { kind: "direct", id: "p" }, accountId: "a" };
  // No openclaw package here: the real reader cannot load the host's session store.
  const done = await accountServices({}, ID, quiet, { deliver: async () => ({ status: "sent" }) }).turn(args, { runtime, cfg: {}, handle: 1, id: 1 });
  assert.deepEqual(done, { replies: 2, deferred: null, sessionRunning: null, heldBack: false, dispatchedAtUs: done.dispatchedAtUs });
});

test("a turn whose delivery fails rejects, and the host's failure reaches Rust as data", async () => {
  const { runtime } = fakeRuntime();
  const deliver = async () => {
    throw new ImbridgeError({ kind: "transient", code: null, message: "the account restarted", retryable: true, rpcCode: "UNAVAILABLE" });
  };
  const args = { facts: {}, route: { agentId: "main", sessionKey: "k", mainSessionKey: "k" }, peer: { kind: "direct", id: "p" }, accountId: "a" };
  await assert.rejects(accountServices({}, ID, quiet, { deliver, sessionRunning: async () => false }).turn(args, { runtime, cfg: {}, handle: 1, id: 1 }), { kind: "transient" });
  const broken = fakeRuntime({ inbound: { buildContext: () => { throw new TypeError("message.rawBody missing"); } } });
  await assert.rejects(accountServices({}, ID, quiet, { sessionRunning: async () => false }).turn(args, { runtime: broken.runtime, cfg: {}, handle: 1, id: 1 }), TypeError);
});

test("global.call and config.set use the process's globals and the host's config writer", async (t) => {
  const writes = [];
  let config = { channels: { [ID]: { accounts: { a: { token: "old" } } } } };
  const api = {
    runtime: {
      config: {
        current: () => config,
        mutateConfigFile: async ({ mutate, afterWrite }) => {
          const draft = structuredClone(config);
          await mutate(draft);
          config = draft;
          writes.push(afterWrite);
        },
      },
    },
  };
  const services = hostServices(api);
  globalThis.__imbridgeServicesTest = async (a, b) => ({ sum: a + b });
  t.after(() => delete globalThis.__imbridgeServicesTest);
  assert.deepEqual(await services["global.call"]({ name: "globalThis.__imbridgeServicesTest", args: [2, 3] }), { sum: 5 });
  assert.equal(await services["global.call"]({ name: "__imbridgeNoSuchFunction", args: [] }), null);
  globalThis.__imbridgeServicesTest = 7;
  await assert.rejects(services["global.call"]({ name: "__imbridgeServicesTest", args: [] }), /is not a function/);
  assert.equal(await services["config.set"]({ path: ["channels", ID, "accounts", "a", "token"], value: "new" }), null);
  assert.equal(config.channels[ID].accounts.a.token, "new");
  assert.equal(writes[0].mode, "none", "a value the channel already uses: no restart");
  await assert.rejects(services["config.set"]({ path: [], value: 1 }), /bad path/);
});

test("failures cross as {message, code}: a module's code is kept, anything else is dropped", () => {
  const nim = Object.assign(new Error("wrong token"), { code: 302 });
  assert.deepEqual(failureOf(nim), { message: "wrong token", code: 302 });
  assert.deepEqual(failureOf(Object.assign(new Error("x"), { code: "ENOENT" })), { message: "x", code: "ENOENT" });
  assert.deepEqual(failureOf(Object.assign(new Error("x"), { code: { nested: 1 } })), { message: "x", code: null });
  assert.deepEqual(failureOf("plain"), { message: "plain", code: null });
});

test("an answer to a session that is gone is dropped without throwing", async () => {
  const warnings = [];
  const log = { ...quiet, warn: (m) => warnings.push(m) };
  await answer(987654, { id: 1, op: "route" }, () => ({ agentId: "main" }), log);
  await answer(987654, { id: 2, op: "route" }, () => {
    throw new Error("router down");
  }, log);
  assert.deepEqual(warnings, []);
  assert.equal(native.respond(987654, 3, false, JSON.stringify({ message: "x", code: 1 })), false);
});

test("transport.open, .call and .close drive a module the descriptor declares, by the id Rust gave it", async () => {
  const dir = fs.mkdtempSync(path.join(state, "transports-"));
  fs.writeFileSync(
    path.join(dir, "echo.mjs"),
    `export function open({ options, emit }) {
       const seen = [];
       globalThis.__imbridgeEchoClosed = 0;
       return {
         async call(method, params) {
           if (method === "fail") throw Object.assign(new Error("refused"), { code: 417 });
           seen.push(method);
           return { method, params, options, seen: seen.length };
         },
         async close() { globalThis.__imbridgeEchoClosed += 1; },
       };
     }`,
  );
  process.env.IMBRIDGE_TRANSPORTS_DIR = dir;
  try {
    const d = { id: ID, transports: [{ name: "echo" }] };
    const transports = sessionTransports(d, 0, "test", quiet);
    const serve = transports.services;
    await assert.rejects(serve["transport.open"]({ id: 1, module: "other", options: {} }), /unknown transport module "other": multi-openim declares echo/);
    assert.equal(await serve["transport.open"]({ id: 1, module: "echo", options: { appKey: "k" } }), null);
    assert.deepEqual(await serve["transport.call"]({ id: 1, method: "send", params: { text: "hi" } }), {
      method: "send",
      params: { text: "hi" },
      options: { appKey: "k" },
      seen: 1,
    });
    const refused = await serve["transport.call"]({ id: 1, method: "fail", params: {} }).catch((err) => err);
    assert.deepEqual(failureOf(refused), { message: "refused", code: 417 }, "the module's code crosses apart from its text");
    await assert.rejects(serve["transport.call"]({ id: 2, method: "send" }), /transport 2 is not open/);
    assert.equal(await serve["transport.close"]({ id: 1 }), null);
    assert.equal(globalThis.__imbridgeEchoClosed, 1);
    await assert.rejects(serve["transport.call"]({ id: 1, method: "send" }), /transport 1 is not open/);
    // A module still open when its session ends is closed with it.
    await serve["transport.open"]({ id: 3, module: "echo", options: {} });
    await transports.closeAll();
    assert.equal(globalThis.__imbridgeEchoClosed, 1, "a fresh module instance counts from zero and was closed once");
  } finally {
    delete process.env.IMBRIDGE_TRANSPORTS_DIR;
    delete globalThis.__imbridgeEchoClosed;
  }
});

test("a session has a run while one is in flight or a restart cut one short, not when only its status says so", () => {
  assert.equal(hasRun(undefined), false);
  assert.equal(hasRun({ status: "done" }), false);
  assert.equal(hasRun({ status: "running", abortedLastRun: true }), true, "cut short, awaiting the host's recovery");
  assert.equal(hasRun({ status: "running", restartRecoveryDeliveryRunId: "r1" }), true, "a run in flight");
  assert.equal(hasRun({ status: "running", mainRestartRecovery: { cycleId: "c", reservation: { id: "x" } } }), true, "the recovery's run");
  // Measured in a gateway after two kills: a recovery cycle left with no run and no claim.
  assert.equal(hasRun({ status: "running", abortedLastRun: false, mainRestartRecovery: { cycleId: "c", revision: 3, chargedAttempts: 0 } }), false);
});
