// Fidelity check of the OpenIM simulator (`imsim --openim`) against the official pure-JS client,
// `@openim/client-sdk` 0.0.14, run under Node 22+ (global WebSocket). `cargo xtask fidelity`
// installs the SDK from the npm registry into target/ (to test against; it is never part of the
// project), starts `target/debug/imsim --openim` and runs this script.
//
//   node openim-client-sdk.mjs <sdk-prefix> <imsim-ready>
//
// <sdk-prefix>:  the npm prefix the SDK was installed into (holds node_modules/@openim/client-sdk).
// <imsim-ready>: the JSON line `imsim --openim` prints, or the path of a file holding it.
//
// The SDK logs in as the first user of the first OpenIM server and plays against the second user
// through the simulator's admin API. Checks, in order, each with its own deadline:
//   login     login resolves with errCode 0, OnConnectSuccess and OnSyncServerFinish fire
//   receive   a text injected from the peer arrives through OnRecvNewMessages
//   send      createTextMessage + sendMessage resolves; /_admin/sent has the same clientMsgID/text
//   catch-up  after /_admin/drop, 3 texts stored while offline arrive after the SDK's own reconnect
//   kick      /_admin/kick fires OnKickedOffline (from the 2002 frame, not a refused reconnect)
//   rest      every REST call the SDK made (startup sync, reconnect) was answered errCode 0
// One line per check on stdout; exit 0 only if all passed. Always exits, whatever happens.
// Whatever the SDK itself prints (console.*) goes to stderr; OPENIM_SDK_LOG_LEVEL (0 trace ..
// 5 silent, default 4 error) sets its log level.
//
// Uses the ESM "modern" build on purpose: the CJS build breaks the reconnect catch-up (spec §5.2).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const SDK_VERSION = '0.0.14';
const CHECKS = ['login', 'receive', 'send', 'catch-up', 'kick', 'rest'];
// The whole run, including the SDK's 5 s reconnect delay; far above the ~10 s it takes.
const OVERALL_MS = 90_000;

// Our lines alone on stdout; the SDK prints with console.log (a banner, dumps of its data).
function out(line) {
  process.stdout.write(`${line}\n`);
}
const stderr = console.error.bind(console);
// The SDK's own error logs (loglevel `error`), kept for failure messages.
const sdkErrors = [];
console.error = (...args) => {
  sdkErrors.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ').slice(0, 300));
  stderr(...args);
};
console.log = console.info = console.debug = console.trace = (...args) => stderr(...args);

// An exception the SDK throws from one of its own callbacks (a socket event, a timer) fails the
// check under way at once instead of killing the process with the SDK's minified source.
let onUncaught = null;
// Those thrown while no check ran.
const uncaught = [];
function uncaughtError(err) {
  const frame = String(err?.stack ?? '').split('\n').find((l) => l.trim().startsWith('at ')) ?? '';
  const text = `${err?.name ?? 'Error'}: ${err?.message ?? err} ${frame.trim()}`;
  stderr(`uncaught: ${text}`);
  if (onUncaught) onUncaught(text);
  else uncaught.push(text);
}
process.on('uncaughtException', uncaughtError);
process.on('unhandledRejection', uncaughtError);

const timers = new Set();
let finished = false;

function finish(code) {
  if (finished) return;
  finished = true;
  for (const t of timers) clearTimeout(t);
  timers.clear();
  // The SDK keeps a heartbeat interval and reconnect timers of its own: leave no matter what.
  process.exitCode = code;
  setImmediate(() => process.exit(code));
}

function sleep(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      timers.delete(t);
      resolve();
    }, ms);
    timers.add(t);
  });
}

// Resolves with `promise`, or rejects with `what` after `ms`.
function deadline(promise, ms, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => {
      timers.delete(t);
      reject(new Error(`timed out after ${ms} ms: ${what}`));
    }, ms);
    timers.add(t);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(t);
    timers.delete(t);
  });
}

// Polls `probe` (async, returns a value or undefined) until it returns something, or fails.
async function until(probe, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() >= end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(50);
  }
}

function fail(msg) {
  throw new Error(msg);
}

// An Error's message, or the SDK's rejection object (`{event, errCode, errMsg, ...}`) as JSON.
function why(err) {
  return err instanceof Error ? err.message : short(err);
}

function short(v) {
  const s = JSON.stringify(v);
  return s && s.length > 400 ? `${s.slice(0, 400)}...` : s;
}

// ---- inputs -----------------------------------------------------------------------------------

function readReady(arg) {
  const text = arg.trimStart().startsWith('{') ? arg : readFileSync(arg, 'utf8');
  const line = text.split('\n').find((l) => l.trim().startsWith('{'));
  if (!line) fail(`no JSON line in the imsim ready output: ${short(text)}`);
  const ready = JSON.parse(line);
  const server = ready.openim?.[0];
  if (!server) fail(`imsim was not started with --openim: no "openim" in ${short(ready)}`);
  if (!server.users || server.users.length < 2) {
    fail(`need two OpenIM users (--openim-users bot1,alice), got ${short(server.users)}`);
  }
  return server;
}

async function loadSdk(prefix) {
  const dir = join(prefix, 'node_modules', '@openim', 'client-sdk');
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.version !== SDK_VERSION) {
    fail(`${dir} is @openim/client-sdk ${manifest.version}, not the pinned ${SDK_VERSION}`);
  }
  if (typeof globalThis.WebSocket !== 'function') {
    fail(`Node ${process.version} has no global WebSocket; run this with Node 22 or later`);
  }
  return import(pathToFileURL(join(dir, 'lib', 'index.modern.mjs')).href);
}

// ---- the simulator's admin API ----------------------------------------------------------------

function adminClient(base) {
  const call = async (method, path, body) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) fail(`${method} /_admin/${path} answered HTTP ${res.status}: ${text}`);
    return JSON.parse(text);
  };
  return {
    inject: (from, to, text) => call('POST', 'inject', { from, to, text }),
    drop: (userID) => call('POST', 'drop', { userID }),
    kick: (userID) => call('POST', 'kick', { userID }),
    sent: () => call('GET', 'sent'),
    restCalls: () => call('GET', 'rest_calls'),
    online: async (userID) => (await call('GET', `online?userID=${encodeURIComponent(userID)}`)).online,
  };
}

// ---- event log ----------------------------------------------------------------------------------

// Every SDK event of interest, in order, with waiters.
class Events {
  constructor() {
    this.log = [];
    this.waiters = [];
  }

  push(name, ev) {
    this.log.push({ name, ev, at: Date.now() });
    this.waiters = this.waiters.filter((w) => !w());
  }

  count(name) {
    return this.log.filter((e) => e.name === name).length;
  }

  since(index, name) {
    return this.log.slice(index).filter((e) => !name || e.name === name);
  }

  // Waits until `pred(log)` returns something truthy.
  wait(pred, ms, what) {
    return deadline(
      new Promise((resolve) => {
        const check = () => {
          const v = pred(this.log);
          if (v) resolve(v);
          return Boolean(v);
        };
        if (!check()) this.waiters.push(check);
      }),
      ms,
      what,
    );
  }

  // Texts received from `from` (every OnRecvNewMessage(s) message), in order.
  received(from, index = 0) {
    const out = [];
    for (const e of this.log.slice(index)) {
      if (e.name !== 'OnRecvNewMessages' && e.name !== 'OnRecvNewMessage') continue;
      const data = e.ev?.data;
      const msgs = Array.isArray(data) ? data : data ? [data] : [];
      for (const m of msgs) {
        if (m?.sendID === from) out.push(m);
      }
    }
    return out;
  }
}

function textOf(m) {
  return m?.textElem?.content ?? m?.atTextElem?.text;
}

function describe(events, index = 0) {
  return events
    .since(index)
    .map((e) => `${e.name}${e.ev?.errCode ? `(${e.ev.errCode} ${e.ev.errMsg})` : ''}`)
    .join(', ');
}

// ---- checks -----------------------------------------------------------------------------------

async function main() {
  const [prefix, readyArg] = process.argv.slice(2);
  if (!prefix || !readyArg) {
    fail('usage: node openim-client-sdk.mjs <sdk-prefix> <imsim-ready-json-or-path>');
  }
  const server = readReady(readyArg);
  const [self, peer] = server.users;
  const admin = adminClient(server.admin);
  const { getSDK, CbEvents } = await loadSdk(prefix);

  const sdk = getSDK();
  const events = new Events();
  const watched = [
    'OnConnecting',
    'OnConnectSuccess',
    'OnConnectFailed',
    'OnKickedOffline',
    'OnUserTokenExpired',
    'OnUserTokenInvalid',
    'OnSyncServerStart',
    'OnSyncServerFinish',
    'OnSyncServerFailed',
    'OnRecvNewMessage',
    'OnRecvNewMessages',
  ];
  for (const name of watched) {
    const event = CbEvents[name];
    if (!event) fail(`the SDK has no CbEvents.${name}`);
    sdk.on(event, (ev) => events.push(name, ev));
  }

  const results = [];
  const check = async (name, body) => {
    const started = Date.now();
    const errorsBefore = sdkErrors.length;
    const crashed = new Promise((_, reject) => {
      onUncaught = (text) => reject(new Error(`the SDK threw an uncaught exception: ${text}`));
    });
    try {
      const detail = await Promise.race([body(), crashed]);
      results.push({ name, ok: true });
      out(`ok   ${name.padEnd(8)} ${detail} (${Date.now() - started} ms)`);
      return true;
    } catch (err) {
      results.push({ name, ok: false });
      out(`FAIL ${name.padEnd(8)} ${err.message}`);
      out(`     SDK events so far: ${describe(events)}`);
      for (const e of sdkErrors.slice(errorsBefore).slice(-5)) out(`     SDK error log: ${e}`);
      return false;
    } finally {
      onUncaught = null;
      crashed.catch(() => {});
    }
  };
  const skip = (name, why) => {
    results.push({ name, ok: false });
    out(`FAIL ${name.padEnd(8)} not run: ${why}`);
  };

  // (a) login
  const loggedIn = await check('login', async () => {
    const res = await deadline(
      sdk.login({
        userID: self.userID,
        token: self.token,
        platformID: self.platformID,
        wsAddr: server.ws,
        apiAddr: server.api,
        logLevel: Number(process.env.OPENIM_SDK_LOG_LEVEL ?? 4),
      }),
      10_000,
      'login() did not settle',
    ).catch((err) => fail(`login() failed: ${why(err)}`));
    if (res?.errCode !== 0) fail(`login() resolved with errCode ${res?.errCode}: ${short(res)}`);
    // login() resolves once the socket opens, even for a refused token (spec §5.3): the verdict
    // is in the events.
    await events.wait(
      (log) =>
        log.find((e) => e.name === 'OnConnectSuccess') ||
        log.find((e) =>
          ['OnConnectFailed', 'OnUserTokenExpired', 'OnUserTokenInvalid', 'OnKickedOffline'].includes(e.name),
        ),
      10_000,
      'neither OnConnectSuccess nor a failure event after login()',
    );
    if (!events.count('OnConnectSuccess')) fail(`the connection was refused: ${describe(events)}`);
    const synced = await events.wait(
      (log) => log.find((e) => e.name === 'OnSyncServerFinish' || e.name === 'OnSyncServerFailed'),
      15_000,
      'no OnSyncServerFinish after OnConnectSuccess (the startup REST/WS sync hangs)',
    );
    if (synced.name !== 'OnSyncServerFinish') {
      fail(`the startup sync failed against the simulator: ${short(synced.ev)}`);
    }
    const online = await until(() => admin.online(self.userID), 5_000, `${self.userID} online in /_admin/online`);
    return `${self.userID} on platform ${self.platformID}: errCode 0, OnConnectSuccess, OnSyncServerFinish, online=${online}`;
  });

  if (!loggedIn) {
    for (const name of CHECKS.slice(1)) skip(name, 'login failed');
    return results;
  }

  // (b) receive
  await check('receive', async () => {
    const text = `fidelity receive ${Date.now()}`;
    const from = events.log.length;
    const injected = await admin.inject(peer.userID, self.userID, text);
    const got = await events.wait(
      () => events.received(peer.userID, from).find((m) => textOf(m) === text),
      10_000,
      `OnRecvNewMessages with ${JSON.stringify(text)} from ${peer.userID}`,
    );
    if (got.clientMsgID !== injected.clientMsgID) {
      fail(`clientMsgID ${got.clientMsgID} != injected ${injected.clientMsgID}`);
    }
    if (got.seq !== injected.seq) fail(`seq ${got.seq} != injected ${injected.seq}`);
    if (got.recvID !== self.userID) fail(`recvID ${got.recvID} != ${self.userID}`);
    return `${JSON.stringify(text)} from ${peer.userID}, seq ${got.seq} in ${injected.conversationID}`;
  });

  // (c) send
  await check('send', async () => {
    const text = `fidelity send ${Date.now()}`;
    const created = await deadline(sdk.createTextMessage(text), 5_000, 'createTextMessage()');
    if (created.errCode !== 0) fail(`createTextMessage() answered ${short(created)}`);
    const message = created.data;
    const res = await deadline(
      sdk.sendMessage({ recvID: peer.userID, groupID: '', message }),
      10_000,
      'sendMessage() did not settle',
    ).catch((err) => fail(`sendMessage() failed: ${why(err)}`));
    if (res?.errCode !== 0) fail(`sendMessage() resolved with errCode ${res?.errCode}: ${short(res)}`);
    const sent = await until(
      async () => (await admin.sent()).find((s) => s.clientMsgID === message.clientMsgID),
      5_000,
      `clientMsgID ${message.clientMsgID} in /_admin/sent`,
    );
    if (sent.errCode !== 0) fail(`the simulator refused the send: errCode ${sent.errCode} ${sent.errDlt}`);
    if (sent.via !== 'ws') fail(`the send came via ${sent.via}, not the WebSocket`);
    if (sent.text !== text) fail(`/_admin/sent text ${JSON.stringify(sent.text)} != ${JSON.stringify(text)}`);
    if (sent.sendID !== self.userID || sent.recvID !== peer.userID) {
      fail(`/_admin/sent has ${sent.sendID} -> ${sent.recvID}, not ${self.userID} -> ${peer.userID}`);
    }
    if (sent.sessionType !== 1 || sent.contentType !== 101) {
      fail(`sessionType ${sent.sessionType} / contentType ${sent.contentType}, not 1 / 101`);
    }
    const reply = res.data;
    if (reply?.serverMsgID && reply.serverMsgID !== sent.serverMsgID) {
      fail(`sendMessage() says serverMsgID ${reply.serverMsgID}, the simulator ${sent.serverMsgID}`);
    }
    return `${JSON.stringify(text)} to ${peer.userID}, clientMsgID ${sent.clientMsgID}, serverMsgID ${sent.serverMsgID}`;
  });

  // (d) catch-up
  await check('catch-up', async () => {
    const connects = events.count('OnConnectSuccess');
    const from = events.log.length;
    const dropped = await admin.drop(self.userID);
    if (!dropped.dropped) fail(`/_admin/drop dropped no connection of ${self.userID}`);
    await until(async () => !(await admin.online(self.userID)), 5_000, `${self.userID} offline after /_admin/drop`);
    const texts = [1, 2, 3].map((n) => `fidelity catch-up ${n}/3 ${Date.now()}`);
    const injected = [];
    for (const text of texts) injected.push(await admin.inject(peer.userID, self.userID, text));
    // Stored while offline: they have seqs, and no connection existed to push them to.
    if (await admin.online(self.userID)) {
      fail(
        `${self.userID} reconnected before the 3 messages were stored; the check cannot tell a pull ` +
          'from a push (the SDK reconnects after 5 s; injecting took longer)',
      );
    }
    const seqs = injected.map((i) => i.seq);
    if (seqs.some((s, i) => !(s > 0) || (i > 0 && s !== seqs[i - 1] + 1))) {
      fail(`injected seqs ${seqs} are not consecutive stored seqs`);
    }
    await events.wait(
      (log) => log.slice(from).some((e) => e.name === 'OnConnectSuccess'),
      15_000,
      'no OnConnectSuccess after the drop (the SDK reconnects every 5 s)',
    );
    const got = await events.wait(
      () => {
        const seen = events.received(peer.userID, from);
        const all = texts.map((t) => seen.find((m) => textOf(m) === t));
        return all.every(Boolean) && all;
      },
      10_000,
      'the 3 messages stored while offline, after reconnecting',
    ).catch((err) => {
      const seen = events.received(peer.userID, from).map(textOf);
      fail(`${err.message}; received since the drop: ${JSON.stringify(seen)}`);
    });
    const gotSeqs = got.map((m) => m.seq);
    if (String(gotSeqs) !== String(seqs)) fail(`caught-up seqs ${gotSeqs} != stored ${seqs}`);
    // The simulator closes a connection on its own only for a protocol error or 30 s of silence,
    // neither of which the SDK should give it: one drop, one reconnect.
    const reconnects = events.count('OnConnectSuccess') - connects;
    if (reconnects !== 1 || events.count('OnConnectFailed')) {
      fail(`expected one reconnect after the drop, saw: ${describe(events, from)}`);
    }
    return `dropped ${dropped.dropped}, stored seqs ${seqs.join(',')} offline, all 3 pulled after the SDK's reconnect`;
  });

  // (e) kick
  await check('kick', async () => {
    await until(() => admin.online(self.userID), 10_000, `${self.userID} online before the kick`);
    const from = events.log.length;
    const kicked = await admin.kick(self.userID);
    if (!kicked.kicked) fail(`/_admin/kick kicked no connection of ${self.userID}`);
    await events.wait(
      (log) => log.slice(from).some((e) => e.name === 'OnKickedOffline'),
      5_000,
      'OnKickedOffline after /_admin/kick',
    );
    // A refused reconnect with the kicked token (1506) would also fire OnKickedOffline, after
    // OnConnectFailed: the 2002 frame itself must have done it.
    const failed = events.since(from, 'OnConnectFailed');
    if (failed.length) {
      fail(`OnKickedOffline came from a refused reconnect, not the 2002 frame: ${describe(events, from)}`);
    }
    await until(async () => !(await admin.online(self.userID)), 5_000, `${self.userID} offline after the kick`);
    return `OnKickedOffline from the 2002 frame, ${self.userID} offline`;
  });

  // Calls the SDK makes on its own and whose failure it would only log.
  await check('rest', async () => {
    // The SDK is the only REST client of this simulator (the admin API is not recorded); a call
    // refused for its token has no userID, so take them all.
    const calls = await admin.restCalls();
    if (!calls.some((c) => c.userID === self.userID)) fail(`the simulator saw no REST call of ${self.userID}`);
    const refused = calls.filter((c) => c.errCode !== 0);
    if (refused.length) {
      fail(`the simulator refused REST calls of the SDK: ${refused.map((c) => `${c.path} -> ${c.errCode} ${short(c.body)}`).join('; ')}`);
    }
    const paths = [...new Set(calls.map((c) => c.path))].sort();
    return `${calls.length} calls answered errCode 0: ${paths.join(' ')}`;
  });

  return results;
}

const guard = setTimeout(() => {
  out(`FAIL the fidelity script did not finish within ${OVERALL_MS} ms`);
  finish(1);
}, OVERALL_MS);

main()
  .then((results) => {
    clearTimeout(guard);
    const failed = results.filter((r) => !r.ok).map((r) => r.name);
    if (uncaught.length) {
      out(`FAIL the SDK threw outside the checks: ${uncaught.join('; ')}`);
      failed.push('uncaught');
    }
    if (failed.length) out(`openim-client-sdk: failed: ${failed.join(', ')}`);
    finish(failed.length ? 1 : 0);
  })
  .catch((err) => {
    clearTimeout(guard);
    out(`FAIL ${err?.stack ?? err}`);
    finish(1);
  });
