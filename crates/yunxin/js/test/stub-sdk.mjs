// A stand-in for the Node edition of nim-web-sdk-ng (`dist/nodejs/nim.js`): the same export
// shape (`default` = the NIM class, `V2NIMConst`), the V2 services the transport uses, and the
// event sequences the real SDK emits (its login life cycle: status events only on a change,
// connectFailed on 2→0 and disconnected on 1→0 connect transitions).
//
// In-process control: `stub` below, also at `globalThis[Symbol.for("imbridge.nimStub")]` so a
// copy of this module loaded under another URL shares it.
//
// Cross-process control (a gateway loading this file as its SDK module), by environment:
//   IMBRIDGE_NIM_STUB_SCRIPT  JSON file, read at every login:
//                             {"accounts": {"bot1": "token1"}, "loginFailures": {"bot2": 417},
//                              "sendFailures": [{"code": 107410, "textIncludes": "forbidden"}],
//                              "delayMs": 0}
//   IMBRIDGE_NIM_STUB_SENT    JSONL file this stub appends to, one line per op:
//                             {"op":"login","accountId","ok","code"}, {"op":"send",…},
//                             {"op":"logout","accountId"}, {"op":"kick","accountId","reason"}
//   IMBRIDGE_NIM_STUB_INBOX   JSONL file polled (every IMBRIDGE_NIM_STUB_POLL_MS, default 100)
//                             for lines appended to it:
//                             {"to":"bot1","from":"alice","text":"hi"}                  p2p text
//                             {"to":"bot1","from":"alice","image":{"url","name","width",…}}
//                             {"to":"bot1","from":"alice","teamId":"t1","text":"@bot hi","mention":["bot1"]}
//                             {"kick":{"accountId":"bot1","reason":1}}
//                             {"drop":{"accountId":"bot1","recover":true}}       link lost (and back)
//                             Messages to an account that is not logged in wait for its login
//                             and arrive then as offline messages.
import { EventEmitter } from "node:events";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const KEY = Symbol.for("imbridge.nimStub");

const DESCS = {
  0: "unknown error",
  302: "The user name or password is incorrect.",
  408: "Client request timed out",
  415: "Client network unavailable",
  417: "multi login forbidden",
  422: "Account disabled",
  102302: "invalid token",
  102404: "account not exist",
  107410: "messaging disabled",
  107451: "message hit antispam",
  190001: "internal error",
  190002: "illegal state",
  191004: "invalid parameter",
  191005: "timeout",
  192001: "connect failed",
  192002: "connect timeout",
  192003: "disconnect",
  192004: "protocol timeout",
  194001: "file not found",
  195002: "server anti-spam",
};
// Codes that fail before the link is up (the SDK retries them `retryCount` times).
const NETWORK_CODES = new Set([408, 415, 192001, 192002, 192004]);

export class V2NIMError extends Error {
  constructor(code, detail = {}, desc = DESCS[code] ?? `error ${code}`) {
    super(desc);
    this.name = "V2NIMError";
    this.code = code;
    this.desc = desc;
    this.detail = detail;
  }
}

export const V2NIMConst = Object.freeze({
  V2NIMLoginStatus: { V2NIM_LOGIN_STATUS_LOGOUT: 0, V2NIM_LOGIN_STATUS_LOGINED: 1, V2NIM_LOGIN_STATUS_LOGINING: 2, V2NIM_LOGIN_STATUS_UNLOGIN: 3 },
  V2NIMConnectStatus: {
    V2NIM_CONNECT_STATUS_DISCONNECTED: 0,
    V2NIM_CONNECT_STATUS_CONNECTED: 1,
    V2NIM_CONNECT_STATUS_CONNECTING: 2,
    V2NIM_CONNECT_STATUS_WAITING: 3,
  },
  V2NIMConversationType: { V2NIM_CONVERSATION_TYPE_P2P: 1, V2NIM_CONVERSATION_TYPE_TEAM: 2, V2NIM_CONVERSATION_TYPE_SUPER_TEAM: 3 },
  V2NIMMessageType: { TEXT: 0, IMAGE: 1, AUDIO: 2, VIDEO: 3, LOCATION: 4, NOTIFICATION: 5, FILE: 6, TIPS: 10, CUSTOM: 100 },
  V2NIMMessageSendingState: { UNKNOWN: 0, SUCCEEDED: 1, FAILED: 2, SENDING: 3 },
  V2NIMMessageSource: { UNKNOWN: 0, ONLINE: 1, OFFLINE: 2, ROAMING: 3 },
  V2NIMKickedOfflineReason: { CLIENT_EXCLUSIVE: 1, SERVER: 2, CLIENT: 3, CLIENT_QUIETLY: 4 },
});

const randomId = () => crypto.randomBytes(16).toString("hex");
const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const plain = (value) => JSON.parse(JSON.stringify(value ?? null));

function createControl() {
  const control = {
    accounts: new Map(),
    loginFailures: new Map(),
    nextLoginFailures: [],
    sendFailures: [],
    scriptSendFailures: [],
    delayMs: 0,
    logins: [],
    logouts: [],
    kicks: [],
    sent: [],
    receipts: [],
    constructed: [],
    destroyed: 0,
    instances: new Set(),
    offline: new Map(),
    serverId: 10_000_000,

    // Forgets everything: accounts, scripted failures, records, queued offline messages.
    reset() {
      this.accounts.clear();
      this.loginFailures.clear();
      this.nextLoginFailures.length = 0;
      this.sendFailures.length = 0;
      this.scriptSendFailures.length = 0;
      this.delayMs = 0;
      this.logins.length = 0;
      this.logouts.length = 0;
      this.kicks.length = 0;
      this.sent.length = 0;
      this.receipts.length = 0;
      this.constructed.length = 0;
      this.destroyed = 0;
      this.offline.clear();
      return this;
    },
    // The accounts the "server" knows: {accountId: token}. Any other account, or another token,
    // fails its login with 302.
    setAccounts(map) {
      this.accounts.clear();
      for (const [account, token] of Object.entries(map ?? {})) this.accounts.set(account, String(token));
      return this;
    },
    // The next login (of `accountId`, or of anyone) fails with `code` (and `desc`, when given):
    // 192xxx/408/415 on the way to the link, anything else as the server's answer to the login.
    failNextLogin(code, { accountId, desc } = {}) {
      this.nextLoginFailures.push({ code, accountId, desc });
      return this;
    },
    // Every login of `accountId` fails with `code` (null clears it).
    failLogins(accountId, code) {
      if (code == null) this.loginFailures.delete(accountId);
      else this.loginFailures.set(accountId, code);
      return this;
    },
    // The next send (by `accountId`, or by anyone) fails with `code`. mode "reject": the send
    // rejects (sendingState 2); mode "status": it resolves acknowledged but with
    // messageStatus.errorCode = code (how the SDK reports a server antispam hit).
    failNextSend(code, { mode = "reject", accountId } = {}) {
      this.sendFailures.push({ code, mode, accountId });
      return this;
    },
    // Kicks the logged-in instances of `accountId` (all when omitted); returns how many.
    kick(accountId, detail = {}) {
      let count = 0;
      for (const nim of this.instances) {
        if ((accountId === undefined || nim.V2NIMLoginService.account === accountId) && nim.V2NIMLoginService._kick(detail)) count++;
      }
      return count;
    },
    // The link of `accountId` (all when omitted) breaks; with `recover` the SDK reconnects.
    drop(accountId, { recover = true } = {}) {
      const runs = [];
      for (const nim of this.instances) {
        if (accountId === undefined || nim.V2NIMLoginService.account === accountId) runs.push(nim.V2NIMLoginService._drop(recover));
      }
      return Promise.all(runs).then((done) => done.filter(Boolean).length);
    },
    // Delivers messages (full or partial V2NIMMessage objects, see p2pText/p2pImage/teamText)
    // to the logged-in instances of `accountId`; with none, they wait for its next login.
    deliver(accountId, messages) {
      const list = (Array.isArray(messages) ? messages : [messages]).map((m) => this.complete(accountId, m));
      const targets = [...this.instances].filter((nim) => nim.V2NIMLoginService.account === accountId && nim.V2NIMLoginService.loginStatus === 1);
      if (targets.length === 0) {
        const queue = this.offline.get(accountId) ?? [];
        queue.push(...list.map((m) => ({ ...m, messageSource: 2 })));
        this.offline.set(accountId, queue);
        return 0;
      }
      for (const nim of targets) nim.V2NIMMessageService.emit("onReceiveMessages", list.map((m) => structuredClone(m)));
      return targets.length;
    },
    p2pText({ from, to, text, ...extra }) {
      return { conversationType: 1, senderId: from, receiverId: to, messageType: 0, text, ...extra };
    },
    p2pImage({ from, to, url, name = "image.jpg", width = 640, height = 480, size = 12345, md5 = "0123456789abcdef0123456789abcdef", ext = ".jpg", ...extra }) {
      const raw = JSON.stringify({ url, name, w: width, h: height, size, md5, ext: ext.replace(/^\./, "") });
      return {
        conversationType: 1,
        senderId: from,
        receiverId: to,
        messageType: 1,
        attachment: { url, name, width, height, size, md5, ext, raw, sceneName: "nim_default_im", uploadState: 1 },
        ...extra,
      };
    },
    teamText({ from, teamId, text, mention, ...extra }) {
      return {
        conversationType: 2,
        senderId: from,
        receiverId: teamId,
        messageType: 0,
        text,
        pushConfig: { pushEnabled: true, forcePush: Boolean(mention?.length), forcePushAccountIds: mention ?? [] },
        ...extra,
      };
    },
    // A message as the SDK hands it to onReceiveMessages, seen by `accountId`.
    complete(accountId, m) {
      const type = m.conversationType ?? 1;
      const target = type === 1 ? m.senderId : m.receiverId;
      const { senderName, ...rest } = m;
      return {
        messageClientId: randomId(),
        messageServerId: String(++this.serverId),
        createTime: Date.now(),
        receiverId: accountId,
        conversationType: type,
        conversationId: `${accountId}|${type}|${target}`,
        isSelf: m.senderId === accountId,
        sendingState: 1,
        messageStatus: { errorCode: 200 },
        messageSource: 1,
        fromClientType: 16,
        messageConfig: { historyEnabled: true, roamingEnabled: true, offlineEnabled: true },
        routeConfig: { routeEnabled: true },
        ...(senderName !== undefined ? { fromNick: senderName } : {}),
        ...rest,
      };
    },

    // Cross-process mode.
    loadScript() {
      const file = process.env.IMBRIDGE_NIM_STUB_SCRIPT;
      if (!file) return;
      let script;
      try {
        script = JSON.parse(fs.readFileSync(file, "utf8"));
      } catch (err) {
        process.stderr.write(`nim stub: cannot read ${file}: ${err.message}\n`);
        return;
      }
      if (script.accounts) this.setAccounts(script.accounts);
      this.loginFailures.clear();
      for (const [account, code] of Object.entries(script.loginFailures ?? {})) this.loginFailures.set(account, Number(code));
      this.scriptSendFailures = Array.isArray(script.sendFailures) ? script.sendFailures : [];
      if (Number.isFinite(script.delayMs)) this.delayMs = script.delayMs;
    },
    journal(entry) {
      const file = process.env.IMBRIDGE_NIM_STUB_SENT;
      if (!file) return;
      try {
        fs.appendFileSync(file, `${JSON.stringify({ ...entry, at: Date.now() })}\n`);
      } catch (err) {
        process.stderr.write(`nim stub: cannot write ${file}: ${err.message}\n`);
      }
    },
    inboxOffset: 0,
    inboxTimer: undefined,
    startInbox() {
      const file = process.env.IMBRIDGE_NIM_STUB_INBOX;
      if (!file || this.inboxTimer) return;
      const every = Number(process.env.IMBRIDGE_NIM_STUB_POLL_MS) || 100;
      this.inboxTimer = setInterval(() => this.pollInbox(file), every);
      this.inboxTimer.unref?.();
    },
    stopInbox() {
      if (this.inboxTimer && this.instances.size === 0) {
        clearInterval(this.inboxTimer);
        this.inboxTimer = undefined;
      }
    },
    pollInbox(file) {
      let data;
      try {
        const fd = fs.openSync(file, "r");
        try {
          const size = fs.fstatSync(fd).size;
          if (size < this.inboxOffset) this.inboxOffset = 0; // truncated: start over
          if (size === this.inboxOffset) return;
          data = Buffer.alloc(size - this.inboxOffset);
          fs.readSync(fd, data, 0, data.length, this.inboxOffset);
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        return; // not there yet
      }
      const end = data.lastIndexOf(0x0a);
      if (end < 0) return; // a line still being written
      this.inboxOffset += end + 1;
      for (const line of data.subarray(0, end).toString("utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          this.inboxLine(JSON.parse(line));
        } catch (err) {
          process.stderr.write(`nim stub: bad inbox line ${JSON.stringify(line)}: ${err.message}\n`);
        }
      }
    },
    inboxLine(entry) {
      if (entry.kick) return void this.kick(entry.kick.accountId, entry.kick);
      if (entry.drop) return void this.drop(entry.drop.accountId, entry.drop).catch(() => {});
      const { to, from, text, image, teamId, mention, ...extra } = entry;
      if (!to || !from) throw new Error("an inbox message needs to and from");
      let message;
      if (teamId) message = this.teamText({ from, teamId, text, mention, ...extra });
      else if (image) message = this.p2pImage({ from, to, ...image, ...extra });
      else message = this.p2pText({ from, to, text, ...extra });
      this.deliver(to, message);
    },
  };
  return control;
}

export const stub = (globalThis[KEY] ??= createControl());

class LoginService extends EventEmitter {
  constructor(core) {
    super();
    this.core = core;
    this.loginStatus = 0;
    this.connectStatus = 0;
    this.account = "";
    this.kickedDetail = null;
  }
  setLoginStatus(status) {
    if (status === this.loginStatus) return;
    this.loginStatus = status;
    this.emit("onLoginStatus", status);
  }
  setConnectStatus(status, error) {
    if (status === this.connectStatus) return;
    const previous = this.connectStatus;
    this.connectStatus = status;
    this.emit("onConnectStatus", status);
    if (previous === 1 && status === 0 && error) this.emit("onDisconnected", error);
    if (previous === 2 && status === 0 && error) this.emit("onConnectFailed", error);
  }
  step() {
    return tick(stub.delayMs);
  }
  async login(accountId, token, option = {}) {
    if (this.core.destroyed) throw new V2NIMError(190002, { reason: "instance destroyed" });
    if (typeof accountId !== "string" || accountId === "" || typeof token !== "string") throw new V2NIMError(191004, { reason: "accountId/token" });
    if (this.loginStatus !== 0) throw new V2NIMError(190002, { reason: "login: already logging in or logged in" });
    stub.loadScript();
    const index = stub.nextLoginFailures.findIndex((f) => f.accountId === undefined || f.accountId === accountId);
    const scripted = index >= 0 ? stub.nextLoginFailures.splice(index, 1)[0] : undefined;
    let code = scripted ? scripted.code : stub.loginFailures.get(accountId);
    if (code === undefined && stub.accounts.get(accountId) !== token) code = 302;
    const record = {
      accountId,
      appKey: this.core.options.appkey,
      ok: code === undefined,
      code: code ?? 200,
      option: plain({ aiBot: option.aiBot, retryCount: option.retryCount, timeout: option.timeout }),
    };
    stub.logins.push(record);
    stub.journal({ op: "login", accountId, ok: record.ok, code: record.code });

    if (code !== undefined && NETWORK_CODES.has(code)) {
      const attempts = 1 + (Number.isInteger(option.retryCount) ? option.retryCount : 3);
      const error = new V2NIMError(code, { reason: "imsocket::Websocket onerror." }, scripted?.desc);
      for (let i = 0; i < attempts; i++) {
        this.setLoginStatus(2);
        this.setConnectStatus(2);
        await this.step();
        this.setLoginStatus(3);
        this.setConnectStatus(0, error);
      }
      this.setLoginStatus(0);
      throw error;
    }
    this.setLoginStatus(2);
    this.setConnectStatus(2);
    await this.step();
    this.setConnectStatus(1);
    await this.step();
    if (code !== undefined) {
      const error = new V2NIMError(code, { reason: "login rejected by the server" }, scripted?.desc);
      this.setLoginStatus(0);
      this.setConnectStatus(0, error);
      this.emit("onLoginFailed", error);
      throw error;
    }
    this.account = accountId;
    this.core.account = accountId;
    this.kickedDetail = null;
    this.setLoginStatus(1);
    setTimeout(() => this._afterLogin(accountId), 0);
  }
  _afterLogin(accountId) {
    if (this.account !== accountId || this.loginStatus !== 1) return;
    this.emit("onDataSync", 1, 2);
    this.emit("onDataSync", 1, 3);
    const waiting = stub.offline.get(accountId);
    if (waiting?.length) {
      stub.offline.delete(accountId);
      this.core.V2NIMMessageService.emit("onReceiveMessages", waiting);
    }
  }
  async logout() {
    if (!this.account && this.loginStatus === 0) throw new V2NIMError(190002, { reason: "logout: not logged in" });
    stub.logouts.push({ accountId: this.account });
    stub.journal({ op: "logout", accountId: this.account });
    await this.step();
    this.setLoginStatus(0);
    this.setConnectStatus(0);
    this.account = "";
    this.core.account = "";
  }
  _kick({ reason = 1, reasonDesc = "", clientType = 16, customClientType = 0 } = {}) {
    if (this.loginStatus !== 1) return false;
    const accountId = this.account;
    const detail = { reason, reasonDesc, clientType, customClientType };
    stub.kicks.push({ accountId, ...detail });
    stub.journal({ op: "kick", accountId, reason });
    this.kickedDetail = detail;
    this.account = "";
    this.core.account = "";
    this.setLoginStatus(0);
    this.setConnectStatus(0, new V2NIMError(192003, { reason: "disconnect due to kicked" }));
    this.emit("onKickedOffline", { ...detail });
    return true;
  }
  async _drop(recover) {
    if (this.loginStatus !== 1) return false;
    this.setLoginStatus(3);
    this.setConnectStatus(0, new V2NIMError(192003, { reason: "connection broken" }));
    this.setConnectStatus(3);
    if (!recover) return true;
    await this.step();
    if (this.loginStatus !== 3) return true; // logged out meanwhile
    this.setLoginStatus(2);
    this.setConnectStatus(2);
    await this.step();
    this.setConnectStatus(1);
    this.setLoginStatus(1);
    return true;
  }
  getLoginUser() {
    return this.account;
  }
  getLoginStatus() {
    return this.loginStatus;
  }
  getConnectStatus() {
    return this.connectStatus;
  }
  getKickedOfflineDetail() {
    return this.kickedDetail;
  }
  getDataSync() {
    return null;
  }
  getLoginClients() {
    return [];
  }
}

class MessageService extends EventEmitter {
  constructor(core) {
    super();
    this.core = core;
    // messageClientId → "acked" | "failed", as the SDK's message model remembers sends.
    this.known = new Map();
  }
  async sendMessage(message, conversationId, params = {}) {
    const account = this.core.account;
    if (!account) throw new V2NIMError(190002, { reason: "not logged in" });
    if (!message || typeof message !== "object") throw new V2NIMError(191004, { reason: "message" });
    if (typeof conversationId !== "string" || !new RegExp(`^${escapeRegExp(account)}\\|[1-3]\\|.`).test(conversationId)) {
      throw new V2NIMError(191004, { reason: `conversationId ${conversationId}` });
    }
    if (message.conversationId && message.conversationId !== conversationId) throw new V2NIMError(191004, { reason: "conversationId mismatch" });
    message.messageClientId ||= randomId();
    const previous = this.known.get(message.messageClientId);
    if (message.messageServerId || previous === "acked") throw new V2NIMError(191004, { reason: "sendMessage: message has already been sent" });
    const login = this.core.V2NIMLoginService;
    const type = Number(conversationId.split("|")[1]);
    const target = conversationId.split("|").slice(2).join("|");
    const msg = {
      ...structuredClone(message),
      conversationId,
      conversationType: type,
      senderId: account,
      receiverId: target,
      isSelf: true,
      sendingState: 3,
      messageServerId: "",
    };
    const record = {
      accountId: account,
      conversationId,
      messageClientId: msg.messageClientId,
      messageType: msg.messageType,
      text: msg.text,
      serverExtension: msg.serverExtension,
      attachment: msg.attachment ? plain({ ...msg.attachment, raw: undefined }) : undefined,
      params: plain(params),
      resend: previous === "failed",
    };
    const failed = (code, state = 2) => {
      msg.sendingState = state;
      msg.messageStatus = { errorCode: code };
      this.known.set(msg.messageClientId, "failed");
      this.emit("onSendMessage", structuredClone(msg));
      Object.assign(record, { ok: false, code });
      stub.sent.push(record);
      stub.journal({ op: "send", ...record });
    };
    this.emit("onSendMessage", structuredClone(msg));
    if (msg.attachment?.path && !msg.attachment.url) {
      let data;
      try {
        data = fs.readFileSync(msg.attachment.path);
      } catch {
        failed(0);
        throw new Error(`File not found: ${msg.attachment.path}`);
      }
      msg.attachment.size = data.length;
      msg.attachment.md5 = crypto.createHash("md5").update(data).digest("hex");
      msg.attachment.url = `https://nos.stub.invalid/${msg.attachment.md5}/${encodeURIComponent(msg.attachment.name ?? "file")}`;
      msg.attachment.uploadState = 1;
      msg.attachmentUploadState = 1;
      record.attachment = plain({ ...msg.attachment, raw: undefined });
    }
    await login.step();
    if (login.loginStatus !== 1) {
      failed(192003);
      throw new V2NIMError(192003, { reason: "link down" });
    }
    const failure = this.takeFailure(account, msg);
    if (failure && failure.mode !== "status") {
      failed(failure.code);
      throw new V2NIMError(failure.code, { reason: "rejected by the stub" });
    }
    msg.messageServerId = String(++stub.serverId);
    msg.createTime = Date.now();
    msg.sendingState = 1;
    msg.messageStatus = { errorCode: failure ? failure.code : 200 };
    this.known.set(msg.messageClientId, "acked");
    Object.assign(record, { ok: !failure, code: failure ? failure.code : 200, messageServerId: msg.messageServerId, createTime: msg.createTime });
    stub.sent.push(record);
    stub.journal({ op: "send", ...record });
    this.emit("onSendMessage", structuredClone(msg));
    return failure ? { message: msg, antispamResult: JSON.stringify({ code: failure.code }) } : { message: msg };
  }
  // As the SDK: only a message another account sent can be marked read, and the receipt is
  // keyed on its sender, client id and time.
  async sendP2PMessageReceipt(message) {
    const account = this.core.account;
    if (!account) throw new V2NIMError(190002, { reason: "not logged in" });
    for (const key of ["senderId", "messageClientId"]) {
      if (typeof message?.[key] !== "string" || message[key] === "") throw new V2NIMError(191004, { reason: `sendP2PMessageReceipt: ${key}` });
    }
    if (typeof message.createTime !== "number") throw new V2NIMError(191004, { reason: "sendP2PMessageReceipt: createTime" });
    if (message.senderId === account) throw new V2NIMError(191004, { reason: `sendP2PMessageReceipt. sender: ${account} is not allowed to send msg receipt` });
    const record = { accountId: account, receiverId: message.senderId, messageClientId: message.messageClientId, createTime: message.createTime };
    stub.receipts.push(record);
    stub.journal({ op: "receipt", ...record });
  }
  takeFailure(account, msg) {
    const index = stub.sendFailures.findIndex((f) => f.accountId === undefined || f.accountId === account);
    if (index >= 0) return stub.sendFailures.splice(index, 1)[0];
    const scripted = stub.scriptSendFailures.find((f) => typeof f.textIncludes === "string" && (msg.text ?? "").includes(f.textIncludes));
    return scripted ? { code: Number(scripted.code), mode: scripted.mode ?? "reject" } : undefined;
  }
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

class MessageCreator {
  constructor(core) {
    this.core = core;
  }
  base(messageType, fields) {
    return {
      messageClientId: randomId(),
      messageType,
      createTime: Date.now(),
      sendingState: 0,
      messageStatus: { errorCode: 200 },
      messageSource: 0,
      fromClientType: 16,
      isSelf: true,
      senderId: "",
      receiverId: "",
      conversationType: 0,
      conversationId: "",
      messageServerId: "",
      antispamConfig: { antispamEnabled: true },
      ...fields,
    };
  }
  file(messageType, file, name, extra) {
    if (typeof file !== "string" || file === "") throw new V2NIMError(191004, { reason: "file path" });
    for (const [key, value] of Object.entries(extra)) {
      if (value !== undefined && typeof value !== "number") throw new V2NIMError(191004, { reason: key });
    }
    const ext = path.extname(file);
    const attachment = { name: name ?? path.basename(file, ext), uploadState: 0, sceneName: "nim_default_im", ext, path: file };
    for (const [key, value] of Object.entries(extra)) if (value !== undefined) attachment[key] = value;
    return this.base(messageType, { attachment, attachmentUploadState: 0 });
  }
  createTextMessage(text) {
    if (typeof text !== "string" || text === "") throw new V2NIMError(191004, { reason: "param 'text' unexpected" });
    return this.base(0, { text });
  }
  createImageMessage(file, name, _sceneName, width, height) {
    return this.file(1, file, name, { width, height });
  }
  createAudioMessage(file, name, _sceneName, duration) {
    return this.file(2, file, name, { duration });
  }
  createVideoMessage(file, name, _sceneName, duration, width, height) {
    return this.file(3, file, name, { duration, width, height });
  }
  createFileMessage(file, name) {
    return this.file(6, file, name, {});
  }
}

class ConversationIdUtil {
  constructor(core) {
    this.core = core;
  }
  conversationId(type, target) {
    return `${this.core.account}|${type}|${target}`;
  }
  p2pConversationId(accountId) {
    return this.conversationId(1, accountId);
  }
  teamConversationId(teamId) {
    return this.conversationId(2, teamId);
  }
  superTeamConversationId(teamId) {
    return this.conversationId(3, teamId);
  }
  parseConversationType(id) {
    return typeof id === "string" && id.startsWith(`${this.core.account}|`) ? Number(id.split("|")[1]) : 0;
  }
  parseConversationTargetId(id) {
    return typeof id === "string" && id.startsWith(`${this.core.account}|`) ? id.split("|").slice(2).join("|") : "";
  }
}

export default class NIM {
  static sdkVersion = 100977;
  static sdkVersionFormat = "10.9.77-stub";
  static instance;

  constructor(options, otherOptions = {}) {
    if (!options || typeof options.appkey !== "string" || options.appkey === "") throw new V2NIMError(191004, { reason: "appkey" });
    this.options = { ...options };
    this.otherOptions = otherOptions;
    this.account = "";
    this.destroyed = false;
    this.V2NIMLoginService = new LoginService(this);
    this.V2NIMMessageService = new MessageService(this);
    this.V2NIMMessageCreator = new MessageCreator(this);
    this.V2NIMConversationIdUtil = new ConversationIdUtil(this);
    stub.constructed.push(plain({ options, otherOptions }));
    stub.instances.add(this);
    stub.loadScript();
    stub.startInbox();
    NIM.instance = this;
  }
  static getInstance(options, otherOptions) {
    if (NIM.instance && !NIM.instance.destroyed) return NIM.instance;
    if (!options) throw new Error("Instance not exist, please input options");
    return new NIM(options, otherOptions);
  }
  async destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    if (NIM.instance === this) NIM.instance = undefined;
    const login = this.V2NIMLoginService;
    login.account = "";
    this.account = "";
    login.loginStatus = 0;
    login.connectStatus = 0;
    login.removeAllListeners();
    this.V2NIMMessageService.removeAllListeners();
    stub.instances.delete(this);
    stub.destroyed++;
    stub.stopInbox();
  }
}
