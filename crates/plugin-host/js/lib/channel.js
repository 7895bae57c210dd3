// The ChannelPlugin OpenClaw sees for one channel, built from the descriptor Rust exports.
// Every method forwards to Rust; what is left here is the shape of OpenClaw's API.
import { native } from "./native.js";
import { accountServices, currentConfig, hostServices, runtimeOf, sectionOf, touchChannelConfig } from "./services.js";
import { answer, drive, eventsOf, terminalPrompter, waitFor } from "./session.js";
import { sessionTransports } from "./transports.js";

// The host's identity of one delivery (part), when it has one.
function deliveryId(ctx) {
  const base = ctx.deliveryQueueId ?? ctx.preparedMessageId;
  if (!base) return undefined;
  return ctx.deliveryPartCount > 1 ? `${base}#${ctx.deliveryPartIndex ?? 0}` : String(base);
}

export function buildChannel(d, api) {
  const id = d.id;
  const log = api?.logger ?? console;
  const common = hostServices(api);
  const services = accountServices(api, id, log);

  const listAccountIds = (cfg) => native.listAccountIds(id, sectionOf(cfg, id));
  // The host leaves the account out for "the default one" (e.g. `message send` without
  // `--account`); Rust says which one that is.
  const defaultAccount = (cfg, accountId) => accountId ?? native.defaultAccountId(id, sectionOf(cfg, id));
  const resolveAccount = (cfg, accountId) => native.describeAccount(id, sectionOf(cfg, id), accountId ?? null);
  const setupAccount = (cfg, accountId, input) =>
    native.setupAccount(id, sectionOf(cfg, id), String(accountId), JSON.stringify(input ?? {}));
  const parseTarget = (raw) => native.parseTarget(id, String(raw ?? ""));
  const tryTarget = (raw) => {
    try {
      return parseTarget(raw);
    } catch {
      return null;
    }
  };
  // `clientId`: the host's id of this delivery, stable across its retries, so Rust can make a
  // retry return the first outcome instead of sending twice. A message Rust only queued
  // rejects (code IMBRIDGE_QUEUED): it is not reported as sent.
  async function send(cfg, accountId, to, text, media, mediaRoots, clientId) {
    const message = JSON.stringify({ text: text ?? "", media: media ?? [], mediaRoots: mediaRoots ?? [], clientId: clientId ?? undefined });
    const receipt = await native.send(id, accountId ?? null, sectionOf(cfg, id), String(to), message);
    return { channel: id, messageId: receipt.messageId, meta: { ...receipt } };
  }

  // A request of a running account: its own transports first, then the services any session
  // has, then the account's host services.
  function serve(ctx, handle, event, own) {
    const args = event.args ?? {};
    if (own[event.op]) return own[event.op](args);
    if (common[event.op]) return common[event.op](args);
    const service = services[event.op];
    if (!service) throw new Error(`unknown host service ${event.op}`);
    if (!ctx.channelRuntime) throw new Error("the host gave this account no channelRuntime");
    return service(args, { runtime: ctx.channelRuntime, cfg: ctx.cfg, handle, id: event.id });
  }

  // The backlog of a running account, or nothing (not running here, or unreadable: status
  // must show what it can).
  function backlogOf(account, cfg) {
    if (!account?.accountId) return {};
    try {
      return native.accountBacklog(id, sectionOf(currentConfig(api, cfg), id), account.accountId) ?? {};
    } catch (err) {
      log.debug?.(`[${id}/${account.accountId}] backlog: ${err.message}`);
      return {};
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
      log,
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
    // How the host merges a streamed answer into blocks, unless `streaming.block.coalesce` says.
    streaming: { blockStreamingCoalesceDefaults: d.blockCoalesce },
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
    // `openclaw channels add --channel <id> --<flag> …`. The flags come from the catalog
    // (`setup.fields`, read before any plugin loads); Rust types the values, writes them to
    // `accounts.<accountId>` and refuses an account that could not start.
    setup: {
      // Keys at the channel level are every account's defaults: the host must not move them
      // into an account when a second one is added.
      configPromotion: "preserve-root",
      validateInput: ({ cfg, accountId, input }) => {
        try {
          setupAccount(cfg, accountId, input);
          return null;
        } catch (err) {
          return err.message;
        }
      },
      applyAccountConfig: ({ cfg, accountId, input }) => ({
        ...cfg,
        channels: { ...cfg?.channels, [id]: setupAccount(cfg, accountId, input).section },
      }),
      // Saved: say what `channels status --probe` would, from this process (a channel whose
      // check needs the live connection says so).
      afterAccountConfigWritten: async ({ cfg, accountId, runtime }) => {
        const say = (line) => (runtime?.log ?? console.log)(line);
        const later = `The gateway starts it from the config; \`openclaw channels status --channel ${id} --probe\` shows how it runs.`;
        try {
          const probe = await native.probe(id, accountId, sectionOf(cfg, id));
          say(probe.ok ? `Checked with the server: ${probe.detail}.` : `Not confirmed yet: ${probe.detail}. ${later}`);
        } catch (err) {
          say(`Not confirmed yet: ${err.message}. ${later}`);
        }
      },
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
        const routing = runtimeOf(api)?.channel?.routing;
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
                  log,
                  onRequest: (event) => terminal.ask(event.args),
                  onEvent: (event) => {
                    if (event.type === "qr") {
                      say(event.terminal);
                      say(event.hint);
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
      // The account's backlog (pending turns, queued replies, windows closing soon) joins it
      // when the account runs in this process.
      buildAccountSnapshot: async ({ account, cfg, runtime, probe, audit }) => ({
        ...(runtime ?? {}),
        accountId: account?.accountId ?? runtime?.accountId,
        name: account?.name ?? account?.accountId,
        enabled: account?.enabled,
        configured: account?.configured,
        dmPolicy: account?.dm?.policy,
        allowFrom: account?.dm?.allowFrom ?? [],
        ...backlogOf(account, cfg),
        ...(probe !== undefined ? { probe } : {}),
        ...(audit !== undefined ? { audit } : {}),
      }),
      // Rust's backlog warnings, as the status's warnings.
      collectStatusIssues: (accounts) =>
        (accounts ?? []).flatMap((snapshot) =>
          (snapshot?.backlogWarnings ?? []).map((message) => ({ channel: id, accountId: snapshot.accountId, kind: "runtime", message })),
        ),
      probeAccount: async ({ account, cfg }) => {
        try {
          const probe = await native.probe(id, account?.accountId ?? null, sectionOf(cfg, id));
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
          const stream = eventsOf(handle, log);
          let stopped;
          while (!stopped) {
            const events = await stream.next();
            if (events == null) break;
            for (const event of events) {
              if (event.type === "request") {
                // Not awaited: turns (and transport calls) run concurrently (Rust orders turns
                // per peer).
                void answer(handle, event, () => serve(ctx, handle, event, transports.services), log);
              } else if (event.type === "status") {
                applyStatus(ctx, event.patch);
              } else if (event.type === "stopped") {
                stopped = event;
                break;
              }
            }
          }
          if (stopped) {
            await transports.closeAll();
            if (stopped.error) {
              log.error?.(`[${id}/${accountId}] stopped: ${stopped.error.kind}: ${stopped.error.message}`);
              // A person must act (log in again): stay down until the host restarts us,
              // instead of letting the gateway restart us into the same wall.
              if (abortSignal && !abortSignal.aborted) {
                await new Promise((resolve) => abortSignal.addEventListener("abort", resolve, { once: true }));
              }
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
