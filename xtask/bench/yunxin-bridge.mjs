// `cargo xtask bench --only yunxin-bridge`, both sides, one per process:
//
//   node yunxin-bridge.mjs sdk  <sdk module> <inbound> <outbound>
//   node yunxin-bridge.mjs ours <sdk module> <inbound> <outbound>
//
// Both sides read the same event source: the stand-in for nim-web-sdk-ng's Node edition
// (crates/yunxin/js/test/stub-sdk.mjs), which hands each message to `onReceiveMessages` the
// way the SDK does once it has decoded a push. NetEase's own SDK cannot be driven here: it only
// emits a message after decoding it from NetEase's link protocol, and no server of that
// protocol is reachable (imsim simulates the server API, not the link).
//
// `sdk`: one SDK instance, logged in, with a listener that only counts the messages, and sends
// made on the SDK directly: the SDK's own cost, what a bot in plain Node pays at the least.
// `ours`: the addon (IMBRIDGE_ADDON) with the plugin's JS entry, a `netease-yunxin` account on
// transport `sdk` (IMBRIDGE_TRANSPORTS_DIR holds nim-sdk.mjs) started as the gateway starts it,
// against a stand-in of OpenClaw's channel runtime whose agent answers nothing. Each message goes
// SDK → nim-sdk.mjs → napi → the yunxin channel → journal (fsync, OPENCLAW_STATE_DIR) → gate →
// per-peer queue → the host's turn, back through napi to the runtime. Each send goes
// `outbound.sendText` → napi → the channel → send log → napi → nim-sdk.mjs → SDK.
//
// Messages come in bursts of 100 with the event loop free between them, as pushes off a socket
// do; sends go one at a time. Both sides warm up first (JIT) on a batch that is not counted.
// Prints one JSON object: CPU (process.cpuUsage: every thread, the addon's included) and wall
// time per message and per send.
import path from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";

const [side, sdkModule, inboundArg, outboundArg] = process.argv.slice(2);
const inbound = Number(inboundArg);
const outbound = Number(outboundArg);
if (!["sdk", "ours"].includes(side) || !sdkModule || !(inbound > 0) || !(outbound > 0)) {
  process.stderr.write("usage: yunxin-bridge.mjs sdk|ours <sdk module> <inbound> <outbound>\n");
  process.exit(2);
}
const BOT = "bot1";
const TOKEN = "bench-token";
const SENDERS = Array.from({ length: 20 }, (_, n) => `s${String(n + 1).padStart(2, "0")}`);
const BURST = 100;
const warmInbound = Math.min(200, Math.ceil(inbound / 10));
const warmOutbound = Math.min(20, Math.ceil(outbound / 10));
// Far beyond any figure: a side that takes this long has lost messages.
const LIMIT_MS = 300_000;

const { stub } = await import(path.resolve(sdkModule));
stub.reset();
stub.setAccounts({ [BOT]: TOKEN });

// Delivers `count` messages numbered from `first`, bursts of BURST, and resolves once
// `received()` counts them all (or at LIMIT_MS).
async function deliver(first, count, received, arrived) {
  for (let n = first; n < first + count; n++) {
    const from = SENDERS[n % SENDERS.length];
    stub.deliver(BOT, stub.p2pText({ from, to: BOT, text: `message ${n} from ${from}` }));
    if ((n + 1 - first) % BURST === 0) await yieldToLoop();
  }
  await Promise.race([arrived(first + count), new Promise((resolve) => setTimeout(resolve, LIMIT_MS).unref())]);
  return received();
}

// Runs `work`, returning its CPU and wall microseconds.
async function measured(work) {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const value = await work();
  const wall = Number(process.hrtime.bigint() - started) / 1e3;
  const used = process.cpuUsage(cpu);
  return { value, cpu: used.user + used.system, wall };
}

// A counter whose `until(n)` resolves once it reaches n; nothing polls.
function counter() {
  let count = 0;
  const waiting = [];
  return {
    add(by = 1) {
      count += by;
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (count >= waiting[i].n) waiting.splice(i, 1)[0].resolve();
      }
    },
    get: () => count,
    until: (n) => (count >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }))),
  };
}

const turns = counter();
let sendOne;
let stop;

if (side === "sdk") {
  const NIM = (await import(path.resolve(sdkModule))).default;
  const nim = new NIM({ appkey: "bench-app", apiVersion: "v2", debugLevel: "off" });
  nim.V2NIMMessageService.on("onReceiveMessages", (messages) => turns.add(messages.length));
  await nim.V2NIMLoginService.login(BOT, TOKEN, { aiBot: 2 });
  sendOne = async (n) => {
    const message = nim.V2NIMMessageCreator.createTextMessage(`reply ${n}`);
    message.messageClientId = `bench-${n}`;
    await nim.V2NIMMessageService.sendMessage(message, `${BOT}|1|${SENDERS[n % SENDERS.length]}`, {});
  };
  stop = () => nim.destroy();
} else {
  const entryPath = process.env.IMBRIDGE_ENTRY;
  if (!entryPath || !process.env.IMBRIDGE_ADDON || !process.env.IMBRIDGE_TRANSPORTS_DIR || !process.env.OPENCLAW_STATE_DIR) {
    process.stderr.write("ours needs IMBRIDGE_ENTRY, IMBRIDGE_ADDON, IMBRIDGE_TRANSPORTS_DIR and OPENCLAW_STATE_DIR\n");
    process.exit(2);
  }
  const entry = (await import(path.resolve(entryPath))).default;
  const ID = "netease-yunxin";
  const logger = { debug() {}, info() {}, warn: (m) => process.stderr.write(`warn: ${m}\n`), error: (m) => process.stderr.write(`error: ${m}\n`) };
  const registered = [];
  entry.register({ registrationMode: "full", logger, registerChannel: ({ plugin }) => registered.push(plugin) });
  const channel = registered.find((p) => p.id === ID);
  if (!channel) throw new Error(`the addon has no ${ID} channel: build it with --features yunxin`);
  const channelRuntime = {
    routing: {
      resolveAgentRoute: ({ peer }) => ({ agentId: "main", sessionKey: `agent:main:${ID}:direct:${peer.id}`, mainSessionKey: "agent:main:main" }),
    },
    pairing: {
      readAllowFromStore: async () => [],
      upsertPairingRequest: async () => ({ code: "PAIR1234", created: true }),
      buildPairingReply: ({ code }) => `pairing code ${code}`,
    },
    // OpenClaw's inbound API, as the plugin uses it: the context from the facts, then the
    // dispatch, in which the agent answers nothing: inbound alone is measured.
    inbound: {
      buildContext: (facts) => ({ ...facts, SessionKey: facts.route.routeSessionKey }),
      dispatch: async () => {
        turns.add();
        return { admission: { kind: "dispatch" }, dispatched: true, dispatchResult: { queuedFinal: false, counts: { tool: 0, block: 0, final: 0 } } };
      },
    },
  };
  const cfg = { channels: { [ID]: { appKey: "bench-app", accountId: BOT, token: TOKEN, dmPolicy: "open", allowFrom: ["*"], sdkModule: path.resolve(sdkModule) } } };
  const abort = new AbortController();
  let connected;
  const up = new Promise((resolve) => (connected = resolve));
  const statuses = [];
  const running = channel.gateway.startAccount({
    cfg,
    accountId: "default",
    abortSignal: abort.signal,
    channelRuntime,
    getStatus: () => statuses.at(-1) ?? {},
    setStatus: (s) => {
      statuses.push(s);
      if (s.connected === true) connected();
    },
  });
  await Promise.race([up, new Promise((_, reject) => setTimeout(() => reject(new Error(`not connected: ${JSON.stringify(statuses.at(-1))}`)), 30_000).unref())]);
  sendOne = async (n) => {
    await channel.outbound.sendText({ cfg, accountId: "default", to: SENDERS[n % SENDERS.length], text: `reply ${n}`, deliveryQueueId: `bench-${n}` });
  };
  stop = async () => {
    abort.abort();
    await running;
  };
}

// Warm-up, then the measured inbound and outbound.
await deliver(0, warmInbound, turns.get, turns.until);
for (let n = 0; n < warmOutbound; n++) await sendOne(n);
const sentBefore = stub.sent.length;
const inboundRun = await measured(() => deliver(warmInbound, inbound, turns.get, turns.until));
const received = inboundRun.value - warmInbound;
const outboundRun = await measured(async () => {
  for (let n = warmOutbound; n < warmOutbound + outbound; n++) await sendOne(n);
});
const sent = stub.sent.slice(sentBefore).filter((s) => s.ok).length;
await stop();

process.stdout.write(
  `${JSON.stringify({
    bench: "yunxin-bridge",
    side,
    inbound,
    received,
    lost: inbound - received,
    inboundCpuMicrosPerMessage: inboundRun.cpu / inbound,
    inboundWallMicrosPerMessage: inboundRun.wall / inbound,
    outbound,
    sent,
    outboundCpuMicrosPerSend: outboundRun.cpu / outbound,
    outboundWallMicrosPerSend: outboundRun.wall / outbound,
  })}\n`,
);
// Nothing of the addon or the SDK may hold the process: the figures are out.
process.exit(0);
