// imbridge: the OpenClaw entry. It knows no channel: every ChannelPlugin is built from a
// descriptor the Rust addon exports, every decision is made in Rust, and this file only
// forwards host calls to Rust and Rust's service requests to the host.
import { createRequire } from "node:module";
import fs from "node:fs/promises";
import readline from "node:readline";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// Our own loader: napi-rs's generated one shells out to `ldd`, which OpenClaw's installer
// reports as a dangerous exec.
function loadNative() {
  const arch = process.arch;
  const names =
    process.platform === "linux"
      ? [`imbridge.linux-${arch}-gnu.node`, "imbridge.node"]
      : [`imbridge.${process.platform}-${arch}.node`, "imbridge.node"];
  const failures = [];
  // IMBRIDGE_ADDON points at a freshly built addon (tests, development).
  const candidates = process.env.IMBRIDGE_ADDON ? [process.env.IMBRIDGE_ADDON] : names.map((n) => path.join(here, n));
  for (const file of candidates) {
    try {
      if (!file.endsWith(".node")) {
        const module = { exports: {} };
        process.dlopen(module, file);
        return module.exports;
      }
      return require(file);
    } catch (err) {
      failures.push(`${file}: ${err.message}`);
    }
  }
  throw new Error(`imbridge: no native addon for ${process.platform}-${arch} in ${here}\n${failures.join("\n")}`);
}

// Rust enforces its own download caps; this one matches the largest the channels accept.
const MAX_INBOUND_MEDIA_BYTES = 100 * 1024 * 1024;

// One addon per process. The gateway evaluates this module more than once (registration modes),
// and may do so from a temporary copy of the package: a second copy of the `.node` file would
// load with Rust statics of its own (channel registry, running accounts), and a tool or RPC
// served by that evaluation would miss the live connections started by the first one.
const native = (globalThis[Symbol.for("imbridge.native")] ??= loadNative());
const plugin = JSON.parse(native.descriptor());

// The host's identity of one delivery (part), when it has one.
function deliveryId(ctx) {
  const base = ctx.deliveryQueueId ?? ctx.preparedMessageId;
  if (!base) return undefined;
  return ctx.deliveryPartCount > 1 ? `${base}#${ctx.deliveryPartIndex ?? 0}` : String(base);
}

function sectionOf(cfg, id) {
  return JSON.stringify(cfg?.channels?.[id] ?? null);
}

// The events that end a session, and the field holding its result.
const FINAL_EVENTS = { loginDone: "result", actionDone: "result", commandDone: "outcome" };

// An error from Rust (`stopped` event), keeping its kind (`badInput`, `transient`, …).
function sessionError(error) {
  const err = new Error(error ? `${error.kind}: ${error.message}` : "stopped");
  err.kind = error?.kind;
  return err;
}

// Pulls a session's events (a login, an action, a command) until it ends and returns its
// result. `onRequest` answers host-service requests; `onEvent` sees qr/message events.
async function drive(handle, { onRequest, onEvent }) {
  try {
    for (;;) {
      const text = await native.next(handle);
      if (text == null) throw new Error("session ended without a result");
      const event = JSON.parse(text);
      if (Object.hasOwn(FINAL_EVENTS, event.type)) return event[FINAL_EVENTS[event.type]];
      if (event.type === "stopped") throw sessionError(event.error);
      if (event.type === "request") {
        let reply;
        try {
          reply = [true, JSON.stringify((await onRequest(event)) ?? null)];
        } catch (err) {
          reply = [false, String(err?.message ?? err)];
        }
        native.respond(handle, event.id, ...reply);
      } else {
        await onEvent?.(event);
      }
    }
  } finally {
    native.release(handle);
  }
}

// Questions on the terminal: one line reader for a whole login or command, so answers piped in
// all at once are not lost between questions. Secret answers are not echoed on a terminal.
function terminalPrompter(input = process.stdin, output = process.stdout) {
  let rl;
  let lines;
  let muted = false;
  const open = () => {
    if (rl) return;
    const tty = Boolean(input.isTTY);
    rl = readline.createInterface({ input, output: tty ? output : undefined, terminal: tty });
    if (tty) {
      const write = rl._writeToOutput?.bind(rl);
      if (write) rl._writeToOutput = (text) => muted || write(text);
    }
    lines = rl[Symbol.asyncIterator]();
  };
  return {
    async ask({ question, default: fallback, secret } = {}) {
      open();
      const hint = fallback == null ? "" : secret ? " (Enter keeps the current one)" : ` [${fallback}]`;
      output.write(`${question ?? "?"}${hint}: `);
      muted = Boolean(secret);
      try {
        const next = await lines.next();
        if (next.done) throw new Error(`no answer to "${question}": input closed`);
        return next.value;
      } finally {
        if (muted || !input.isTTY) output.write("\n");
        muted = false;
      }
    },
    close() {
      rl?.close();
    },
  };
}

// `api.runtime` throws in registration modes without a runtime (cli-metadata, setup-only).
function runtimeOf(api) {
  try {
    return api?.runtime;
  } catch {
    return undefined;
  }
}

// The newest config: edits that do not restart a channel are visible only here.
function currentConfig(api, fallback) {
  return runtimeOf(api)?.config?.current?.() ?? fallback ?? api?.config;
}

// Writes the OpenClaw config through the host's config API, which keeps the file's comments,
// includes and SecretRefs. `afterWrite: auto` lets a running gateway reload what changed.
async function mutateConfig(api, mutate, afterWrite = { mode: "auto" }) {
  const params = { afterWrite, mutate };
  const config = runtimeOf(api)?.config;
  if (typeof config?.mutateConfigFile === "function") return config.mutateConfigFile(params);
  const sdk = await import("openclaw/plugin-sdk/config-runtime");
  return sdk.mutateConfigFile(params);
}

// One config edit from Rust (`{path, value, merge}`), as channel_core::ConfigEdit::apply does
// it: objects are created on the way, `null` removes, `merge` merges an object member-wise.
function applyConfigEdit(draft, { path, value, merge }) {
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
async function touchChannelConfig(api, id) {
  await mutateConfig(api, (draft) =>
    applyConfigEdit(draft, { path: ["channels", id, "channelConfigUpdatedAt"], value: new Date().toISOString() }),
  );
}

// Host services any Rust session may ask for, whatever it is (an account, an action).
function hostServices(api) {
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

// Transport modules: JS a channel runs in this process (NetEase's SDK, say), shipped in the
// package as `transports/<name>.mjs` and declared in the channel's descriptor. Each exports
// `open({options, emit, log}) -> {call(method, params), close()}`. Rust opens, calls and closes
// them through requests; what they emit goes back through `native.transportEvent`.
// Loaded once per process (and file), however often this entry is evaluated.
const transportModules = (globalThis[Symbol.for("imbridge.transportModules")] ??= new Map());

// The package's `transports/`, or IMBRIDGE_TRANSPORTS_DIR (tests, development: a directory of
// `<name>.mjs` files, such as crates/yunxin/js).
function transportsDir() {
  return process.env.IMBRIDGE_TRANSPORTS_DIR || path.join(here, "transports");
}

async function loadTransport(d, name) {
  const declared = (d.transports ?? []).map((t) => t.name);
  if (!declared.includes(name)) {
    throw new Error(`unknown transport module ${JSON.stringify(name)}: ${d.id} declares ${declared.length > 0 ? declared.join(", ") : "none"}`);
  }
  const file = path.join(transportsDir(), `${name}.mjs`);
  let loading = transportModules.get(file);
  if (!loading) {
    loading = (async () => {
      try {
        await fs.access(file);
      } catch {
        throw new Error(`transport module ${JSON.stringify(name)}: ${file} is missing`);
      }
      const module = await import(pathToFileURL(file).href);
      if (typeof module.open !== "function") throw new Error(`transport module ${JSON.stringify(name)}: ${file} exports no open()`);
      return module;
    })();
    transportModules.set(file, loading);
    // A failed load is tried again next time (the file may appear).
    loading.catch(() => transportModules.delete(file));
  }
  return loading;
}

// The transport modules of one session (a running account, an action), by the id Rust gave
// each: the `transport.*` host services, and `closeAll` for when the session ends.
function sessionTransports(d, handle, label, log) {
  const open = new Map();
  // Ids Rust closed while their module was still starting (its open timed out).
  const abandoned = new Set();
  let ended = false;
  const moduleLog = Object.fromEntries(
    ["debug", "info", "warn", "error"].map((level) => [level, (text) => log[level]?.(`[${d.id}] ${label}: ${text}`)]),
  );
  const close = async (id, entry) => {
    entry.live = false;
    try {
      await entry.instance.close();
    } catch (err) {
      log.warn?.(`[${d.id}] ${label}: closing transport ${id} failed: ${err?.message ?? err}`);
    }
  };
  return {
    services: {
      async "transport.open"({ id, module, options }) {
        const loaded = await loadTransport(d, module);
        const entry = { instance: undefined, live: true };
        // Never throws into the module (an SDK's event emitter).
        const emit = (event, payload) => {
          if (!entry.live) return;
          try {
            native.transportEvent(handle, id, JSON.stringify({ event, payload: payload ?? null }));
          } catch (err) {
            log.warn?.(`[${d.id}] ${label}: event ${event} of transport ${id} dropped: ${err?.message ?? err}`);
          }
        };
        entry.instance = await loaded.open({ options: options ?? {}, emit, log: moduleLog });
        if (ended || abandoned.delete(id)) {
          await close(id, entry);
          throw new Error(`transport module ${JSON.stringify(module)}: closed while it started`);
        }
        open.set(id, entry);
        return null;
      },
      async "transport.call"({ id, method, params }) {
        const entry = open.get(id);
        if (!entry) throw new Error(`transport ${id} is not open`);
        return (await entry.instance.call(method, params ?? {})) ?? null;
      },
      async "transport.close"({ id }) {
        const entry = open.get(id);
        if (!entry) {
          abandoned.add(id);
          return null;
        }
        open.delete(id);
        await close(id, entry);
        return null;
      },
    },
    // The session ended: no module it started outlives it.
    async closeAll() {
      ended = true;
      const entries = [...open];
      open.clear();
      await Promise.all(entries.map(([id, entry]) => close(id, entry)));
    },
  };
}

// A failed request's text for Rust. A transport's rejection is its message alone: channels read
// error codes from it.
function failureText(op, err) {
  const text = op.startsWith("transport.") ? err?.message : (err?.stack ?? err?.message);
  return String(text ?? err);
}

// Runs one of a channel's actions to its end; `signal` cancels it.
// `mediaRoots`: the directories whose files the caller may send (none for operator RPCs, which
// name URLs).
async function runAction(api, id, name, args, signal, mediaRoots = []) {
  const handle = await native.startAction(id, sectionOf(currentConfig(api), id), name, JSON.stringify(args ?? {}));
  const d = plugin.channels.find((c) => c.id === id);
  const transports = sessionTransports(d, handle, name, api?.logger ?? console);
  const services = { ...hostServices(api), ...transports.services, "media.roots": () => mediaRoots };
  const cancel = () => native.stopAccount(handle);
  signal?.addEventListener("abort", cancel, { once: true });
  if (signal?.aborted) cancel();
  try {
    return await drive(handle, {
      onRequest: (event) => {
        const service = services[event.op];
        if (!service) throw new Error(`${event.op} is not available to an action`);
        return service(event.args ?? {});
      },
    });
  } finally {
    signal?.removeEventListener("abort", cancel);
    await transports.closeAll();
  }
}

// `openclaw <command> <subcommand>`: Rust asks on the terminal, the config edits it returns are
// saved, then its text is printed.
async function runCommand(api, id, command, subcommand, options, cfg) {
  const say = (text) => process.stdout.write(`${text}\n`);
  const terminal = terminalPrompter();
  let outcome;
  try {
    const handle = await native.startCommand(id, sectionOf(currentConfig(api, cfg), id), command, subcommand, JSON.stringify(options ?? {}));
    outcome = await drive(handle, {
      onRequest: (event) => {
        if (event.op !== "prompt") throw new Error(`${event.op} is not available to a command`);
        return terminal.ask(event.args);
      },
      onEvent: (event) => event.type === "message" && say(event.text),
    });
  } finally {
    terminal.close();
  }
  const edits = outcome.configEdits ?? [];
  if (edits.length > 0) await mutateConfig(api, (draft) => edits.forEach((edit) => applyConfigEdit(draft, edit)));
  if (outcome.text) say(outcome.text);
  return outcome;
}

function buildChannel(d, api) {
  const id = d.id;
  const log = api?.logger ?? console;
  const common = hostServices(api);

  const listAccountIds = (cfg) => native.listAccountIds(id, sectionOf(cfg, id));
  // The host leaves the account out for "the default one" (e.g. `message send` without
  // `--account`): that is the first logged-in account.
  const defaultAccount = (cfg, accountId) => accountId ?? listAccountIds(cfg)[0] ?? "default";
  const resolveAccount = (cfg, accountId) =>
    JSON.parse(native.describeAccount(id, sectionOf(cfg, id), defaultAccount(cfg, accountId)));
  const parseTarget = (raw) => JSON.parse(native.parseTarget(id, String(raw ?? "")));
  const tryTarget = (raw) => {
    try {
      return parseTarget(raw);
    } catch {
      return null;
    }
  };
  // `clientId`: the host's id of this delivery, stable across its retries, so Rust can make a
  // retry return the first outcome instead of sending twice.
  async function send(cfg, accountId, to, text, media, mediaRoots, clientId) {
    const account = defaultAccount(cfg, accountId);
    const message = JSON.stringify({ text: text ?? "", media: media ?? [], mediaRoots: mediaRoots ?? [], clientId: clientId ?? undefined });
    const receipt = JSON.parse(await native.send(id, account, sectionOf(cfg, id), String(to), message));
    if (receipt.status === "queued") {
      // Not delivered (yet): the caller hears exactly that, with the reason and when it goes.
      log.info?.(`[${id}] message to ${to} queued (${receipt.queueId}): ${receipt.reason}`);
      const err = new Error(`queued, not sent yet: ${receipt.reason} (queue id ${receipt.queueId})`);
      err.code = "IMBRIDGE_QUEUED";
      err.receipt = receipt;
      throw err;
    }
    return { channel: id, messageId: receipt.messageId, meta: { ...receipt } };
  }

  // Host services Rust asks for while an account runs.
  const services = {
    route(rt, cfg, args) {
      return rt.routing.resolveAgentRoute({ cfg: currentConfig(api, cfg), channel: args.channel, accountId: args.accountId, peer: args.peer });
    },
    "pairing.readAllowFrom"(rt, _cfg, args) {
      return rt.pairing.readAllowFromStore({ channel: args.channel, accountId: args.accountId });
    },
    "pairing.upsert"(rt, _cfg, args) {
      return rt.pairing.upsertPairingRequest({ channel: args.channel, id: args.id, accountId: args.accountId, meta: args.meta });
    },
    "pairing.replyText"(rt, _cfg, args) {
      return rt.pairing.buildPairingReply({ channel: args.channel, idLine: args.idLine, code: args.code });
    },
    // Rust downloaded an attachment into a temporary file; the host's media store keeps it.
    async "media.save"(rt, _cfg, args) {
      const buffer = await fs.readFile(args.path);
      const saved = await rt.media.saveMediaBuffer(buffer, args.contentType, "inbound", MAX_INBOUND_MEDIA_BYTES, args.fileName ?? undefined);
      return { path: saved.path, contentType: saved.contentType ?? args.contentType };
    },
    // finalize → record → dispatch, with every reply delivered through Rust.
    async turn(rt, cfg, args, handle, requestId) {
      const config = currentConfig(api, cfg);
      const ctx = rt.reply.finalizeInboundContext(args.context);
      const storePath = rt.session.resolveStorePath(config.session?.store, { agentId: args.route.agentId });
      await rt.session.recordInboundSession({
        storePath,
        sessionKey: ctx.SessionKey ?? args.route.sessionKey,
        ctx,
        updateLastRoute: { sessionKey: args.route.mainSessionKey, channel: id, to: args.peer.id, accountId: args.accountId },
        onRecordError: (err) => log.warn?.(`[${id}] recording the session failed: ${err}`),
      });
      let replies = 0;
      await rt.reply.dispatchReplyWithBufferedBlockDispatcher({
        ctx,
        cfg: config,
        dispatcherOptions: {
          deliver: async (payload, info) => {
            const body = { text: payload?.text ?? "", mediaUrl: payload?.mediaUrl, mediaUrls: payload?.mediaUrls, kind: info?.kind };
            await native.deliver(handle, requestId, JSON.stringify(body));
            replies += 1;
          },
          onError: (err, info) => log.warn?.(`[${id}] delivering a ${info?.kind ?? "reply"} failed: ${err?.message ?? err}`),
        },
        replyOptions: { disableBlockStreaming: true },
      });
      return { replies };
    },
  };

  // Never throws: it runs detached, and an unhandled rejection would take the gateway down.
  // `own`: the services of this account alone (its transports).
  async function answer(ctx, handle, event, own) {
    const service = services[event.op];
    let reply;
    try {
      let result;
      if (own[event.op]) {
        result = await own[event.op](event.args ?? {});
      } else if (common[event.op]) {
        result = await common[event.op](event.args ?? {});
      } else {
        if (!service) throw new Error(`unknown host service ${event.op}`);
        if (!ctx.channelRuntime) throw new Error("the host gave this account no channelRuntime");
        result = await service(ctx.channelRuntime, ctx.cfg, event.args, handle, event.id);
      }
      reply = [true, JSON.stringify(result ?? null)];
    } catch (err) {
      reply = [false, failureText(event.op, err)];
    }
    try {
      native.respond(handle, event.id, ...reply);
    } catch (err) {
      log.warn?.(`[${id}] could not answer ${event.op}: ${err?.message ?? err}`);
    }
  }

  function applyStatus(ctx, patch) {
    const next = { ...(ctx.getStatus?.() ?? {}), accountId: ctx.accountId };
    for (const [key, value] of Object.entries(patch)) next[key] = value;
    ctx.setStatus?.(next);
  }

  // Logins started from the Control UI, by session key.
  const qrLogins = (globalThis[Symbol.for(`imbridge.qrLogins.${id}`)] ??= new Map());

  async function startQrLogin({ accountId, timeoutMs }) {
    const cfg = currentConfig(api);
    const handle = await native.startLogin(id, sectionOf(cfg, id), accountId ?? null);
    const state = { qrDataUrl: undefined, message: "Starting…", done: false, connected: false, waiters: [] };
    const wake = () => state.waiters.splice(0).forEach((w) => w());
    qrLogins.set(String(handle), state);
    drive(handle, {
      onRequest: (event) => {
        throw new Error(`${event.args?.question ?? "input needed"}: answer it with \`openclaw channels login --channel ${id}\` in a terminal`);
      },
      onEvent: (event) => {
        if (event.type === "qr") state.qrDataUrl = event.dataUrl;
        if (event.type === "message") state.message = event.text;
        wake();
      },
    })
      .then(async (result) => {
        state.connected = Boolean(result.accountId);
        state.message = result.message;
        if (result.changed) await touchChannelConfig(api, id).catch((err) => log.warn?.(`[${id}] reload after login failed: ${err.message}`));
      })
      .catch((err) => {
        state.message = err.message;
      })
      .finally(() => {
        state.done = true;
        wake();
      });
    await waitFor(state, (s) => s.qrDataUrl || s.done, timeoutMs ?? 30000);
    return { qrDataUrl: state.qrDataUrl, message: state.message, connected: state.connected, sessionKey: String(handle) };
  }

  async function waitQrLogin({ sessionKey, timeoutMs, currentQrDataUrl }) {
    const state = qrLogins.get(String(sessionKey));
    if (!state) return { connected: false, message: `no login in progress for ${sessionKey}` };
    await waitFor(state, (s) => s.done || (s.qrDataUrl && s.qrDataUrl !== currentQrDataUrl), timeoutMs ?? 480000);
    if (state.done) qrLogins.delete(String(sessionKey));
    return { connected: state.connected, message: state.message, qrDataUrl: state.qrDataUrl !== currentQrDataUrl ? state.qrDataUrl : undefined };
  }

  return {
    id,
    meta: { id, ...d.meta },
    capabilities: d.capabilities,
    reload: { configPrefixes: [`channels.${id}`] },
    config: {
      listAccountIds,
      resolveAccount,
      defaultAccountId: (cfg) => defaultAccount(cfg),
      isEnabled: (account) => account?.enabled !== false,
      isConfigured: (account) => account?.configured === true,
      unconfiguredReason: (account) => account?.unconfiguredReason ?? "not configured",
      describeAccount: (account) => ({
        accountId: account.accountId,
        name: account.name ?? account.accountId,
        enabled: account.enabled,
        configured: account.configured,
        dmPolicy: account.dm?.policy,
        allowFrom: account.dm?.allowFrom ?? [],
      }),
      resolveAllowFrom: ({ cfg, accountId }) => resolveAccount(cfg, accountId).dm?.allowFrom ?? [],
    },
    pairing: {
      idLabel: d.idLabel,
      normalizeAllowEntry: (entry) => tryTarget(entry)?.id ?? String(entry).trim(),
    },
    security: {
      resolveDmPolicy: ({ cfg, accountId, account }) => {
        const resolved = account?.dm ? account : resolveAccount(cfg, accountId);
        const base = resolved.accountId && cfg?.channels?.[id]?.accounts?.[resolved.accountId] ? `channels.${id}.accounts.${resolved.accountId}` : `channels.${id}`;
        return {
          policy: resolved.dm?.policy ?? "pairing",
          allowFrom: resolved.dm?.allowFrom ?? [],
          policyPath: `${base}.dmPolicy`,
          allowFromPath: `${base}.allowFrom`,
          approveHint: `openclaw pairing approve ${id} <code>`,
          normalizeEntry: (entry) => tryTarget(entry)?.id ?? String(entry).trim(),
        };
      },
    },
    messaging: {
      normalizeTarget: (raw) => tryTarget(raw)?.id,
      targetResolver: {
        looksLikeId: (raw) => tryTarget(raw) !== null,
        hint: d.targetHint,
      },
      // The session a proactive send (message send, cron, agent --deliver) belongs to, built
      // with the host's own key builder so it matches the inbound side.
      resolveOutboundSessionRoute: ({ cfg, agentId, accountId, target }) => {
        const peer = tryTarget(target);
        const routing = api?.runtime?.channel?.routing;
        if (!peer || !routing?.buildAgentSessionKey) return null;
        const session = cfg?.session ?? {};
        const sessionKey = routing.buildAgentSessionKey({
          agentId,
          mainKey: session.mainKey,
          channel: id,
          accountId: defaultAccount(cfg, accountId),
          peer: { kind: peer.kind, id: peer.id },
          dmScope: session.dmScope ?? "main",
          groupScope: session.groupScope ?? "per-group",
          identityLinks: session.identityLinks,
        });
        return {
          sessionKey,
          baseSessionKey: sessionKey,
          recipientSessionExact: "delivery-identity",
          peer: { kind: peer.kind, id: peer.id },
          chatType: peer.kind,
          from: `${id}:${peer.id}`,
          to: `${id}:${peer.id}`,
        };
      },
    },
    agentPrompt: { messageToolHints: () => d.toolHints },
    outbound: {
      deliveryMode: d.deliveryMode,
      textChunkLimit: d.textChunkLimit,
      resolveTarget: ({ to }) => {
        try {
          return { ok: true, to: parseTarget(to).id };
        } catch (err) {
          return { ok: false, error: err };
        }
      },
      sendText: (ctx) => send(ctx.cfg, ctx.accountId, ctx.to, ctx.text, [], [], deliveryId(ctx)),
      sendMedia: (ctx) => send(ctx.cfg, ctx.accountId, ctx.to, ctx.text, [ctx.mediaUrl].filter(Boolean), ctx.mediaLocalRoots, deliveryId(ctx)),
    },
    ...(d.interactiveLogin
      ? {
          auth: {
            // `openclaw channels login --channel <id>`: runs in the CLI process, in a terminal.
            login: async ({ cfg, accountId, runtime }) => {
              const say = (text) => (runtime?.log ?? console.log)(text);
              const handle = await native.startLogin(id, sectionOf(cfg, id), accountId ?? null);
              const terminal = terminalPrompter();
              let result;
              try {
                result = await drive(handle, {
                  onRequest: (event) => terminal.ask(event.args),
                  onEvent: (event) => {
                    if (event.type === "qr") {
                      say(event.terminal);
                      say(`If the QR code does not scan, open this link on the phone: ${event.url}`);
                    } else if (event.type === "message") {
                      say(event.text);
                    }
                  },
                });
              } finally {
                terminal.close();
              }
              say(result.message);
              if (result.changed) await touchChannelConfig(api, id);
            },
          },
        }
      : {}),
    status: {
      // Our own snapshot, because the host's default leaves `lastError` out (it cannot know
      // whether a plugin's messages carry secrets; ours never do). Without it, "needs login"
      // would be invisible in `openclaw channels status`.
      buildAccountSnapshot: ({ account, runtime, probe, audit }) => ({
        ...(runtime ?? {}),
        accountId: account?.accountId ?? runtime?.accountId,
        name: account?.name ?? account?.accountId,
        enabled: account?.enabled,
        configured: account?.configured,
        dmPolicy: account?.dm?.policy,
        allowFrom: account?.dm?.allowFrom ?? [],
        ...(probe !== undefined ? { probe } : {}),
        ...(audit !== undefined ? { audit } : {}),
      }),
      probeAccount: async ({ account, cfg }) => {
        const accountId = account?.accountId ?? defaultAccount(cfg);
        try {
          const probe = JSON.parse(await native.probe(id, accountId, sectionOf(cfg, id)));
          return { ...probe, error: probe.ok ? null : probe.detail };
        } catch (err) {
          return { ok: false, error: err.message };
        }
      },
    },
    gateway: {
      // Lives as long as the account; ends when the host aborts it.
      startAccount: async (ctx) => {
        const { accountId, abortSignal } = ctx;
        // Status comes from Rust only (the account's supervisor), as `status` events.
        const handle = await native.startAccount(id, accountId, sectionOf(currentConfig(api, ctx.cfg), id));
        const transports = sessionTransports(d, handle, accountId, log);
        const stop = () => native.stopAccount(handle);
        abortSignal?.addEventListener("abort", stop, { once: true });
        if (abortSignal?.aborted) stop();
        try {
          for (;;) {
            const text = await native.next(handle);
            if (text == null) break;
            const event = JSON.parse(text);
            if (event.type === "request") {
              // Not awaited: turns (and transport calls) run concurrently (Rust orders turns
              // per peer).
              void answer(ctx, handle, event, transports.services);
            } else if (event.type === "status") {
              applyStatus(ctx, event.patch);
            } else if (event.type === "stopped") {
              await transports.closeAll();
              if (event.error) {
                log.error?.(`[${id}/${accountId}] stopped: ${event.error.kind}: ${event.error.message}`);
                // A person must act (log in again): stay down until the host restarts us,
                // instead of letting the gateway restart us into the same wall.
                if (abortSignal && !abortSignal.aborted) {
                  await new Promise((resolve) => abortSignal.addEventListener("abort", resolve, { once: true }));
                }
              }
              break;
            }
          }
        } finally {
          abortSignal?.removeEventListener("abort", stop);
          await transports.closeAll();
          native.release(handle);
        }
      },
      stopAccount: async () => {},
      ...(d.interactiveLogin
        ? {
            loginWithQrStart: (params) => startQrLogin(params ?? {}),
            loginWithQrWait: (params) => waitQrLogin(params ?? {}),
            logoutAccount: async ({ cfg, accountId }) => {
              const cleared = await native.logout(id, sectionOf(cfg, id), accountId);
              if (cleared) await touchChannelConfig(api, id).catch(() => {});
              return { cleared, loggedOut: cleared };
            },
          }
        : {}),
    },
  };
}

function waitFor(state, done, timeoutMs) {
  if (done(state)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(finish, timeoutMs);
    function finish() {
      clearTimeout(timer);
      resolve();
    }
    const check = () => (done(state) ? finish() : state.waiters.push(check));
    state.waiters.push(check);
  });
}

// Rust's logs go to OpenClaw's logger (and so its log file), pulled by an unref'd timer that
// never keeps a process alive. One pump per loaded addon, however often this module is evaluated.
const pumps = (globalThis[Symbol.for("imbridge.logPumps")] ??= new WeakSet());
function pumpLogs(logger) {
  if (pumps.has(native) || typeof logger?.info !== "function") return;
  pumps.add(native);
  const flush = () => {
    for (const line of JSON.parse(native.drainLogs())) {
      (logger[line.level] ?? logger.info).call(logger, `[imbridge] ${line.message}`);
    }
  };
  flush(); // switches Rust's output over from stderr right away
  setInterval(flush, 250).unref();
}

// JSON-RPC error codes of the gateway protocol.
function rpcError(err) {
  const kind = err?.kind;
  return {
    code: kind === "badInput" ? "INVALID_REQUEST" : "UNAVAILABLE",
    message: String(err?.message ?? err),
    ...(kind === "transient" || kind === "rateLimited" ? { retryable: true } : {}),
  };
}

// Local files an agent's tool call may send: that agent's workspace and the host's media store,
// where inbound and generated media land.
function toolMediaRoots(api, ctx) {
  const roots = [];
  if (typeof ctx?.workspaceDir === "string" && ctx.workspaceDir) roots.push(ctx.workspaceDir);
  try {
    const state = api.runtime?.state?.resolveStateDir?.();
    if (state) roots.push(path.join(state, "media"));
  } catch {
    // No state dir: the workspace alone.
  }
  return roots;
}

// Every Tool action as an agent tool (declared in the manifest's `contracts.tools`). A factory,
// so each call knows the calling agent's workspace.
function registerTools(api) {
  if (typeof api.registerTool !== "function") return;
  for (const d of plugin.channels) {
    for (const spec of d.actions ?? []) {
      if (spec.kind !== "tool") continue;
      const factory = (ctx) => ({
        name: spec.name,
        label: spec.name,
        description: spec.description,
        parameters: spec.parameters,
        async execute(_toolCallId, params, signal) {
          let result;
          try {
            result = await runAction(api, d.id, spec.name, params, signal, toolMediaRoots(api, ctx));
          } catch (err) {
            // OpenClaw shows input errors to the caller as they are and hides other failures.
            if (err?.kind === "badInput") err.name = "ToolInputError";
            throw err;
          }
          return { content: [{ type: "text", text: JSON.stringify(result) }], details: result };
        },
      });
      api.registerTool(factory, { name: spec.name, optional: spec.optional === true });
    }
  }
}

// Every GatewayMethod action as `<channel>.<name>`: `openclaw gateway call <channel>.<name>
// --params '{…}'`. Operator-only (the default `operator.admin` scope).
function registerGatewayMethods(api) {
  if (typeof api.registerGatewayMethod !== "function") return;
  for (const d of plugin.channels) {
    for (const spec of d.actions ?? []) {
      if (spec.kind !== "gatewayMethod") continue;
      api.registerGatewayMethod(`${d.id}.${spec.name}`, async ({ params, respond }) => {
        try {
          respond(true, await runAction(api, d.id, spec.name, params ?? {}));
        } catch (err) {
          respond(false, undefined, rpcError(err));
        }
      });
    }
  }
}

// Every command as a root CLI command (declared in the manifest's `cliCommands`).
function registerCommands(api) {
  if (typeof api.registerCli !== "function") return;
  for (const d of plugin.channels) {
    for (const spec of d.commands ?? []) {
      const registrar = ({ program, config }) => {
        const root = program.command(spec.command).description(spec.description);
        for (const sub of spec.subcommands) {
          const command = root.command(sub.name).description(sub.description);
          for (const option of sub.options ?? []) command.option(option.flags, option.description);
          // commander calls actions with (...arguments, options, command).
          command.action(async (...args) => {
            const self = args.at(-1);
            const options = typeof self?.opts === "function" ? self.opts() : (args.at(-2) ?? {});
            await runCommand(api, d.id, spec.command, sub.name, options, config);
          });
        }
      };
      const descriptor = { name: spec.command, description: spec.description, hasSubcommands: spec.subcommands.length > 0 };
      api.registerCli(registrar, { descriptors: [descriptor] });
    }
  }
}

export default {
  id: plugin.id,
  name: plugin.name,
  description: plugin.description,
  // What each registration mode gets, as OpenClaw's channel entry helper does it: commands for
  // root help and discovery, tools wherever tools are listed or run, channels everywhere but
  // tool discovery and root help, gateway methods and the log pump in the gateway only.
  register(api) {
    const mode = api.registrationMode ?? "full";
    if (mode === "full") pumpLogs(api.logger);
    if (mode === "cli-metadata" || mode === "discovery" || mode === "full") registerCommands(api);
    if (mode === "cli-metadata") return;
    if (mode === "full" || mode === "tool-discovery") registerTools(api);
    if (mode === "tool-discovery") return;
    for (const descriptor of plugin.channels) {
      api.registerChannel({ plugin: buildChannel(descriptor, api) });
    }
    if (mode === "full") registerGatewayMethods(api);
  },
};
