// The JS entry against the debug addon, without a gateway: loading, the descriptor-built
// ChannelPlugin, and Rust panics surfacing as JS errors while the process lives on.
//
// Build first: cargo build -p plugin-host -p imsim --features weixin,testkit   (CI: --all-features)
// then: node --test crates/plugin-host/js/test/*.test.mjs
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const state = fs.mkdtempSync(path.join(os.tmpdir(), "imbridge-js-"));
// Everything this file writes (addon copies are 170 MB in a debug build) goes when it ends.
process.on("exit", () => fs.rmSync(state, { recursive: true, force: true }));
process.env.OPENCLAW_STATE_DIR = state;
// The login speaks the person's language; these tests read its English.
delete process.env.LC_ALL;
delete process.env.LC_MESSAGES;
process.env.LANG = "C.UTF-8";
// Loaded once, through require's cache, by the entry and by these tests alike.
const addon = path.join(state, "imbridge.node");
fs.copyFileSync(process.env.IMBRIDGE_ADDON ?? path.join(root, "target/debug/libplugin_host.so"), addon);
process.env.IMBRIDGE_ADDON = addon;
const { native } = await import("../lib/native.js");
const { eventsOf } = await import("../lib/session.js");

const entry = (await import("../index.js")).default;
const registered = [];
const logged = [];
const logger = Object.fromEntries(["debug", "info", "warn", "error"].map((level) => [level, (m) => logged.push([level, m])]));
entry.register({ registerChannel: ({ plugin }) => registered.push(plugin), logger, registrationMode: "full" });
const weixin = registered.find((p) => p.id === "openclaw-weixin");

test("the entry registers every channel the addon links", () => {
  assert.equal(entry.id, "imbridge");
  assert.ok(weixin, `channels: ${registered.map((p) => p.id)}`);
  assert.deepEqual(weixin.capabilities.chatTypes, ["direct"]);
  assert.equal(weixin.outbound.deliveryMode, "gateway");
  assert.equal(typeof weixin.gateway.startAccount, "function");
  // WeChat's blocks are few and full: each spends a send of the peer's window.
  assert.deepEqual(weixin.streaming, { blockStreamingCoalesceDefaults: { minChars: 1000, idleMs: 2000 } });
  assert.equal(weixin.capabilities.blockStreaming, true);
});

test("accounts come from the Tencent-layout state and config", () => {
  const dir = path.join(state, "openclaw-weixin");
  fs.mkdirSync(path.join(dir, "accounts"), { recursive: true });
  fs.writeFileSync(path.join(dir, "accounts.json"), JSON.stringify(["b0f5860fdecb-im-bot"]));
  fs.writeFileSync(path.join(dir, "accounts/b0f5860fdecb-im-bot.json"), JSON.stringify({ token: "t0k3n", userId: "Owner@im.wechat" }));
  const cfg = { channels: { "openclaw-weixin": { dmPolicy: "allowlist", allowFrom: ["a@im.wechat"], accounts: { other: {} } } } };
  assert.deepEqual(weixin.config.listAccountIds(cfg), ["b0f5860fdecb-im-bot"], "config entries only adjust logged-in accounts");
  const account = weixin.config.resolveAccount(cfg, "b0f5860fdecb-im-bot");
  assert.equal(account.configured, true);
  assert.ok(!JSON.stringify(account).includes("t0k3n"), "no token in the resolved account");
  assert.equal(weixin.config.resolveAccount(cfg, "other").configured, false);
  const dm = weixin.security.resolveDmPolicy({ cfg, accountId: "b0f5860fdecb-im-bot" });
  assert.equal(dm.policy, "allowlist");
  assert.deepEqual(dm.allowFrom, ["a@im.wechat"]);
  assert.equal(dm.policyPath, "channels.openclaw-weixin.dmPolicy");
});

test("bad config keeps the accounts listed and names the field on each, without throwing", () => {
  const cfg = { channels: { "openclaw-weixin": { dmPolicy: "sometimes" } } };
  assert.doesNotThrow(() => weixin.config.listAccountIds(cfg));
  const account = weixin.config.resolveAccount(cfg, "b0f5860fdecb-im-bot");
  assert.equal(account.configured, false);
  assert.match(weixin.config.unconfiguredReason(account), /channels\.openclaw-weixin\.dmPolicy/);
});

test("channels add: the package's other channels are in the user catalog with their flags", () => {
  const catalog = JSON.parse(fs.readFileSync(path.join(state, "plugins/catalog.json"), "utf8"));
  const plugin = native.descriptor();
  const expected = plugin.channels.map((c) => c.id).filter((id) => id !== plugin.packageChannel);
  assert.deepEqual(catalog.entries.map((e) => e.openclaw.channel.id).sort(), expected.sort());
  for (const entry of catalog.entries) {
    assert.equal(entry.openclaw.plugin.id, "imbridge");
    assert.equal(entry.openclaw.install.npmSpec, plugin.package);
  }
  const weixinEntry = catalog.entries.find((e) => e.openclaw.channel.id === "openclaw-weixin");
  if (weixinEntry) assert.deepEqual(weixinEntry.openclaw.channel.setup.fields, [], "WeChat accounts come from the QR login");
});

test("channels add: Rust types the flags, writes the account, keeps the rest, and refuses what could not start", { skip: !registered.some((p) => p.id === "multi-openim") }, () => {
  const openim = registered.find((p) => p.id === "multi-openim");
  const flags = Object.fromEntries(native.descriptor().channels.find((c) => c.id === "multi-openim").catalog.setup.fields.map((f) => [f.key, f]));
  assert.equal(flags.token.sensitive, true);
  assert.equal(flags.wsAddr.cli.flags, "--ws-addr <value>");
  assert.equal(flags.userId.cli.flags, "--user-id <value>");
  assert.equal(openim.setup.configPromotion, "preserve-root");
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const token = `${b64({ alg: "HS256" })}.${b64({ UserID: "bot-b", PlatformID: 5 })}.c2ln`;
  const cfg = { gateway: { port: 1 }, channels: { "multi-openim": { requireMention: true, accounts: { a: { token: "x" } } } } };
  const input = { token, wsAddr: "ws://127.0.0.1:10001", apiAddr: "http://127.0.0.1:10002", allowFrom: "u1, u2" };
  assert.equal(openim.setup.validateInput({ cfg, accountId: "team-b", input }), null);
  const next = openim.setup.applyAccountConfig({ cfg, accountId: "team-b", input });
  assert.deepEqual(next.channels["multi-openim"].accounts["team-b"], {
    enabled: true, token, wsAddr: input.wsAddr, apiAddr: input.apiAddr, allowFrom: ["u1", "u2"],
  });
  assert.deepEqual(next.channels["multi-openim"].accounts.a, { token: "x" });
  assert.equal(next.channels["multi-openim"].requireMention, true);
  assert.deepEqual(next.gateway, cfg.gateway);
  // A typical mistake: the REST address given as the WebSocket one.
  const wrong = openim.setup.validateInput({ cfg, accountId: "team-b", input: { ...input, wsAddr: "http://127.0.0.1:10002" } });
  assert.match(wrong, /team-b.*could not start.*wsAddr/);
  assert.ok(!wrong.includes(token), "no token in the message");
  assert.match(openim.setup.validateInput({ cfg, accountId: "team-b", input: { ...input, secret: "s" } }), /no setup option "secret"/);
  assert.match(openim.setup.validateInput({ cfg, accountId: "team-c", input: { wsAddr: input.wsAddr } }), /could not start.*token/);
});

test("targets keep their spelling past the prefixes", () => {
  assert.equal(weixin.messaging.normalizeTarget("user:AbC@im.wechat"), "AbC@im.wechat");
  assert.equal(weixin.messaging.targetResolver.looksLikeId("openclaw-weixin:x@im.wechat"), true);
  assert.equal(weixin.messaging.targetResolver.looksLikeId("   "), false);
});

test("sending to a peer that never wrote is refused with a reason", async () => {
  const cfg = { channels: { "openclaw-weixin": {} } };
  await assert.rejects(
    weixin.outbound.sendText({ cfg, accountId: "b0f5860fdecb-im-bot", to: "stranger@im.wechat", text: "hi" }),
    { kind: "badInput", message: /no conversation with stranger@im\.wechat/ },
  );
});

test("a Rust panic reaches JS as an error and the process lives on", async () => {
  assert.throws(() => native.debugPanicSync(), { kind: "permanent", message: /^internal error \(panic\)/ });
  await assert.rejects(native.debugPanicAsync(), { kind: "permanent", message: /^internal error \(panic\)/ });
  assert.ok(native.descriptor().channels.length > 0, "the addon still answers");
});

test("Rust logs reach the host's logger, not stderr", async () => {
  // An account that never logged in stops at once, and says why in the log.
  const handle = await native.startAccount("openclaw-weixin", "never-logged-in", "{}");
  let event;
  const stream = eventsOf(handle);
  do event = (await stream.next()).find((e) => e.type === "stopped");
  while (!event);
  assert.equal(event.error.kind, "needsLogin");
  native.release(handle);
  await new Promise((resolve) => setTimeout(resolve, 600));
  const line = logged.find(([level, m]) => level === "warn" && m.includes("never-logged-in") && m.includes("needsLogin"));
  assert.ok(line, `no forwarded warning in ${JSON.stringify(logged)}`);
  assert.ok(line[1].startsWith("[imbridge] "), line[1]);
});

// The Control UI's login path (gateway.loginWithQrStart/Wait) against the iLink simulator.
test("a Control UI login shows a PNG QR code, connects, and reloads the channel", async (t) => {
  const { spawn } = await import("node:child_process");
  const imsim = path.join(root, "target/debug/imsim");
  assert.ok(fs.existsSync(imsim), "build the simulator first: cargo build -p imsim");
  const sim = spawn(imsim, ["--qr-hold-ms", "200", "--hold-ms", "500"], { stdio: ["ignore", "pipe", "ignore"] });
  t.after(() => sim.kill("SIGTERM"));
  const ready = await new Promise((resolve, reject) => {
    sim.stdout.once("data", (chunk) => resolve(JSON.parse(String(chunk).split("\n")[0])));
    sim.once("exit", (code) => reject(new Error(`imsim exited with ${code}`)));
  });
  await fetch(`${ready.ilink}_admin/qr/script`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ script: "confirm" }) });

  const mutations = [];
  const cfg = { channels: { "openclaw-weixin": { loginBaseUrl: ready.ilink } } };
  const api = {
    registerChannel: ({ plugin }) => uiRegistered.push(plugin),
    logger,
    registrationMode: "full",
    runtime: {
      config: {
        current: () => cfg,
        mutateConfigFile: async ({ mutate }) => {
          const draft = structuredClone(cfg);
          mutate(draft);
          mutations.push(draft);
        },
      },
    },
  };
  const uiRegistered = [];
  (await import(`../index.js?ui=${Date.now()}`)).default.register(api);
  const channel = uiRegistered.find((p) => p.id === "openclaw-weixin");

  const before = channel.config.listAccountIds(cfg);
  const started = await channel.gateway.loginWithQrStart({ timeoutMs: 10000 });
  assert.match(started.qrDataUrl ?? "", /^data:image\/png;base64,/);
  assert.ok(started.sessionKey);
  const done = await channel.gateway.loginWithQrWait({ sessionKey: started.sessionKey, timeoutMs: 20000, currentQrDataUrl: started.qrDataUrl });
  assert.equal(done.connected, true, done.message);
  assert.match(done.message, /Logged in/);
  assert.ok(mutations.some((m) => m.channels["openclaw-weixin"].channelConfigUpdatedAt), "the channel config was touched");
  const added = channel.config.listAccountIds(cfg).filter((a) => !before.includes(a));
  assert.equal(added.length, 1, "one new account");
  const logout = await channel.gateway.logoutAccount({ cfg, accountId: added[0] });
  assert.deepEqual(logout, { cleared: true, loggedOut: true });
  assert.deepEqual(channel.config.listAccountIds(cfg), before);
});

test("answers for an account that already stopped are dropped quietly, replies are refused with a reason", async () => {
  const handle = await native.startAccount("openclaw-weixin", "never-logged-in", "{}");
  let event;
  const stream = eventsOf(handle);
  do event = (await stream.next()).find((e) => e.type === "stopped");
  while (!event);
  native.release(handle);
  // A host call that finishes after a restart must not throw (it would be an unhandled rejection).
  assert.equal(native.respond(handle, 1, true, "null"), false);
  await assert.rejects(native.deliver(handle, 1, JSON.stringify({ text: "late" })), { kind: "transient", retryable: true, message: /restarted during turn 1.*runs again/ });
});
