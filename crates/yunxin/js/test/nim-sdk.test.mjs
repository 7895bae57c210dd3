// The `sdk` transport against the stub SDK: login outcomes and their event sequences, a kick,
// inbound messages reduced to plain JSON, sends and their failures, close(), and the stub's
// cross-process mode. Run: node --test crates/yunxin/js/test/
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";

import { open } from "../nim-sdk.mjs";
import { stub } from "./stub-sdk.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const STUB = new URL("./stub-sdk.mjs", import.meta.url).href;
const ADAPTER = new URL("../nim-sdk.mjs", import.meta.url).href;
const TOKEN = "s3cr3t-t0ken-value";
const tick = (ms = 10) => new Promise((resolve) => setTimeout(resolve, ms));

// Anything unhandled fails the test it happened in.
const unhandled = [];
process.on("unhandledRejection", (err) => unhandled.push(err));
process.on("uncaughtException", (err) => unhandled.push(err));

const open_ = [];
beforeEach(() => {
  stub.reset();
  stub.setAccounts({ bot1: TOKEN });
});
afterEach(async () => {
  for (const t of open_.splice(0)) await t.close();
  await tick(20);
  assert.deepEqual(unhandled.splice(0), [], "no unhandled rejection or exception");
});

// A transport on the stub, with what it emitted and logged.
async function start({ emit, options = {} } = {}) {
  const events = [];
  const logs = [];
  const log = Object.fromEntries(["debug", "info", "warn", "error"].map((level) => [level, (text) => logs.push([level, text])]));
  const transport = await open({
    options: { sdkModule: STUB, appKey: "appkey-1", lbsUrls: ["http://127.0.0.1:9/lbs"], linkUrl: "127.0.0.1:9", ...options },
    emit: (event, payload) => {
      events.push([event, payload]);
      return emit?.(event, payload);
    },
    log,
  });
  open_.push(transport);
  return { transport, events, logs, of: (name) => events.filter(([e]) => e === name).map(([, p]) => p) };
}

async function loggedIn(extra) {
  const t = await start(extra);
  assert.deepEqual(await t.transport.call("login", { accountId: "bot1", token: TOKEN }), {});
  await tick();
  t.events.length = 0;
  return t;
}

function assertNoToken(t, ...more) {
  const seen = JSON.stringify([t.events, t.logs, ...more.map((e) => (e instanceof Error ? [e.message, e.code] : e))]);
  assert.ok(!seen.includes(TOKEN), "the token never leaves the transport");
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

test("login resolves after the SDK's login, with the success sequence and aiBot 2", async () => {
  const t = await start();
  assert.deepEqual(await t.transport.call("status", {}), { loginStatus: 0, connectStatus: 0 });
  assert.deepEqual(await t.transport.call("login", { accountId: "bot1", token: TOKEN }), {});
  assert.deepEqual(
    t.events.map(([e, p]) => [e, p]),
    [
      ["loginStatus", 2],
      ["connectStatus", 2],
      ["connectStatus", 1],
      ["loginStatus", 1],
    ],
    "login resolves once loginStatus is 1",
  );
  await tick();
  assert.deepEqual(t.of("dataSync"), [
    { type: 1, state: 2 },
    { type: 1, state: 3 },
  ]);
  assert.deepEqual(await t.transport.call("status", {}), { loginStatus: 1, connectStatus: 1 });
  assert.equal(stub.logins.length, 1);
  assert.deepEqual(stub.logins[0].option, { aiBot: 2 });
  // The SDK was built the way the Node edition expects, with the private endpoints.
  const { options, otherOptions } = stub.constructed.at(-1);
  assert.deepEqual(options, { appkey: "appkey-1", apiVersion: "v2", debugLevel: "off" });
  assert.deepEqual(otherOptions.V2NIMLoginServiceConfig, { lbsUrls: ["http://127.0.0.1:9/lbs"], linkUrl: "127.0.0.1:9" });
  assert.equal(otherOptions.reporterConfig.enableCompass, false);
  assert.equal(otherOptions.abtestConfig.isAbtestEnable, false);
  assertNoToken(t);
});

test("login options reach the SDK: aiBot, timeout, retryCount; a ws:// link turns TLS off", async () => {
  const t = await start({ options: { linkUrl: "ws://127.0.0.1:9/" } });
  await t.transport.call("login", { accountId: "bot1", token: TOKEN, aiBot: 0, timeoutMs: 5000, retryCount: 1 });
  assert.deepEqual(stub.logins[0].option, { aiBot: 0, timeout: 5000, retryCount: 1 });
  assert.deepEqual(stub.constructed.at(-1).otherOptions.V2NIMLoginServiceConfig, {
    lbsUrls: ["http://127.0.0.1:9/lbs"],
    linkUrl: "127.0.0.1:9",
    linkSSL: false,
  });
});

test("a bad token rejects with 302 once, without a retry storm, and the token stays secret", async () => {
  const t = await start();
  const err = await rejection(t.transport.call("login", { accountId: "bot1", token: "wrong-token" }));
  assert.ok(err instanceof Error);
  assert.equal(err.code, 302);
  assert.deepEqual([err.code, err.message], [302, "The user name or password is incorrect."]);
  assert.deepEqual(t.events, [
    ["loginStatus", 2],
    ["connectStatus", 2],
    ["connectStatus", 1],
    ["loginStatus", 0],
    ["connectStatus", 0],
    ["disconnected", { code: 302, desc: "The user name or password is incorrect." }],
    ["loginFailed", { code: 302, desc: "The user name or password is incorrect." }],
  ]);
  await tick(200);
  assert.equal(stub.logins.length, 1, "one login attempt: the transport does not retry");
  assert.deepEqual(await t.transport.call("status", {}), { loginStatus: 0, connectStatus: 0 });
  assert.ok(!JSON.stringify(t.logs).includes("wrong-token"));
});

test("an SDK error that quotes the token is scrubbed in the rejection, the events and the logs", async () => {
  const t = await start();
  stub.failNextLogin(102302, { desc: `invalid token ${TOKEN}` });
  const err = await rejection(t.transport.call("login", { accountId: "bot1", token: TOKEN }));
  assert.equal(err.code, 102302);
  assert.deepEqual([err.code, err.message], [102302, "invalid token ***"]);
  assert.deepEqual(t.of("loginFailed"), [{ code: 102302, desc: "invalid token ***" }]);
  assertNoToken(t, err);
});

test("a connect failure follows the SDK's sequence and rejects with 192001", async () => {
  const t = await start();
  stub.failNextLogin(192001);
  const err = await rejection(t.transport.call("login", { accountId: "bot1", token: TOKEN, retryCount: 0 }));
  assert.equal(err.code, 192001);
  assert.deepEqual([err.code, err.message], [192001, "connect failed"]);
  assert.deepEqual(t.events, [
    ["loginStatus", 2],
    ["connectStatus", 2],
    ["loginStatus", 3],
    ["connectStatus", 0],
    ["connectFailed", { code: 192001, desc: "connect failed" }],
    ["loginStatus", 0],
  ]);
  assert.equal(stub.logins.length, 1);
});

test("a login refused because of the multi-login rule rejects with 417", async () => {
  const t = await start();
  stub.failNextLogin(417);
  const err = await rejection(t.transport.call("login", { accountId: "bot1", token: TOKEN }));
  assert.equal(err.code, 417);
  assert.deepEqual(t.of("loginFailed"), [{ code: 417, desc: "multi login forbidden" }]);
});

test("a kick is emitted with its payload, after the link goes down", async () => {
  const t = await loggedIn();
  assert.equal(stub.kick("bot1", { reason: 1, reasonDesc: "logged in elsewhere", clientType: 1 }), 1);
  assert.deepEqual(t.events, [
    ["loginStatus", 0],
    ["connectStatus", 0],
    ["disconnected", { code: 192003, desc: "disconnect" }],
    ["kickedOffline", { reason: 1, reasonDesc: "logged in elsewhere", clientType: 1, customClientType: 0 }],
  ]);
  assert.deepEqual(await t.transport.call("status", {}), { loginStatus: 0, connectStatus: 0 });
});

test("a lost link that comes back is emitted as the SDK's reconnect sequence", async () => {
  const t = await loggedIn();
  assert.equal(await stub.drop("bot1"), 1);
  assert.deepEqual(t.events, [
    ["loginStatus", 3],
    ["connectStatus", 0],
    ["disconnected", { code: 192003, desc: "disconnect" }],
    ["connectStatus", 3],
    ["loginStatus", 2],
    ["connectStatus", 2],
    ["connectStatus", 1],
    ["loginStatus", 1],
  ]);
});

test("an inbound P2P text arrives as receiveMessages with the reduced fields only", async () => {
  const t = await loggedIn();
  stub.deliver(
    "bot1",
    stub.p2pText({ from: "alice", to: "bot1", text: "hello", senderName: "Alice", messageClientId: "c-1", messageServerId: "900001", createTime: 1_700_000_000_000 }),
  );
  const [batch] = t.of("receiveMessages");
  assert.deepEqual(batch, [
    {
      messageClientId: "c-1",
      messageServerId: "900001",
      createTime: 1_700_000_000_000,
      senderId: "alice",
      senderName: "Alice",
      receiverId: "bot1",
      conversationType: 1,
      conversationId: "bot1|1|alice",
      messageType: 0,
      text: "hello",
      isSelf: false,
      messageSource: 1,
    },
  ]);
  assert.deepEqual(JSON.parse(JSON.stringify(batch)), batch, "plain JSON");
});

test("an inbound P2P image keeps its attachment's fields, not the SDK's internals", async () => {
  const t = await loggedIn();
  stub.deliver(
    "bot1",
    stub.p2pImage({
      from: "alice",
      to: "bot1",
      url: "https://nos.example/img.png",
      name: "img.png",
      width: 800,
      height: 600,
      size: 2048,
      md5: "d41d8cd98f00b204e9800998ecf8427e",
      ext: ".png",
      messageClientId: "c-2",
      messageServerId: "900002",
      createTime: 1_700_000_000_001,
    }),
  );
  const [[message]] = t.of("receiveMessages");
  assert.deepEqual(message, {
    messageClientId: "c-2",
    messageServerId: "900002",
    createTime: 1_700_000_000_001,
    senderId: "alice",
    receiverId: "bot1",
    conversationType: 1,
    conversationId: "bot1|1|alice",
    messageType: 1,
    attachment: {
      raw: JSON.stringify({ url: "https://nos.example/img.png", name: "img.png", w: 800, h: 600, size: 2048, md5: "d41d8cd98f00b204e9800998ecf8427e", ext: "png" }),
      size: 2048,
      md5: "d41d8cd98f00b204e9800998ecf8427e",
      url: "https://nos.example/img.png",
      name: "img.png",
      ext: ".png",
      width: 800,
      height: 600,
    },
    isSelf: false,
    messageSource: 1,
  });
});

test("team mentions, thread references and offline messages come through", async () => {
  stub.deliver("bot1", stub.p2pText({ from: "bob", to: "bot1", text: "while you were away" }));
  const t = await start();
  await t.transport.call("login", { accountId: "bot1", token: TOKEN });
  await tick();
  const [[offline]] = t.of("receiveMessages");
  assert.equal(offline.text, "while you were away");
  assert.equal(offline.messageSource, 2);

  const refer = { senderId: "alice", receiverId: "t-9", messageClientId: "root-c", messageServerId: "800", createTime: 5, conversationType: 2, conversationId: "bot1|2|t-9" };
  stub.deliver("bot1", stub.teamText({ from: "alice", teamId: "t-9", text: "@bot hi", mention: ["bot1"], threadReply: refer, threadRoot: refer, serverExtension: '{"k":1}', subType: 7 }));
  const [, [team]] = t.of("receiveMessages");
  assert.equal(team.conversationType, 2);
  assert.equal(team.conversationId, "bot1|2|t-9");
  assert.equal(team.receiverId, "t-9");
  assert.deepEqual(team.forcePushAccountIds, ["bot1"]);
  assert.deepEqual(team.threadReply, refer);
  assert.deepEqual(team.threadRoot, refer);
  assert.equal(team.serverExtension, '{"k":1}');
  assert.equal(team.subType, 7);
});

test("an emit that throws or rejects never reaches the SDK or the process", async () => {
  const t = await loggedIn({
    emit: (event, payload) => {
      if (event !== "receiveMessages") return undefined;
      if (payload[0]?.text === "one") throw new Error("bridge down");
      if (payload[0]?.text === "two") return Promise.reject(new Error("bridge slow"));
      return undefined;
    },
  });
  stub.deliver("bot1", stub.p2pText({ from: "alice", to: "bot1", text: "one" }));
  stub.deliver("bot1", stub.p2pText({ from: "alice", to: "bot1", text: "two" }));
  stub.deliver("bot1", stub.p2pText({ from: "alice", to: "bot1", text: "three" }));
  assert.equal(t.of("receiveMessages").length, 3, "later events still flow");
  const sent = await t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "reply" });
  assert.ok(sent.messageServerId);
  await tick();
  assert.ok(t.logs.some(([level, text]) => level === "warn" && text.includes("bridge down")));
  assert.ok(t.logs.some(([level, text]) => level === "warn" && text.includes("bridge slow")));
});

test("sendText returns the ids and keeps a given messageClientId", async () => {
  const t = await loggedIn();
  const result = await t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "hi alice", messageClientId: "delivery-42" });
  assert.equal(result.messageClientId, "delivery-42");
  assert.match(result.messageServerId, /^\d+$/);
  assert.equal(typeof result.createTime, "number");
  assert.equal(stub.sent.length, 1);
  assert.equal(stub.sent[0].text, "hi alice");
  assert.equal(stub.sent[0].conversationId, "bot1|1|alice");
  assert.equal(stub.sent[0].messageClientId, "delivery-42");
  assert.deepEqual(t.of("sendMessage"), [], "its answer is the outcome: the SDK's send-state events stay in JS");

  const other = await t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "again" });
  assert.match(other.messageClientId, /^[0-9a-f]{32}$/, "the SDK's own id when none is given");

  // The SDK remembers acknowledged ids: the same id again is refused, not sent twice.
  const dup = await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "hi alice", messageClientId: "delivery-42" }));
  assert.equal(dup.code, 191004);
  assert.equal(stub.sent.length, 2);
});

test("a mention goes out as the SDK's push config and server extension; other push keys stay out", async () => {
  const t = await loggedIn();
  const ext = JSON.stringify({ yxAitMsg: { alice: { text: "@Alice", segments: [{ start: 0, end: 5, broken: false }] } } });
  await t.transport.call("sendText", {
    conversationId: "bot1|2|team7",
    text: "@Alice hi",
    pushConfig: { forcePush: true, forcePushAccountIds: ["alice"], pushPayload: "x" },
    serverExtension: ext,
  });
  assert.deepEqual(stub.sent[0].params, { pushConfig: { forcePush: true, forcePushAccountIds: ["alice"] } });
  assert.equal(stub.sent[0].serverExtension, ext);
});

test("sendReadReceipt marks a peer's message read; the bot's own message is refused", async () => {
  const t = await loggedIn();
  const receipt = { conversationId: "bot1|1|alice", senderId: "alice", receiverId: "bot1", messageClientId: "c9", messageServerId: "77", createTime: 1_700_000_000_000 };
  assert.deepEqual(await t.transport.call("sendReadReceipt", receipt), {});
  assert.deepEqual(stub.receipts, [{ accountId: "bot1", receiverId: "alice", messageClientId: "c9", createTime: 1_700_000_000_000 }]);
  const own = await rejection(t.transport.call("sendReadReceipt", { ...receipt, senderId: "bot1" }));
  assert.equal(own.code, 191004);
  const missing = await rejection(t.transport.call("sendReadReceipt", { ...receipt, messageClientId: "" }));
  assert.match(missing.message, /messageClientId/);
});

test("a failed send rejects with its code; a retry after it keeps the id and is a resend", async () => {
  const t = await loggedIn();
  stub.failNextSend(107410);
  const err = await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "hi", messageClientId: "d-7" }));
  assert.ok(err instanceof Error);
  assert.equal(err.code, 107410);
  assert.deepEqual([err.code, err.message], [107410, "messaging disabled"]);

  const retry = await t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "hi", messageClientId: "d-7" });
  assert.equal(retry.messageClientId, "d-7");
  assert.equal(stub.sent.at(-1).resend, true);
});

test("an acknowledged send with an error code (antispam) is a failure", async () => {
  const t = await loggedIn();
  stub.failNextSend(195002, { mode: "status" });
  const err = await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "spam", antispamConfig: { antispamEnabled: true, junk: 1 } }));
  assert.equal(err.code, 195002);
  assert.equal(err.code, 195002);
  assert.match(err.message, /^send failed \(antispam: /);
  assert.deepEqual(stub.sent[0].params, { antispamConfig: { antispamEnabled: true } });
});

test("send errors: not logged in, a foreign conversation, bad parameters, a non-NIM exception", async () => {
  const t = await start();
  const before = await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "x" }));
  assert.equal(before.code, 190002);
  await t.transport.call("login", { accountId: "bot1", token: TOKEN });
  assert.equal((await rejection(t.transport.call("sendText", { conversationId: "eve|1|alice", text: "x" }))).code, 191004);
  assert.equal((await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "" }))).code, 191004);
  assert.equal((await rejection(t.transport.call("sendText", { text: "x" }))).code, 191004);
  assert.equal((await rejection(t.transport.call("bogus", {}))).code, 0);

  const nim = [...stub.instances].at(-1);
  nim.V2NIMMessageService.sendMessage = async () => {
    throw new TypeError("boom");
  };
  const odd = await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "x" }));
  assert.ok(odd instanceof Error);
  assert.equal(odd.code, 0);
  assert.deepEqual([odd.code, odd.message], [0, "boom"]);
});

test("a send that is never acknowledged times out with 191005", async () => {
  const t = await loggedIn({ options: { sendTimeoutMs: 50 } });
  const nim = [...stub.instances].at(-1);
  let late;
  nim.V2NIMMessageService.sendMessage = () =>
    new Promise((_, reject) => {
      late = () => reject(new Error("too late"));
    });
  const err = await rejection(t.transport.call("sendText", { conversationId: "bot1|1|alice", text: "x" }));
  assert.equal(err.code, 191005);
  late(); // a rejection after the timeout is not unhandled
});

test("sendMedia creates each kind with its parameters", async () => {
  const t = await loggedIn();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nim-media-"));
  const file = path.join(dir, "photo.png");
  fs.writeFileSync(file, "not really a png");
  const image = await t.transport.call("sendMedia", { conversationId: "bot1|1|alice", kind: "image", path: file, width: 10, height: 20, messageClientId: "img-1" });
  assert.equal(image.messageClientId, "img-1");
  assert.match(image.messageServerId, /^\d+$/);
  await t.transport.call("sendMedia", { conversationId: "bot1|1|alice", kind: "video", path: file, name: "clip.mp4", durationMs: 1500, width: 3, height: 4 });
  await t.transport.call("sendMedia", { conversationId: "bot1|1|alice", kind: "audio", path: file, durationMs: 900 });
  await t.transport.call("sendMedia", { conversationId: "bot1|1|alice", kind: "file", path: file, name: "report.pdf" });
  const pick = ({ name, width, height, duration, path: p, size }) => ({ name, width, height, duration, path: p, size });
  assert.deepEqual(
    stub.sent.map((s) => [s.messageType, JSON.parse(JSON.stringify(pick(s.attachment)))]),
    [
      [1, { name: "photo.png", width: 10, height: 20, duration: undefined, path: file, size: 16 }],
      [3, { name: "clip.mp4", width: 3, height: 4, duration: 1500, path: file, size: 16 }],
      [2, { name: "photo.png", width: undefined, height: undefined, duration: 900, path: file, size: 16 }],
      [6, { name: "report.pdf", width: undefined, height: undefined, duration: undefined, path: file, size: 16 }],
    ].map(([type, att]) => [type, JSON.parse(JSON.stringify(att))]),
  );
  const missing = await rejection(t.transport.call("sendMedia", { conversationId: "bot1|1|alice", kind: "image", path: path.join(dir, "gone.png") }));
  assert.equal(missing.code, 194001);
  const kind = await rejection(t.transport.call("sendMedia", { conversationId: "bot1|1|alice", kind: "sticker", path: file }));
  assert.equal(kind.code, 191004);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("logout, then close(): logs out only when logged in, destroys once, idempotent", async () => {
  const t = await loggedIn();
  assert.deepEqual(await t.transport.call("logout", {}), {});
  assert.deepEqual(stub.logouts, [{ accountId: "bot1" }]);
  assert.deepEqual(t.events, [
    ["loginStatus", 0],
    ["connectStatus", 0],
  ]);
  assert.deepEqual(await t.transport.call("logout", {}), {}, "a second logout is a no-op");
  await t.transport.call("login", { accountId: "bot1", token: TOKEN });
  await Promise.all([t.transport.close(), t.transport.close()]);
  await t.transport.close();
  assert.equal(stub.logouts.length, 2, "close() logged out once");
  assert.equal(stub.destroyed, 1);
  assert.equal(stub.instances.size, 0);
  const after = await rejection(t.transport.call("status", {}));
  assert.equal(after.code, 0);
  assert.equal(after.code, 0);
  assert.match(after.message, /^transport closed/);

  const idle = await start();
  await idle.transport.close();
  assert.equal(stub.logouts.length, 2, "no logout without a login");
  assert.equal(stub.destroyed, 2);
});

test("open() refuses a missing appKey and a module without a NIM constructor", async () => {
  assert.equal((await rejection(open({ options: { sdkModule: STUB }, emit() {}, log: {} }))).code, 191004);
  const empty = path.join(here, "..", "nim-sdk.mjs"); // exports no NIM class
  const err = await rejection(open({ options: { sdkModule: empty, appKey: "k" }, emit() {}, log: {} }));
  assert.equal(err.code, 0);
  const missing = await rejection(open({ options: { sdkModule: "/nonexistent/nim.js", appKey: "k" }, emit() {}, log: {} }));
  assert.equal(missing.code, 0);
  assert.equal(missing.code, 0);
  assert.match(missing.message, /^cannot load the NIM SDK/);
});

test("cross-process: a child process drives the stub through the script, inbox and journal files", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nim-stub-"));
  const script = path.join(dir, "script.json");
  const sent = path.join(dir, "sent.jsonl");
  const inbox = path.join(dir, "inbox.jsonl");
  fs.writeFileSync(script, JSON.stringify({ accounts: { bot1: TOKEN }, sendFailures: [{ code: 107410, textIncludes: "forbidden" }] }));
  const child = `
    const { open } = await import(${JSON.stringify(ADAPTER)});
    const alive = setInterval(() => {}, 1000); // the gateway's own handles, here
    const events = [];
    let gotMessage;
    const arrived = new Promise((resolve) => (gotMessage = resolve));
    const t = await open({
      options: { sdkModule: ${JSON.stringify(STUB)}, appKey: "k" },
      emit: (event, payload) => { events.push(event); if (event === "receiveMessages") gotMessage(payload); },
      log: {},
    });
    await t.call("login", { accountId: "bot1", token: ${JSON.stringify(TOKEN)} });
    const [message] = await arrived;
    const reply = await t.call("sendText", { conversationId: message.conversationId, text: "echo: " + message.text });
    const refused = await t.call("sendText", { conversationId: message.conversationId, text: "forbidden words" }).catch((e) => e.code);
    await t.close();
    clearInterval(alive);
    process.stdout.write(JSON.stringify({ message, reply, refused, events }));
  `;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", child], {
    env: { ...process.env, IMBRIDGE_NIM_STUB_SCRIPT: script, IMBRIDGE_NIM_STUB_SENT: sent, IMBRIDGE_NIM_STUB_INBOX: inbox, IMBRIDGE_NIM_STUB_POLL_MS: "20" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let errText = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (errText += d));
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  // Wait for the login line in the journal, then write a message in two pieces.
  for (let i = 0; i < 200 && !(fs.existsSync(sent) && fs.readFileSync(sent, "utf8").includes('"op":"login"')); i++) await tick(20);
  fs.appendFileSync(inbox, '{"to":"bot1","from":"alice",');
  await tick(60);
  fs.appendFileSync(inbox, '"text":"ping","senderName":"Alice"}\n');
  const timer = setTimeout(() => proc.kill(), 10_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, errText);
  const result = JSON.parse(out);
  assert.equal(result.message.text, "ping");
  assert.equal(result.message.senderName, "Alice");
  assert.equal(result.message.conversationId, "bot1|1|alice");
  assert.equal(result.refused, 107410);
  const journal = fs
    .readFileSync(sent, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    journal.map((j) => [j.op, j.ok ?? null]),
    [
      ["login", true],
      ["send", true],
      ["send", false],
      ["logout", null],
    ],
  );
  assert.equal(journal[1].text, "echo: ping");
  assert.equal(journal[1].messageServerId, result.reply.messageServerId);
  assert.ok(!fs.readFileSync(sent, "utf8").includes(TOKEN), "the journal holds no token");
  fs.rmSync(dir, { recursive: true, force: true });
});
