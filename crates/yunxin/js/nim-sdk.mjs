// imbridge yunxin: the `sdk` transport. It runs NetEase's pure-JS NIM SDK (the Node edition of
// nim-web-sdk-ng, V2 API) inside the gateway's Node process and turns it into
// `call(method, params)` plus `emit(event, payload)` with plain JSON, for the Rust crate
// `yunxin` to drive. It decides nothing: no retries, no reconnect policy, no filtering.
//
//   open({ options, emit, log }) -> Promise<{ call(method, params), close() }>
//
// options: { sdkModule?, appKey, debugLevel?, lbsUrls?, linkUrl?, sendTimeoutMs? }; see README.md.
//
// Every rejection of `call` is an Error with `.code` (the NIM code, 0 when the failure is not
// NIM's) and `.message` (NIM's description). The token never reaches a log, an error or an event.
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

// The SDK this module is written and tested against (README.md says why this one).
export const SDK_PACKAGE = "nim-web-sdk-ng";
export const SDK_VERSION = "10.9.77-alpha.4";
export const DEFAULT_SDK_MODULE = `${SDK_PACKAGE}/dist/nodejs/nim.js`;

// How long a send may take before this module reports it failed, whatever the SDK's own
// protocol timeouts do (a media send includes its upload).
export const SEND_TIMEOUT_MS = 30_000;
// close() must end even when the link is stuck.
const CLOSE_STEP_TIMEOUT_MS = 5_000;

// NIM codes this module produces itself.
const CODE_INVALID_PARAMETER = 191004;
const CODE_TIMEOUT = 191005;
const CODE_FILE_NOT_FOUND = 194001;

// V2 listener names → our event names (without `on`) and their JSON payloads.
const LOGIN_EVENTS = {
  onLoginStatus: (status) => ["loginStatus", toNumber(status)],
  onConnectStatus: (status) => ["connectStatus", toNumber(status)],
  onLoginFailed: (err) => ["loginFailed", errorPayload(err)],
  onKickedOffline: (detail) => [
    "kickedOffline",
    {
      reason: toNumber(detail?.reason),
      reasonDesc: toText(detail?.reasonDesc) ?? "",
      clientType: toNumber(detail?.clientType),
      customClientType: toNumber(detail?.customClientType),
    },
  ],
  onDisconnected: (err) => ["disconnected", err ? errorPayload(err) : null],
  onConnectFailed: (err) => ["connectFailed", errorPayload(err)],
  onDataSync: (type, state, err) => [
    "dataSync",
    err ? { type: toNumber(type), state: toNumber(state), code: codeOf(err) } : { type: toNumber(type), state: toNumber(state) },
  ],
};
// `onSendMessage` (a send's state changes) is not forwarded: the send's own answer carries its
// outcome, and each event crossing into Rust wakes its threads, twice per send for nothing.
const MESSAGE_EVENTS = {
  onReceiveMessages: (messages) => ["receiveMessages", (Array.isArray(messages) ? messages : []).map(reduceMessage)],
};

function toNumber(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function toText(value) {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : String(value);
}

// The NIM code of an SDK error; 0 for anything else (a TypeError, a fetch failure, …).
function codeOf(err) {
  const code = err?.code;
  if (typeof code === "number" && Number.isInteger(code)) return code;
  if (typeof code === "string" && /^\d+$/.test(code)) return Number(code);
  return 0;
}

function errorPayload(err) {
  return { code: codeOf(err), desc: describe(err) };
}

function describe(err) {
  if (err == null) return "unknown error";
  const text = err.desc ?? err.message ?? (typeof err === "string" ? err : undefined);
  if (text) return String(text);
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

function nimError(code, desc) {
  const err = new Error(desc);
  err.code = code;
  return err;
}

// Only the fields with a value, as JSON-safe primitives.
function compact(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "number" && !Number.isFinite(value)) continue;
    out[key] = value;
  }
  return out;
}

function reduceRefer(refer) {
  if (!refer || typeof refer !== "object") return undefined;
  const reduced = compact({
    messageClientId: toText(refer.messageClientId),
    messageServerId: toText(refer.messageServerId),
    senderId: toText(refer.senderId),
    receiverId: toText(refer.receiverId),
    createTime: refer.createTime == null ? undefined : toNumber(refer.createTime),
    conversationType: refer.conversationType == null ? undefined : toNumber(refer.conversationType),
    conversationId: toText(refer.conversationId),
  });
  return reduced.messageClientId || reduced.messageServerId ? reduced : undefined;
}

function reduceAttachment(att) {
  if (!att || typeof att !== "object") return undefined;
  const num = (v) => (v === undefined || v === null || v === "" ? undefined : toNumber(v));
  return compact({
    raw: toText(att.raw),
    size: num(att.size),
    md5: toText(att.md5),
    url: toText(att.url),
    name: toText(att.name),
    ext: toText(att.ext),
    width: num(att.width),
    height: num(att.height),
    duration: num(att.duration),
    latitude: num(att.latitude),
    longitude: num(att.longitude),
    address: toText(att.address),
  });
}

// A V2NIMMessage reduced to what a bot needs, as plain JSON.
export function reduceMessage(m) {
  const forcePush = m?.pushConfig?.forcePushAccountIds;
  return compact({
    messageClientId: toText(m?.messageClientId) ?? "",
    messageServerId: toText(m?.messageServerId) ?? "",
    createTime: toNumber(m?.createTime),
    senderId: toText(m?.senderId) ?? "",
    // V2NIMMessage has no sender name in this SDK; the wire's `fromNick` is kept on the object.
    senderName: toText(m?.senderName ?? m?.fromNick) || undefined,
    receiverId: toText(m?.receiverId) ?? "",
    conversationType: toNumber(m?.conversationType),
    conversationId: toText(m?.conversationId) ?? "",
    messageType: toNumber(m?.messageType),
    subType: m?.subType == null ? undefined : toNumber(m.subType),
    text: toText(m?.text),
    attachment: reduceAttachment(m?.attachment),
    serverExtension: toText(m?.serverExtension),
    forcePushAccountIds: Array.isArray(forcePush) ? forcePush.map(String) : undefined,
    isSelf: Boolean(m?.isSelf),
    messageSource: m?.messageSource == null ? undefined : toNumber(m.messageSource),
    threadReply: reduceRefer(m?.threadReply),
    threadRoot: reduceRefer(m?.threadRoot),
  });
}

function resolveSpecifier(spec) {
  if (spec.startsWith("file:") || spec.startsWith("data:")) return spec;
  if (path.isAbsolute(spec)) return pathToFileURL(spec).href;
  return spec; // a package subpath, resolved from this file's node_modules
}

// The SDK's constructor, whatever the module's shape (ESM default, CommonJS interop).
function constructorOf(mod) {
  for (const candidate of [mod?.default, mod?.default?.default, mod?.NIM, mod]) {
    if (typeof candidate === "function") return candidate;
  }
  throw nimError(0, "the SDK module exports no NIM constructor");
}

// Resolves or rejects like `promise`, or rejects with `onTimeout()` after `ms`. A rejection of
// `promise` after the timeout is swallowed: it must not become an unhandled rejection.
function withTimeout(promise, ms, onTimeout) {
  let timer;
  promise.catch(() => {});
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function requireText(params, key) {
  const value = params?.[key];
  if (typeof value !== "string" || value === "") throw nimError(CODE_INVALID_PARAMETER, `invalid parameter: ${key}`);
  return value;
}

function optionalNumber(params, key) {
  const value = params?.[key];
  if (value === undefined || value === null) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw nimError(CODE_INVALID_PARAMETER, `invalid parameter: ${key}`);
  return Math.round(n);
}

const ANTISPAM_KEYS = ["antispamEnabled", "antispamBusinessId", "antispamCustomMessage", "antispamCheating", "antispamExtension"];

const PUSH_KEYS = ["forcePush", "forcePushAccountIds", "forcePushContent"];

// The SDK's send params, from the keys Rust may set: unknown keys stay out.
function sendParams(params) {
  const out = {};
  for (const [name, keys] of [["antispamConfig", ANTISPAM_KEYS], ["pushConfig", PUSH_KEYS]]) {
    const config = params?.[name];
    if (!config || typeof config !== "object") continue;
    const picked = {};
    for (const key of keys) if (config[key] !== undefined) picked[key] = config[key];
    out[name] = picked;
  }
  return out;
}

export async function open({ options = {}, emit, log } = {}) {
  const logger = {
    debug: log?.debug ?? (() => {}),
    info: log?.info ?? (() => {}),
    warn: log?.warn ?? (() => {}),
    error: log?.error ?? (() => {}),
  };
  // Tokens seen by this transport: scrubbed from every text that leaves it.
  const secrets = new Set();
  const redact = (text) => {
    let out = String(text);
    for (const secret of secrets) if (secret) out = out.split(secret).join("***");
    return out;
  };
  const say = (level, text) => {
    try {
      logger[level](redact(text));
    } catch {
      // a broken logger must not break the transport
    }
  };
  const fail = (err) => nimError(codeOf(err), redact(describe(err)));

  if (typeof options.appKey !== "string" || options.appKey === "") throw nimError(CODE_INVALID_PARAMETER, "invalid parameter: appKey");
  const specifier = resolveSpecifier(options.sdkModule || DEFAULT_SDK_MODULE);
  let NIM;
  try {
    NIM = constructorOf(await import(specifier));
  } catch (err) {
    throw nimError(codeOf(err), `cannot load the NIM SDK (${options.sdkModule || DEFAULT_SDK_MODULE}): ${err?.message ?? err}`);
  }

  const loginConfig = {};
  if (Array.isArray(options.lbsUrls) && options.lbsUrls.length > 0) loginConfig.lbsUrls = options.lbsUrls.map(String);
  if (options.linkUrl) {
    // The SDK takes the link as "host:port" and a separate TLS switch (default wss): a
    // "ws://host:port" link (a private deployment without TLS) turns TLS off.
    const link = String(options.linkUrl);
    const scheme = /^([a-z]+):\/\//i.exec(link)?.[1]?.toLowerCase();
    loginConfig.linkUrl = link.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
    if (scheme === "ws" || scheme === "http") loginConfig.linkSSL = false;
  }

  const debugLevel = options.debugLevel || "off";
  const sendTimeoutMs = Number(options.sendTimeoutMs) > 0 ? Number(options.sendTimeoutMs) : SEND_TIMEOUT_MS;
  let nim;
  try {
    nim = new NIM(
      { appkey: options.appKey, apiVersion: "v2", debugLevel },
      {
        V2NIMLoginServiceConfig: loginConfig,
        // No usage reports or A/B experiments: the process talks to the IM link (and the
        // upload hosts when it sends media) only.
        reporterConfig: { enableCompass: false, isDataReportEnable: false },
        abtestConfig: { isAbtestEnable: false },
        // The SDK's own sinks are console.*: its lines go to our logger instead, scrubbed.
        loggerConfig: {
          debugLevel,
          storageEnable: false,
          logFunc: {
            debug: (text) => say("debug", `nim-sdk: ${text}`),
            log: (text) => say("info", `nim-sdk: ${text}`),
            warn: (text) => say("warn", `nim-sdk: ${text}`),
            error: (text) => say("error", `nim-sdk: ${text}`),
          },
        },
      },
    );
  } catch (err) {
    throw fail(err);
  }
  const loginService = nim.V2NIMLoginService;
  const messageService = nim.V2NIMMessageService;
  const creator = nim.V2NIMMessageCreator;
  if (!loginService || !messageService || !creator) {
    await Promise.resolve(nim.destroy?.()).catch(() => {});
    throw nimError(0, "the NIM SDK lacks the V2 login/message services (not the V2 Node edition?)");
  }

  let closed = false;
  let closing;
  // Forwards one event; nothing thrown or rejected by `emit` reaches the SDK or the process.
  const forward = (event, payload) => {
    if (closed) return;
    try {
      const result = emit?.(event, payload);
      if (result && typeof result.then === "function") {
        result.then(undefined, (err) => say("warn", `nim: forwarding ${event} failed: ${err?.message ?? err}`));
      }
    } catch (err) {
      say("warn", `nim: forwarding ${event} failed: ${err?.message ?? err}`);
    }
  };
  const listeners = [];
  const listen = (service, table) => {
    for (const [name, shape] of Object.entries(table)) {
      const fn = (...args) => {
        let shaped;
        try {
          shaped = shape(...args);
        } catch (err) {
          say("warn", `nim: could not read ${name}: ${err?.message ?? err}`);
          return;
        }
        const [event, payload] = shaped;
        if (event === "loginFailed" || event === "connectFailed" || event === "disconnected") {
          if (payload) payload.desc = redact(payload.desc);
        }
        forward(event, payload);
      };
      service.on(name, fn);
      listeners.push([service, name, fn]);
    }
  };
  listen(loginService, LOGIN_EVENTS);
  listen(messageService, MESSAGE_EVENTS);

  const status = () => ({
    loginStatus: toNumber(loginService.getLoginStatus?.()),
    connectStatus: toNumber(loginService.getConnectStatus?.()),
  });

  async function login(params) {
    const accountId = requireText(params, "accountId");
    const token = requireText(params, "token");
    secrets.add(token);
    const option = { aiBot: params.aiBot ?? 2 };
    const timeout = optionalNumber(params, "timeoutMs");
    const retryCount = optionalNumber(params, "retryCount");
    if (timeout !== undefined) option.timeout = timeout;
    if (retryCount !== undefined) option.retryCount = retryCount;
    say("info", `nim: login ${accountId}`);
    // Exactly one SDK login per call: the SDK's own retryCount bounds its attempts, and any
    // further retry is the Rust side's decision.
    await loginService.login(accountId, token, option);
    say("info", `nim: ${accountId} logged in`);
    return {};
  }

  async function logout() {
    if (status().loginStatus === 0) return {};
    await loginService.logout();
    return {};
  }

  async function send(message, params) {
    const conversationId = requireText(params, "conversationId");
    // A given id replaces the SDK's random one: a retried send carries the id of the first
    // attempt. The SDK keeps a preset messageClientId; if this instance already saw it
    // acknowledged it refuses the message (191004 "message has already been sent"), and if it
    // saw it fail it sends it as a resend.
    if (params.messageClientId !== undefined && params.messageClientId !== null && params.messageClientId !== "") {
      message.messageClientId = String(params.messageClientId);
    }
    // An @-mention's marks (`yxAitMsg`), which NetEase's apps render.
    if (typeof params.serverExtension === "string" && params.serverExtension !== "") {
      message.serverExtension = params.serverExtension;
    }
    const result = await withTimeout(
      Promise.resolve().then(() => messageService.sendMessage(message, conversationId, sendParams(params))),
      sendTimeoutMs,
      () => nimError(CODE_TIMEOUT, `send timeout after ${sendTimeoutMs} ms`),
    );
    const sent = result?.message;
    const errorCode = sent?.messageStatus?.errorCode;
    if (!sent) throw nimError(0, "send returned no message");
    if (sent.sendingState === 2 || (errorCode !== undefined && errorCode !== null && Number(errorCode) !== 200)) {
      const code = errorCode !== undefined && errorCode !== null && Number(errorCode) !== 200 ? toNumber(errorCode) : 0;
      const reason = result?.antispamResult ? `antispam: ${result.antispamResult}` : `sendingState ${sent.sendingState}`;
      throw nimError(code, `send failed (${reason})`);
    }
    return {
      messageClientId: toText(sent.messageClientId) ?? "",
      messageServerId: toText(sent.messageServerId) ?? "",
      createTime: toNumber(sent.createTime),
    };
  }

  async function sendText(params) {
    const text = requireText(params, "text");
    requireText(params, "conversationId");
    return send(creator.createTextMessage(text), params);
  }

  async function sendMedia(params) {
    requireText(params, "conversationId");
    const file = requireText(params, "path");
    try {
      const info = await fs.stat(file);
      if (!info.isFile()) throw new Error("not a file");
      await fs.access(file, fs.constants?.R_OK ?? 4);
    } catch {
      // Checked here: the SDK would only find out while uploading, and then throw a bare Error.
      throw nimError(CODE_FILE_NOT_FOUND, `file not found: ${file}`);
    }
    const name = typeof params.name === "string" && params.name !== "" ? params.name : path.basename(file);
    const width = optionalNumber(params, "width");
    const height = optionalNumber(params, "height");
    const duration = optionalNumber(params, "durationMs");
    let message;
    switch (params.kind) {
      case "image":
        message = creator.createImageMessage(file, name, undefined, width, height);
        break;
      case "file":
        message = creator.createFileMessage(file, name, undefined);
        break;
      case "video":
        message = creator.createVideoMessage(file, name, undefined, duration, width, height);
        break;
      case "audio":
        message = creator.createAudioMessage(file, name, undefined, duration);
        break;
      default:
        throw nimError(CODE_INVALID_PARAMETER, `invalid parameter: kind ${JSON.stringify(params.kind)}`);
    }
    return send(message, params);
  }

  // A P2P read receipt for a received message: the SDK needs its sender, client id and time.
  async function sendReadReceipt(params) {
    const message = {
      conversationId: requireText(params, "conversationId"),
      conversationType: 1,
      senderId: requireText(params, "senderId"),
      receiverId: requireText(params, "receiverId"),
      messageClientId: requireText(params, "messageClientId"),
      messageServerId: toText(params.messageServerId) ?? "",
      createTime: optionalNumber(params, "createTime") ?? 0,
    };
    await withTimeout(
      Promise.resolve().then(() => messageService.sendP2PMessageReceipt(message)),
      sendTimeoutMs,
      () => nimError(CODE_TIMEOUT, `read receipt timeout after ${sendTimeoutMs} ms`),
    );
    return {};
  }

  const methods = { login, logout, sendText, sendMedia, sendReadReceipt, status: async () => status() };

  async function call(method, params = {}) {
    if (closed) throw nimError(0, "transport closed");
    if (!Object.hasOwn(methods, method)) throw nimError(0, `unknown method ${JSON.stringify(method)}`);
    try {
      return await methods[method](params ?? {});
    } catch (err) {
      throw fail(err);
    }
  }

  async function close() {
    closing ??= (async () => {
      closed = true;
      for (const [service, name, fn] of listeners.splice(0)) {
        try {
          (service.off ?? service.removeListener).call(service, name, fn);
        } catch {
          // already gone
        }
      }
      try {
        if (status().loginStatus !== 0) {
          await withTimeout(Promise.resolve().then(() => loginService.logout()), CLOSE_STEP_TIMEOUT_MS, () => nimError(CODE_TIMEOUT, "logout timeout"));
        }
      } catch (err) {
        say("warn", `nim: logout on close failed: ${fail(err).message}`);
      }
      try {
        await withTimeout(Promise.resolve().then(() => nim.destroy?.()), CLOSE_STEP_TIMEOUT_MS, () => nimError(CODE_TIMEOUT, "destroy timeout"));
      } catch (err) {
        say("warn", `nim: destroying the SDK instance failed: ${fail(err).message}`);
      }
      secrets.clear();
    })();
    return closing;
  }

  return { call, close };
}
