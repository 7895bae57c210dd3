// Transport modules of a session, and the `transport.*` host services that drive them.
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { native, packageDir } from "./native.js";

// Transport modules: JS a channel runs in this process (NetEase's SDK, say), shipped in the
// package as `transports/<name>.mjs` and declared in the channel's descriptor. Each exports
// `open({options, emit, log}) -> {call(method, params), close()}`. Rust opens, calls and closes
// them through requests; what they emit goes back through `native.transportEvent`.
// Loaded once per process (and file), however often this entry is evaluated.
const transportModules = (globalThis[Symbol.for("imbridge.transportModules")] ??= new Map());

// The package's `transports/`, or IMBRIDGE_TRANSPORTS_DIR (tests, development: a directory of
// `<name>.mjs` files, such as crates/yunxin/js).
function transportsDir() {
  return process.env.IMBRIDGE_TRANSPORTS_DIR || path.join(packageDir, "transports");
}

export async function loadTransport(d, name) {
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
export function sessionTransports(d, handle, label, log) {
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

