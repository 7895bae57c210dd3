// The Rust addon, loaded once per process, with every export unwrapped: an export returns
// `{"ok": value}` or `{"error": {kind, code, message, retryable, rpcCode}}` (see
// boundary.schema.json), so a value comes back as it is and an error is thrown as an
// ImbridgeError carrying those fields. Nothing here reads meaning out of an error's text.
import path from "node:path";
import { fileURLToPath } from "node:url";

import { loadAddon } from "./addon.js";

// The package root: `transports/` sits next to index.js, and the addon in a package of its own
// (see addon.js).
export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// A failure Rust reported. `kind` is channel-core's ErrorKind; `retryable` and `rpcCode` are
// Rust's decisions about it; `code` is the failing server's or module's own code, if any.
export class ImbridgeError extends Error {
  constructor({ kind, code, message, retryable, rpcCode }) {
    super(message);
    this.name = "ImbridgeError";
    this.kind = kind;
    if (code != null) this.code = code;
    this.retryable = retryable === true;
    this.rpcCode = rpcCode;
  }
}

function unwrap(text) {
  const envelope = JSON.parse(text);
  if (Object.hasOwn(envelope, "error")) throw new ImbridgeError(envelope.error);
  return envelope.ok;
}

function unwrapped(addon) {
  const calls = {};
  for (const [name, fn] of Object.entries(addon)) {
    if (typeof fn !== "function") continue;
    calls[name] = (...args) => {
      const out = fn(...args);
      return typeof out?.then === "function" ? out.then(unwrap) : unwrap(out);
    };
  }
  return Object.freeze(calls);
}

// One addon per process. The gateway evaluates the entry more than once (registration modes),
// and may do so from a temporary copy of the package: a second copy of the `.node` file would
// load with Rust statics of its own (channel registry, running accounts), and a tool or RPC
// served by that evaluation would miss the live connections started by the first one.
export const native = (globalThis[Symbol.for("imbridge.addon")] ??= unwrapped(loadAddon(packageDir)));

// The plugin and its channels, as Rust describes them.
export const plugin = native.descriptor();
