// Actions (agent tools, gateway methods) and CLI commands: Rust sessions that run to a result.
import path from "node:path";
import { native, plugin } from "./native.js";
import { applyConfigEdit, currentConfig, hostServices, mutateConfig, runtimeOf, sectionOf } from "./services.js";
import { drive, terminalPrompter } from "./session.js";
import { sessionTransports } from "./transports.js";

// Runs one of a channel's actions to its end; `signal` cancels it.
// `mediaRoots`: the directories whose files the caller may send (none for operator RPCs, which
// name URLs).
export async function runAction(api, id, name, args, signal, mediaRoots = []) {
  const handle = await native.startAction(id, sectionOf(currentConfig(api), id), name, JSON.stringify(args ?? {}));
  const d = plugin.channels.find((c) => c.id === id);
  const log = api?.logger ?? console;
  const transports = sessionTransports(d, handle, name, log);
  const services = { ...hostServices(api), ...transports.services, "media.roots": () => mediaRoots };
  const cancel = () => native.stopAccount(handle);
  signal?.addEventListener("abort", cancel, { once: true });
  if (signal?.aborted) cancel();
  try {
    return await drive(handle, {
      log,
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
export async function runCommand(api, id, command, subcommand, options, cfg) {
  const say = (text) => process.stdout.write(`${text}\n`);
  const terminal = terminalPrompter();
  let outcome;
  try {
    const handle = await native.startCommand(id, sectionOf(currentConfig(api, cfg), id), command, subcommand, JSON.stringify(options ?? {}));
    outcome = await drive(handle, {
      log: api?.logger,
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

// A failed action as a gateway RPC error: the code and retryability Rust chose for it. An error
// that did not come from Rust (a bug here) is "unavailable".
export function rpcError(err) {
  return {
    code: err?.rpcCode ?? "UNAVAILABLE",
    message: String(err?.message ?? err),
    ...(err?.retryable ? { retryable: true } : {}),
  };
}

// Local files an agent's tool call may send: that agent's workspace and the host's media store,
// where inbound and generated media land.
export function toolMediaRoots(api, ctx) {
  const roots = [];
  if (typeof ctx?.workspaceDir === "string" && ctx.workspaceDir) roots.push(ctx.workspaceDir);
  try {
    const state = runtimeOf(api)?.state?.resolveStateDir?.();
    if (state) roots.push(path.join(state, "media"));
  } catch {
    // No state dir: the workspace alone.
  }
  return roots;
}
