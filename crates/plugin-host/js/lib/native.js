// The Rust addon, loaded once per process, with every export unwrapped: an export returns
// `{"ok": value}` or `{"error": {kind, code, message, retryable, rpcCode}}` (see
// boundary.schema.json), so a value comes back as it is and an error is thrown as an
// ImbridgeError carrying those fields. Nothing here reads meaning out of an error's text.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The package root: the addon and `transports/` sit next to index.js.
export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

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

// Our own loader: napi-rs's generated one shells out to `ldd`, which OpenClaw's installer
// reports as a dangerous exec.
function loadAddon() {
  const arch = process.arch;
  const names =
    process.platform === "linux"
      ? [`imbridge.linux-${arch}-gnu.node`, "imbridge.node"]
      : [`imbridge.${process.platform}-${arch}.node`, "imbridge.node"];
  const failures = [];
  // IMBRIDGE_ADDON points at a freshly built addon (tests, development).
  const candidates = process.env.IMBRIDGE_ADDON ? [process.env.IMBRIDGE_ADDON] : names.map((n) => path.join(packageDir, n));
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
  throw new Error(`imbridge: no native addon for ${process.platform}-${arch} in ${packageDir}\n${failures.join("\n")}`);
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
export const native = (globalThis[Symbol.for("imbridge.addon")] ??= unwrapped(loadAddon()));

// The plugin and its channels, as Rust describes them.
export const plugin = native.descriptor();
