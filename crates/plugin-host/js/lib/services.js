// The host services Rust asks for (the `request` events of boundary.schema.json), each as a
// function of the request's args. They translate to OpenClaw's API and decide nothing.
import fs from "node:fs/promises";
import { native } from "./native.js";

// `api.runtime` throws in registration modes without a runtime (cli-metadata, setup-only).
export function runtimeOf(api) {
  try {
    return api?.runtime;
  } catch {
    return undefined;
  }
}

// The newest config: edits that do not restart a channel are visible only here.
export function currentConfig(api, fallback) {
  return runtimeOf(api)?.config?.current?.() ?? fallback ?? api?.config;
}

// A channel's config section, as the JSON Rust reads.
export function sectionOf(cfg, id) {
  return JSON.stringify(cfg?.channels?.[id] ?? null);
}

// Writes the OpenClaw config through the host's config API, which keeps the file's comments,
// includes and SecretRefs. `afterWrite: auto` lets a running gateway reload what changed.
export async function mutateConfig(api, mutate, afterWrite = { mode: "auto" }) {
  const params = { afterWrite, mutate };
  const config = runtimeOf(api)?.config;
  if (typeof config?.mutateConfigFile === "function") return config.mutateConfigFile(params);
  const sdk = await import("openclaw/plugin-sdk/config-runtime");
  return sdk.mutateConfigFile(params);
}

// One config edit from Rust (`{path, value, merge}`), as channel_core::ConfigEdit::apply does
// it: objects are created on the way, `null` removes, `merge` merges an object member-wise.
export function applyConfigEdit(draft, { path, value, merge }) {
  if (!Array.isArray(path) || path.length === 0 || path.some((key) => typeof key !== "string" || key === "")) {
    throw new Error(`config edit: bad path ${JSON.stringify(path)}`);
  }
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  let node = draft;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key];
  }
  const last = path.at(-1);
  if (value === null || value === undefined) {
    delete node[last];
  } else if (merge && isObject(value)) {
    if (!isObject(node[last])) node[last] = {};
    for (const [key, member] of Object.entries(value)) {
      if (member === null) delete node[last][key];
      else node[last][key] = member;
    }
  } else {
    node[last] = value;
  }
}

// A login in another process (the CLI) saved new credentials: touching the channel's config
// makes a running gateway reload the channel and start the account, as Tencent's plugin does.
export async function touchChannelConfig(api, id) {
  await mutateConfig(api, (draft) =>
    applyConfigEdit(draft, { path: ["channels", id, "channelConfigUpdatedAt"], value: new Date().toISOString() }),
  );
}

// Services any Rust session may ask for, whatever it is (an account, an action).
export function hostServices(api) {
  return {
    // `globalThis[name](...args)`, awaited; a missing function answers null.
    async "global.call"({ name, args }) {
      const key = String(name).replace(/^globalThis\./, "");
      const fn = globalThis[key];
      if (fn == null) return null;
      if (typeof fn !== "function") throw new Error(`globalThis.${key} is not a function`);
      return (await fn(...(Array.isArray(args) ? args : []))) ?? null;
    },
    // One value the channel already uses (a refreshed token): saved without restarting it.
    async "config.set"({ path, value }) {
      await mutateConfig(api, (draft) => applyConfigEdit(draft, { path, value }), {
        mode: "none",
        reason: `imbridge: ${Array.isArray(path) ? path.join(".") : "a value"} saved by the channel that uses it`,
      });
      return null;
    },
  };
}

// Whether a session has a run: one in flight, or one a restart cut short, which the host's
// restart recovery resumes and answers itself. Read from the persisted session of `agentId`
// in the config's session `store`; null when this host cannot tell.
export async function sessionRunning({ store, sessionKey, agentId }) {
  let entry;
  try {
    const sdk = await sessionStore();
    if (typeof sdk?.getSessionEntry !== "function" || typeof sdk?.resolveStorePath !== "function") return null;
    const storePath = sdk.resolveStorePath(store, { agentId });
    entry = sdk.getSessionEntry({ storePath, sessionKey, agentId });
  } catch {
    return null;
  }
  return hasRun(entry);
}

// The host's session store runtime, or null where it cannot be imported (a host other than
// OpenClaw), tried once per process: Node does not cache a failed import, and resolving one
// again costs more than the rest of a turn's JS (about 160 µs in yunxin-bridge).
let sessionStoreImport;
function sessionStore() {
  sessionStoreImport ??= import("openclaw/plugin-sdk/session-store-runtime").catch(() => null);
  return sessionStoreImport;
}

// A run in flight holds its restart-recovery claim (the recovery's own run too), and one a
// restart cut short is marked aborted until the recovery takes it. A "running" session with
// neither was left by a recovery that ended without a run: the next message admitted settles
// it, so waiting for it would wait for ever.
export function hasRun(entry) {
  if (entry?.status !== "running") return false;
  return entry.abortedLastRun === true || Boolean(entry.restartRecoveryDeliveryRunId) || Boolean(entry.mainRestartRecovery?.reservation);
}

// The host's agent and session for a peer (`{channel, accountId, peer}`).
function resolveRoute(runtime, cfg, { channel, accountId, peer }) {
  return runtime.routing.resolveAgentRoute({ cfg, channel, accountId, peer });
}

// Services of a running account, backed by the `channelRuntime` the host gave it. Each takes
// the request's args and the call: `{runtime, cfg, handle, id}` (the request id is the turn's
// id for `deliver`). `deliver` and `sessionRunning` are injectable for tests.
export function accountServices(api, channelId, log, deps = {}) {
  const deliver = deps.deliver ?? native.deliver;
  const readSessionRunning = deps.sessionRunning ?? sessionRunning;
  return {
    route(args, { runtime, cfg }) {
      return resolveRoute(runtime, currentConfig(api, cfg), args);
    },
    "pairing.readAllowFrom"(args, { runtime }) {
      return runtime.pairing.readAllowFromStore({ channel: args.channel, accountId: args.accountId });
    },
    "pairing.upsert"(args, { runtime }) {
      return runtime.pairing.upsertPairingRequest({ channel: args.channel, id: args.id, accountId: args.accountId, meta: args.meta });
    },
    "pairing.replyText"(args, { runtime }) {
      return runtime.pairing.buildPairingReply({ channel: args.channel, idLine: args.idLine, code: args.code });
    },
    // Rust downloaded an attachment into a temporary file, within its own cap (`maxBytes`); the
    // host's media store keeps it.
    async "media.save"(args, { runtime }) {
      const buffer = await fs.readFile(args.path);
      const saved = await runtime.media.saveMediaBuffer(buffer, args.contentType, "inbound", args.maxBytes, args.fileName ?? undefined);
      return { path: saved.path };
    },
    // route → context → record and dispatch, through the host's inbound API, with every reply
    // delivered through Rust. Rust sent the message as inbound facts; the route is added here.
    // The session's state is read first: Rust tells a turn the host holds for finished from one
    // its restart recovery still owns, and with `ifIdle` a busy session gets nothing
    // (`heldBack`).
    async turn(args, { runtime, cfg, handle, id }) {
      const config = currentConfig(api, cfg);
      // Awaited: a host whose router answers with a promise is served as well as OpenClaw's.
      const route = args.route ?? (await resolveRoute(runtime, config, { channel: channelId, accountId: args.accountId, peer: args.routePeer }));
      const ctxPayload = runtime.inbound.buildContext({
        ...args.facts,
        route: {
          agentId: route.agentId,
          dmScope: route.dmScope,
          accountId: route.accountId ?? args.accountId,
          routeSessionKey: route.sessionKey,
          mainSessionKey: route.mainSessionKey,
        },
      });
      const sessionKey = ctxPayload.SessionKey ?? route.sessionKey;
      const running = await readSessionRunning({ store: config.session?.store, sessionKey, agentId: route.agentId });
      if (args.ifIdle && running === true) return { replies: 0, deferred: null, sessionRunning: true, heldBack: true };
      // The turn is the host's from here (record, then dispatch): what the plugin adds to a
      // message's way in ends now (Rust logs it as `imbridge::latency`).
      const dispatchedAtUs = Date.now() * 1000;
      let replies = 0;
      const result = await runtime.inbound.dispatch({
        cfg: config,
        channel: channelId,
        accountId: args.accountId,
        route: { agentId: route.agentId, dmScope: route.dmScope, sessionKey: route.sessionKey },
        ctxPayload,
        record: {
          updateLastRoute: { sessionKey: route.mainSessionKey ?? route.sessionKey, channel: channelId, to: args.peer.id, accountId: args.accountId },
          onRecordError: (err) => log.warn?.(`[${channelId}] recording the session failed: ${err}`),
        },
        delivery: {
          deliver: async (payload, info) => {
            const reply = { text: payload?.text ?? "", mediaUrl: payload?.mediaUrl, mediaUrls: payload?.mediaUrls, kind: info?.kind };
            await deliver(handle, id, JSON.stringify(reply));
            replies += 1;
          },
          onError: (err, info) => log.warn?.(`[${channelId}] delivering a ${info?.kind ?? "reply"} failed: ${err?.message ?? err}`),
        },
        // Rust's `streaming.block.enabled` decides; blocks arrive as `kind: "block"`, and after
        // streamed blocks the host's final carries only what was not sent yet.
        replyOptions: { disableBlockStreaming: args.blockStreaming !== true },
      });
      // A busy session takes the message into its active run (steer) or queues it after that
      // run (followup) and returns at once; Rust logs which. A turn the host declined (its
      // echo and bot-loop checks) says so.
      const deferred = result?.dispatched ? (result.dispatchResult?.deferredToActiveRun ?? null) : null;
      const declined = result && result.dispatched === false ? (result.admission?.kind ?? "declined") : null;
      return { replies, deferred, sessionRunning: running, heldBack: false, dispatchedAtUs, ...(declined ? { declined } : {}) };
    },
  };
}
