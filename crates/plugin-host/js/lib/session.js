// Driving one Rust session (a login, an action, a command) from JS: pulling its events,
// answering its requests, and the terminal its questions are asked on.
import readline from "node:readline";
import { ImbridgeError, native } from "./native.js";

// The events that end a session, and the field holding its result.
const FINAL_EVENTS = { loginDone: "result", actionDone: "result", commandDone: "outcome" };

// A failed request's answer for Rust (`HostFailure`): the message, and the code the failing
// module gave (a transport's NIM code), which Rust keeps apart from the text.
export function failureOf(err) {
  const code = err?.code;
  return {
    message: String(err?.message ?? err),
    code: typeof code === "number" || typeof code === "string" ? code : null,
  };
}

// Answers request `event` of session `handle` with what `serve` returns or throws. Never throws:
// it runs detached, and an unhandled rejection would take the gateway down.
export async function answer(handle, event, serve, log) {
  let reply;
  try {
    reply = [true, JSON.stringify((await serve()) ?? null)];
  } catch (err) {
    log?.debug?.(`imbridge: ${event.op} failed: ${err?.stack ?? err}`);
    reply = [false, JSON.stringify(failureOf(err))];
  }
  try {
    native.respond(handle, event.id, ...reply);
  } catch (err) {
    log?.warn?.(`imbridge: could not answer ${event.op}: ${err?.message ?? err}`);
  }
}

// The events of session `handle` as Rust pushes them: `next()` resolves with every event
// that arrived since the last call (at least one), or null once the session is over.
export function eventsOf(handle, log) {
  const queue = [];
  let over = false;
  let wake = null;
  // Called from Node's event loop on Rust's behalf: a throw here would be uncaught.
  const heard = (json) => {
    try {
      if (json == null) over = true;
      else queue.push(JSON.parse(json));
    } catch (err) {
      log?.error?.(`imbridge: an event of session ${handle} could not be read: ${err?.message ?? err}`);
    }
    const waiting = wake;
    wake = null;
    waiting?.();
  };
  if (!native.listen(handle, heard)) over = true;
  return {
    async next() {
      while (queue.length === 0) {
        if (over) return null;
        await new Promise((resolve) => (wake = resolve));
      }
      return queue.splice(0);
    },
  };
}

// Drives a session's events until it ends and returns its result. `onRequest` answers host
// requests; `onEvent` sees qr/message events. The handle is released at the end.
export async function drive(handle, { onRequest, onEvent, log }) {
  try {
    const stream = eventsOf(handle, log);
    for (;;) {
      const events = await stream.next();
      if (events == null) throw new Error("session ended without a result");
      for (const event of events) {
        if (Object.hasOwn(FINAL_EVENTS, event.type)) return event[FINAL_EVENTS[event.type]];
        if (event.type === "stopped") throw event.error ? new ImbridgeError(event.error) : new Error("stopped");
        if (event.type === "request") {
          await answer(handle, event, () => onRequest(event), log);
        } else {
          await onEvent?.(event);
        }
      }
    }
  } finally {
    native.release(handle);
  }
}

// Questions on the terminal: one line reader for a whole login or command, so answers piped in
// all at once are not lost between questions. Secret answers are not echoed on a terminal.
export function terminalPrompter(input = process.stdin, output = process.stdout) {
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

// Resolves once `done(state)` holds (checked whenever a waiter is woken) or after `timeoutMs`.
export function waitFor(state, done, timeoutMs) {
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
