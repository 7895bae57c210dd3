// The generic action and command machinery of the JS entry, against the debug addon's test-only
// `imbridge-testkit` channel: registration by mode, agent tools, gateway methods, host services
// (globalThis functions, config writes) for actions and running accounts, one native state per
// process, and a CLI command answered on a piped terminal.
//
// Build first: cargo build -p plugin-host --features weixin,testkit   (CI: --all-features)
// then: node --test crates/plugin-host/js/test/*.test.mjs
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const entryPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../index.js");
const state = fs.mkdtempSync(path.join(os.tmpdir(), "imbridge-actions-"));
// Everything this file writes (addon copies are 170 MB in a debug build) goes when it ends.
process.on("exit", () => fs.rmSync(state, { recursive: true, force: true }));
process.env.OPENCLAW_STATE_DIR = state;
const built = process.env.IMBRIDGE_ADDON ?? path.join(root, "target/debug/libplugin_host.so");
const addon = path.join(state, "imbridge.node");
fs.copyFileSync(built, addon);
process.env.IMBRIDGE_ADDON = addon;

const ID = "imbridge-testkit";
const entry = (await import("../index.js")).default;
const { native } = await import("../lib/native.js");
const descriptor = native.descriptor().channels.find((c) => c.id === ID);

// A fake OpenClaw plugin API that records what is registered and what is written.
function fakeApi(mode, config = {}) {
  const api = {
    registrationMode: mode,
    config,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    tools: [],
    methods: new Map(),
    clis: [],
    channels: [],
    writes: [],
    // OpenClaw builds a factory's tool per agent, with that agent's context.
    registerTool: (tool, opts) =>
      api.tools.push({ tool: typeof tool === "function" ? tool({ workspaceDir: "/agents/main/workspace" }) : tool, opts }),
    registerGatewayMethod: (name, handler, opts) => api.methods.set(name, { handler, opts }),
    registerCli: (registrar, opts) => api.clis.push({ registrar, opts }),
    registerChannel: ({ plugin }) => api.channels.push(plugin),
    runtime: {
      config: {
        current: () => api.config,
        mutateConfigFile: async ({ mutate, afterWrite }) => {
          const draft = structuredClone(api.config);
          await mutate(draft, {});
          api.config = draft;
          api.writes.push({ afterWrite, config: draft });
        },
      },
    },
  };
  return api;
}

const section = (accounts) => ({ channels: { [ID]: { accounts }, other: { keep: true } } });

test("the descriptor carries the testkit's actions and commands, as the list exports do", () => {
  assert.ok(descriptor, "build the addon with --features testkit");
  assert.deepEqual(native.listActions(ID), descriptor.actions);
  assert.deepEqual(native.listCommands(ID), descriptor.commands);
  const kinds = Object.fromEntries(descriptor.actions.map((a) => [a.name, [a.kind, a.optional]]));
  assert.deepEqual(kinds, {
    imbridge_testkit_send_text: ["tool", false],
    imbridge_testkit_refresh_token: ["tool", true],
    echo: ["gatewayMethod", false],
  });
  assert.equal(descriptor.actions[0].parameters.type, "object");
  assert.deepEqual(descriptor.commands[0].subcommands[0].options, [{ flags: "--account <id>", description: "The account to set up" }]);
  assert.throws(() => native.listActions("nope"), { name: "ImbridgeError", kind: "badInput", rpcCode: "INVALID_REQUEST", message: /^channel "nope" is not in this build/ });
});

test("each registration mode gets what OpenClaw expects of it", () => {
  const seen = {};
  for (const mode of ["full", "discovery", "tool-discovery", "cli-metadata", "setup-only", undefined]) {
    const api = fakeApi(mode);
    entry.register(api);
    seen[mode ?? "none"] = [api.tools.length, api.methods.size, api.clis.length, api.channels.length > 0];
  }
  // Every channel in this build counts: other channels may declare actions too.
  const all = native.descriptor().channels;
  const count = (pick) => all.reduce((n, c) => n + pick(c), 0);
  const tools = count((c) => (c.actions ?? []).filter((a) => a.kind === "tool").length);
  const methods = count((c) => (c.actions ?? []).filter((a) => a.kind === "gatewayMethod").length);
  const clis = count((c) => (c.commands ?? []).length);
  assert.ok(tools >= 2 && methods >= 1 && clis >= 1);
  assert.deepEqual(seen, {
    full: [tools, methods, clis, true],
    discovery: [0, 0, clis, true],
    "tool-discovery": [tools, 0, 0, false],
    "cli-metadata": [0, 0, clis, false],
    "setup-only": [0, 0, 0, true],
    none: [tools, methods, clis, true],
  });
  const api = fakeApi("full");
  entry.register(api);
  assert.ok(api.methods.has(`${ID}.echo`));
  const optional = api.tools.find((t) => t.tool.name === "imbridge_testkit_refresh_token");
  assert.deepEqual(optional.opts, { name: "imbridge_testkit_refresh_token", optional: true });
  const cli = api.clis.find((c) => c.opts.descriptors[0].name === ID);
  assert.deepEqual(cli.opts.descriptors, [{ name: ID, description: "Testkit accounts (tests only)", hasSubcommands: true }]);
});

test("a channel's tools reach the agent only where that channel is configured", () => {
  const api = fakeApi("full");
  const factories = [];
  api.registerTool = (factory, opts) => factories.push({ factory, opts });
  entry.register(api);
  const ours = factories.filter(({ opts }) => opts.name.startsWith("imbridge_testkit_"));
  assert.equal(ours.length, 2);
  for (const { factory, opts } of ours) {
    assert.equal(factory({ config: { channels: { other: {} } } }), null, opts.name);
    assert.equal(factory({ getRuntimeConfig: () => section({ a: {} }) })?.name, opts.name);
    assert.equal(factory({ runtimeConfig: section({}) })?.name, opts.name);
    // Discovery asks without a config: every tool is listed.
    assert.equal(factory({ workspaceDir: "/w" })?.name, opts.name);
  }
});

test("a tool calls the operator's global function and saves the token without a restart", async (t) => {
  const api = fakeApi("full", section({ a1: { token: "old", url: "http://x" } }));
  entry.register(api);
  const tool = api.tools.find((x) => x.tool.name === "imbridge_testkit_refresh_token").tool;
  const calls = [];
  globalThis.__imbridgeTestkitRefresher = async (accountId, reason) => {
    calls.push([accountId, reason]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { token: `fresh-${accountId}` };
  };
  t.after(() => delete globalThis.__imbridgeTestkitRefresher);

  const result = await tool.execute("call-1", { accountId: "a1", reason: "expired" });
  assert.deepEqual(result.details, { refreshed: true, accountId: "a1" });
  assert.equal(JSON.parse(result.content[0].text).refreshed, true);
  assert.ok(!JSON.stringify(result).includes("fresh-a1"), "the token never goes back to the model");
  assert.deepEqual(calls, [["a1", "expired"]]);
  assert.equal(api.writes.length, 1);
  assert.equal(api.writes[0].afterWrite.mode, "none");
  assert.deepEqual(api.config.channels[ID].accounts.a1, { token: "fresh-a1", url: "http://x" });
  assert.deepEqual(api.config.channels.other, { keep: true });

  delete globalThis.__imbridgeTestkitRefresher;
  await assert.rejects(tool.execute("call-2", { accountId: "a1" }), { kind: "needsLogin", message: /__imbridgeTestkitRefresher is not set/ });
  globalThis.__imbridgeTestkitRefresher = () => {
    throw new Error("refresher is down");
  };
  await assert.rejects(tool.execute("call-3", { accountId: "a1" }), /refresher is down/);
  globalThis.__imbridgeTestkitRefresher = 42;
  await assert.rejects(tool.execute("call-4", { accountId: "a1" }), /is not a function/);
  await assert.rejects(tool.execute("call-5", { accountId: 7 }), (err) => {
    assert.equal(err.kind, "badInput");
    assert.match(err.message, /^imbridge_testkit_refresh_token\.accountId/);
    // OpenClaw passes a ToolInputError's message to the caller instead of a generic failure.
    assert.equal(err.name, "ToolInputError");
    return true;
  });
  await assert.rejects(tool.execute("call-6", { accountId: "a1" }), (err) => err.name !== "ToolInputError");
  assert.equal(api.writes.length, 1, "nothing written by failed calls");
});

test("a gateway method answers through respond, errors with a protocol code", async () => {
  const api = fakeApi("full", section({}));
  entry.register(api);
  const { handler } = api.methods.get(`${ID}.echo`);
  const call = async (params) => {
    const answers = [];
    await handler({ params, respond: (...args) => answers.push(args) });
    assert.equal(answers.length, 1);
    return answers[0];
  };
  const [ok, payload] = await call({ accountId: "a9", method: "friend.add", params: { userID: "u1" } });
  assert.equal(ok, true);
  assert.deepEqual(payload, { accountId: "a9", method: "friend.add", params: { userID: "u1" }, running: false });
  const [failed, none, error] = await call({ method: "x" });
  assert.equal(failed, false);
  assert.equal(none, undefined);
  assert.deepEqual(Object.keys(error), ["code", "message"], "not retryable");
  assert.equal(error.code, "INVALID_REQUEST");
  assert.match(error.message, /imbridge-testkit\.echo.*accountId/);
});

// Starts account `accountId` through a channel the way the gateway does; returns its stop.
async function startAccount(channel, cfg, accountId) {
  const abort = new AbortController();
  const statuses = [];
  const ctx = {
    cfg,
    accountId,
    abortSignal: abort.signal,
    getStatus: () => statuses.at(-1) ?? {},
    setStatus: (s) => statuses.push(s),
  };
  const running = channel.gateway.startAccount(ctx);
  const deadline = Date.now() + 5000;
  while (!statuses.some((s) => s.connected) && Date.now() < deadline) {
    const last = statuses.at(-1);
    if (last?.lifecycle === "blocked") throw new Error(`blocked: ${last.lastError}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(statuses.some((s) => s.connected), `not connected: ${JSON.stringify(statuses)}`);
  return async () => {
    abort.abort();
    await running;
  };
}

test("a running account reaches the same host services (refresh on start)", async (t) => {
  const cfg = section({ a2: { token: "old", refreshOnStart: true } });
  const api = fakeApi("full", cfg);
  entry.register(api);
  globalThis.__imbridgeTestkitRefresher = (accountId, reason) => `tok-${accountId}-${reason}`;
  t.after(() => delete globalThis.__imbridgeTestkitRefresher);
  const stop = await startAccount(api.channels.find((c) => c.id === ID), cfg, "a2");
  try {
    assert.equal(api.config.channels[ID].accounts.a2.token, "tok-a2-start");
    assert.equal(api.writes[0].afterWrite.mode, "none");
  } finally {
    await stop();
  }
});

test("an evaluation from a copy of the package shares the native state: tools reach live accounts", async () => {
  const cfg = section({ live: { token: "t" } });
  const first = fakeApi("full", cfg);
  entry.register(first);
  const stop = await startAccount(first.channels.find((c) => c.id === ID), cfg, "live");
  try {
    // The gateway loading the plugin again from a temporary copy of the package: other paths to
    // the entry, its modules and the addon.
    const dir = fs.mkdtempSync(path.join(state, "copy-"));
    fs.cpSync(path.dirname(entryPath), dir, { recursive: true, filter: (from) => !from.includes(`${path.sep}test`) });
    const copy = path.join(dir, "imbridge.node");
    fs.copyFileSync(addon, copy);
    process.env.IMBRIDGE_ADDON = copy;
    const again = (await import(pathToFileURL(path.join(dir, "index.js")).href)).default;
    const second = fakeApi("tool-discovery", cfg);
    again.register(second);
    const send = second.tools.find((x) => x.tool.name === "imbridge_testkit_send_text").tool;
    const sent = await send.execute("call-1", { accountId: "live", to: "peer", text: "hello" });
    assert.match(sent.details.messageId, /^live-\d+$/);
    // The calling agent's workspace, and the host's media store once there is a runtime for it.
    assert.deepEqual(sent.details.mediaRoots, ["/agents/main/workspace"]);

    // Without the process-wide addon, the copy would have its own statics and no live account.
    const separate = createRequire(import.meta.url)(copy);
    const ok = (text) => JSON.parse(text).ok;
    const handle = ok(await separate.startAction(ID, JSON.stringify(cfg.channels[ID]), "imbridge_testkit_send_text", JSON.stringify({ accountId: "live", to: "p", text: "x" })));
    const event = await new Promise((resolve) => {
      separate.listen(handle, (json) => {
        const heard = json == null ? null : JSON.parse(json);
        if (heard?.type !== "request") resolve(heard);
      });
    });
    separate.release(handle);
    assert.equal(event.type, "stopped");
    assert.match(event.error.message, /not running in this process/);
  } finally {
    process.env.IMBRIDGE_ADDON = addon;
    await stop();
  }
});

test("unknown actions and commands are refused up front, naming them", async () => {
  await assert.rejects(native.startAction(ID, "{}", "nope", "{}"), { kind: "badInput", message: /^imbridge-testkit: unknown action "nope"/ });
  await assert.rejects(native.startCommand(ID, "{}", ID, "teardown", "{}"), { kind: "badInput", message: /^imbridge-testkit: unknown command imbridge-testkit teardown/ });
});

// The CLI process: a fake commander program, the registrar, and the subcommand's action with
// answers piped into stdin. Runs in a child so the terminal is its own.
const CLI_SCRIPT = `
const { default: entry } = await import(process.env.ENTRY);
const fs = await import("node:fs");
const configFile = process.env.CONFIG_FILE;
let config = JSON.parse(fs.readFileSync(configFile, "utf8"));
const make = (name) => {
  const c = { name, children: [], options: [] };
  c.command = (n) => { const k = make(n); c.children.push(k); return k; };
  c.description = (d) => { c.desc = d; return c; };
  c.option = (flags, d) => { c.options.push(flags); return c; };
  c.action = (fn) => { c.run = fn; return c; };
  return c;
};
const clis = [];
entry.register({
  registrationMode: "full",
  config,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  registerCli: (registrar, opts) => clis.push({ registrar, opts }),
  registerChannel() {}, registerTool() {}, registerGatewayMethod() {},
  runtime: { config: {
    current: () => config,
    mutateConfigFile: async ({ mutate, afterWrite }) => {
      const draft = structuredClone(config);
      await mutate(draft, {});
      config = draft;
      fs.writeFileSync(configFile, JSON.stringify({ afterWrite, config }));
    },
  } },
});
const program = make("openclaw");
for (const { registrar } of clis) await registrar({ program, config, parentPath: [] });
const root = program.children.find((c) => c.name === process.env.COMMAND);
const sub = root.children.find((c) => c.name === "setup");
const options = JSON.parse(process.env.OPTIONS);
await sub.run(options, { opts: () => options });
`;

function runCli(options, input, config) {
  const dir = fs.mkdtempSync(path.join(state, "cli-"));
  const configFile = path.join(dir, "openclaw.json");
  fs.writeFileSync(configFile, JSON.stringify(config));
  const child = spawn(process.execPath, ["--input-type=module", "-e", CLI_SCRIPT], {
    env: { ...process.env, ENTRY: entryPath, CONFIG_FILE: configFile, COMMAND: ID, OPTIONS: JSON.stringify(options) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  child.stdin.end(input);
  return new Promise((resolve) => {
    child.on("exit", (code) => resolve({ code, stdout, stderr, written: JSON.parse(fs.readFileSync(configFile, "utf8")) }));
  });
}

test("a command asks on the terminal, saves its config edits, then prints its text", async () => {
  const config = section({ a3: { url: "http://old", dmPolicy: "open" } });
  const run = await runCli({}, "a3\n\nt0k3n\n", config);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Account id \[default\]: /);
  assert.match(run.stdout, /Server URL \[http:\/\/old\]: /, "the current value is the default");
  assert.match(run.stdout, /Token: /);
  assert.match(run.stdout, /Account a3 on http:\/\/old\nSaved imbridge-testkit account a3\.\n$/);
  assert.ok(!run.stdout.includes("t0k3n"), "the token is not printed");
  assert.equal(run.written.afterWrite.mode, "auto", "a running gateway picks the account up");
  assert.deepEqual(run.written.config.channels[ID].accounts.a3, { url: "http://old", dmPolicy: "open", token: "t0k3n" });
  assert.deepEqual(run.written.config.channels.other, { keep: true });
});

test("a command with its option set skips that question; closed input fails it without a write", async () => {
  const config = section({});
  const ok = await runCli({ account: "given" }, "http://new\nsecret\n", config);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(!ok.stdout.includes("Account id"), ok.stdout);
  assert.deepEqual(ok.written.config.channels[ID].accounts.given, { url: "http://new", token: "secret" });

  const closed = await runCli({ account: "given" }, "http://new\n", config);
  assert.notEqual(closed.code, 0);
  assert.match(closed.stderr, /no answer to "Token": input closed/);
  assert.deepEqual(closed.written, config, "nothing saved");
});
