// imbridge: the OpenClaw entry. It knows no channel: every ChannelPlugin is built from a
// descriptor the Rust addon exports, every decision is made in Rust, and the files under lib/
// only forward host calls to Rust and Rust's requests to the host:
//   lib/native.js      the addon, its exports unwrapped (errors as ImbridgeError)
//   lib/channel.js     the ChannelPlugin of one channel
//   lib/services.js    host services a running account asks for (routing, pairing, turns, …)
//   lib/transports.js  transport modules (JS SDKs a channel runs in this process)
//   lib/actions.js     agent tools, gateway methods and CLI commands
//   lib/session.js     pulling a session's events and answering its requests
// boundary.schema.json describes every event, request and answer that crosses.
import { runAction, runCommand, rpcError, toolMediaRoots } from "./lib/actions.js";
import { buildChannel } from "./lib/channel.js";
import { native, plugin } from "./lib/native.js";

// Rust's logs go to OpenClaw's logger (and so its log file), pulled by an unref'd timer that
// never keeps a process alive. One pump per loaded addon, however often this module is evaluated.
const pumps = (globalThis[Symbol.for("imbridge.logPumps")] ??= new WeakSet());
function pumpLogs(logger) {
  if (pumps.has(native) || typeof logger?.info !== "function") return;
  pumps.add(native);
  const flush = () => {
    for (const line of native.drainLogs()) {
      (logger[line.level] ?? logger.info).call(logger, `[imbridge] ${line.message}`);
    }
  };
  flush(); // switches Rust's output over from stderr right away
  setInterval(flush, 250).unref();
}

// A channel's tools go to the agent only where the channel has a config section: every tool
// offered is in each turn's tool catalogue and prompt, and without a section the channel has
// no account for it to act for. A context without config (discovery) gets every tool.
function channelConfigured(ctx, channelId) {
  const config = ctx?.getRuntimeConfig?.() ?? ctx?.runtimeConfig ?? ctx?.config;
  return config == null || config.channels?.[channelId] != null;
}

// Every Tool action as an agent tool (declared in the manifest's `contracts.tools`). A factory,
// so each call knows the calling agent's workspace and config.
function registerTools(api) {
  if (typeof api.registerTool !== "function") return;
  for (const d of plugin.channels) {
    for (const spec of d.actions ?? []) {
      if (spec.kind !== "tool") continue;
      const factory = (ctx) => channelConfigured(ctx, d.id) ? ({
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
      }) : null;
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

// `openclaw channels add` finds a channel's flags in catalog metadata, read before any plugin
// loads; package.json carries it for one channel, so Rust lists the others in the user
// catalog wherever the host loads the channels: in the gateway, and in the CLI's discovery and
// setup (`channels login`, `channels add` of the package channel), which may come before the
// gateway's first start. Once per process.
function publishCatalog(logger) {
  if (globalThis[Symbol.for("imbridge.catalogPublished")]) return;
  globalThis[Symbol.for("imbridge.catalogPublished")] = true;
  try {
    const published = native.publishCatalog();
    if (published?.written?.length) logger?.info?.(`[imbridge] ${published.written.join(", ")} listed in ${published.path} for \`openclaw channels add\``);
    if (published?.claimed?.length) logger?.warn?.(`[imbridge] ${published.path}: another plugin's entry holds ${published.claimed.join(", ")}; \`openclaw channels add\` uses that one`);
  } catch (err) {
    logger?.warn?.(`[imbridge] channel catalog not updated: ${err.message}`);
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
    if (mode === "full" || mode === "discovery" || mode === "setup-only") publishCatalog(api.logger);
  },
};
