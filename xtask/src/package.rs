//! `cargo xtask package`: the installable plugin directory.
//!
//! OpenClaw installs plugins with `--ignore-scripts`, so the addon ships prebuilt, next to a
//! loader of our own (napi-rs's generated one shells out to `ldd`, which the installer flags).
//! The manifest is generated from the built addon's own descriptor, so the config schemas in
//! `openclaw.plugin.json` can never drift from the Rust parsers, and the agent tools
//! (`contracts.tools`, `toolMetadata`) and root CLI commands (`cliCommands`) it declares are
//! exactly the ones the entry registers.
//!
//! Transport modules the descriptor lists (JS a channel runs in the gateway, such as NetEase's
//! SDK adapter) are copied to `transports/<name>.mjs`, and their npm packages become the
//! package's `dependencies`, pinned exactly and bundled: packaging installs them from the npm
//! registry into the package (`--ignore-scripts`, nothing is built), because OpenClaw installs
//! a plugin directory as it is.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xshell::{Shell, cmd};

use crate::{Result, root};

/// Every channel this workspace has.
pub const ALL_CHANNELS: &[&str] = &["weixin", "openim", "yunxin"];
/// Cargo features that exist for tests only and never ship.
const TEST_ONLY_FEATURES: &[&str] = &["testkit"];
/// The channel the `testkit` feature links.
const TEST_ONLY_CHANNELS: &[&str] = &["imbridge-testkit"];
pub const PLUGIN_DIR: &str = "dist/imbridge";

/// `linux-x64-gnu` and friends: the napi-rs platform naming.
pub fn platform_suffix() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    match std::env::consts::OS {
        "linux" => format!("linux-{arch}-gnu"),
        os => format!("{os}-{arch}"),
    }
}

pub fn library_name() -> &'static str {
    match std::env::consts::OS {
        "macos" => "libplugin_host.dylib",
        "windows" => "plugin_host.dll",
        _ => "libplugin_host.so",
    }
}

/// Builds and writes the package; returns its directory.
pub fn run(features: Option<Vec<String>>, release: bool) -> Result<PathBuf> {
    let sh = Shell::new()?;
    let root = root();
    sh.change_dir(&root);
    let features = features.unwrap_or_else(|| ALL_CHANNELS.iter().map(|s| s.to_string()).collect());
    if let Some(test_only) = features
        .iter()
        .find(|f| TEST_ONLY_FEATURES.contains(&f.as_str()))
    {
        return Err(
            format!("feature {test_only:?} is for tests only and is never packaged").into(),
        );
    }
    let features = features.join(",");
    let profile: &[&str] = if release { &["--release"] } else { &[] };
    cmd!(
        sh,
        "cargo build -p plugin-host {profile...} --features {features}"
    )
    .run()?;
    let built = root
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join(library_name());

    let out = root.join(PLUGIN_DIR);
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;
    let addon = format!("imbridge.{}.node", platform_suffix());
    fs::copy(&built, out.join(&addon))?;
    copy_entry(&root.join("crates/plugin-host/js"), &out)?;

    let descriptor = read_descriptor(&sh, &out.join(&addon))?;
    let transports = transports(&descriptor)?;
    if !transports.modules.is_empty() {
        fs::create_dir_all(out.join(TRANSPORTS_DIR))?;
    }
    for (name, source) in &transports.modules {
        let file = root.join(source);
        if !file.is_file() {
            return Err(format!("transport module {name}: {} is missing", file.display()).into());
        }
        fs::copy(&file, out.join(TRANSPORTS_DIR).join(format!("{name}.mjs")))?;
    }
    write_json(&out.join("openclaw.plugin.json"), &manifest(&descriptor)?)?;
    write_json(
        &out.join("package.json"),
        &package_json(&descriptor, &addon, &transports),
    )?;
    fs::write(out.join("README.md"), readme(&descriptor))?;
    if !transports.dependencies.is_empty() {
        // OpenClaw installs a plugin *directory* as it is (only archives get an npm install),
        // so the directory carries its npm packages, fetched here from the registry without
        // running any install script; `bundleDependencies` keeps them in a packed archive too.
        let _in_package = sh.push_dir(&out);
        cmd!(
            sh,
            "npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error"
        )
        .env("npm_config_ignore_scripts", "true")
        .run()?;
    }
    Ok(out)
}

/// The JS entry: `index.js` and the modules under `lib/` it imports.
fn copy_entry(js: &Path, out: &Path) -> Result {
    fs::copy(js.join("index.js"), out.join("index.js"))?;
    fs::create_dir_all(out.join(ENTRY_LIB_DIR))?;
    for entry in fs::read_dir(js.join(ENTRY_LIB_DIR))? {
        let path = entry?.path();
        if let Some(name) = path.file_name()
            && path.extension().is_some_and(|e| e == "js")
        {
            fs::copy(&path, out.join(ENTRY_LIB_DIR).join(name))?;
        }
    }
    Ok(())
}

/// The entry's modules, next to `index.js`.
const ENTRY_LIB_DIR: &str = "lib";

/// Where the JS entry looks for transport modules, next to itself.
const TRANSPORTS_DIR: &str = "transports";

/// The transport modules of every channel, and the npm packages they need.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transports {
    /// Module name → its source file, relative to the workspace root.
    pub modules: BTreeMap<String, String>,
    /// npm package → exact version.
    pub dependencies: BTreeMap<String, String>,
}

/// `1.2.3` or `10.9.77-alpha.4`: what npm installs as is, never a range.
fn is_exact_version(version: &str) -> bool {
    version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
}

/// The descriptor's `channels[].transports`, checked: a name is a file name, one name is one
/// source, and one npm package is one exact version across all modules.
pub fn transports(descriptor: &Value) -> Result<Transports> {
    let mut found = Transports::default();
    for channel in channels(descriptor)? {
        let id = channel["id"].as_str().unwrap_or("?");
        for module in channel["transports"].as_array().into_iter().flatten() {
            let (Some(name), Some(source)) = (module["name"].as_str(), module["source"].as_str())
            else {
                return Err(
                    format!("{id}: a transport module without name or source: {module}").into(),
                );
            };
            let valid_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid_name {
                return Err(format!("{id}: transport module name {name:?}").into());
            }
            if let Some(other) = found.modules.insert(name.to_owned(), source.to_owned())
                && other != source
            {
                return Err(format!("transport module {name}: both {other} and {source}").into());
            }
            let dependencies = module["npmDependencies"].as_object().into_iter().flatten();
            for (package, version) in dependencies {
                let version = version.as_str().unwrap_or_default();
                if !is_exact_version(version) {
                    return Err(format!(
                        "transport module {name}: {package}@{version:?} is not an exact version"
                    )
                    .into());
                }
                if let Some(other) = found
                    .dependencies
                    .insert(package.clone(), version.to_owned())
                    && other != version
                {
                    return Err(format!("npm package {package}: both {other} and {version}").into());
                }
            }
        }
    }
    Ok(found)
}

/// Loads the addon in Node and asks it what it contains.
/// Every export answers `{"ok": …}` or `{"error": …}`.
fn read_descriptor(sh: &Shell, addon: &Path) -> Result<Value> {
    let script = "process.stdout.write(require(process.argv[1]).descriptor())";
    let text = cmd!(sh, "node -e {script} {addon}").read()?;
    let mut envelope: Value = serde_json::from_str(&text)?;
    match envelope.get_mut("ok") {
        Some(descriptor) => Ok(descriptor.take()),
        None => Err(format!("the addon has no descriptor: {}", envelope["error"]).into()),
    }
}

fn channels(descriptor: &Value) -> Result<&Vec<Value>> {
    descriptor["channels"]
        .as_array()
        .ok_or_else(|| "descriptor has no channels".into())
}

pub fn manifest(descriptor: &Value) -> Result<Value> {
    let channels = channels(descriptor)?;
    if let Some(test_only) = channels
        .iter()
        .filter_map(|c| c["id"].as_str())
        .find(|id| TEST_ONLY_CHANNELS.contains(id))
    {
        return Err(
            format!("channel {test_only:?} is for tests only and is never packaged").into(),
        );
    }
    let ids: Vec<&Value> = channels.iter().map(|c| &c["id"]).collect();
    let configs: serde_json::Map<String, Value> = channels
        .iter()
        .filter_map(|c| {
            let id = c["id"].as_str()?;
            Some((
                id.to_owned(),
                json!({
                    "label": c["meta"]["label"],
                    "description": c["meta"]["blurb"],
                    "schema": c["configSchema"],
                }),
            ))
        })
        .collect();
    let mut manifest = json!({
        "id": descriptor["id"],
        "name": descriptor["name"],
        "description": descriptor["description"],
        "version": descriptor["version"],
        "categories": ["channels"],
        // The plugin itself takes no settings; each channel has its own section.
        "configSchema": {"type": "object", "additionalProperties": false, "properties": {}},
        "channels": ids,
        "channelConfigs": configs,
    });
    // Every `api.registerTool` name must be declared, with its `optional` flag, or OpenClaw
    // refuses the registration.
    let tools: Vec<&Value> = channels
        .iter()
        .filter_map(|c| c["actions"].as_array())
        .flatten()
        .filter(|a| a["kind"] == "tool")
        .collect();
    if !tools.is_empty() {
        let names: Vec<&Value> = tools.iter().map(|t| &t["name"]).collect();
        let metadata: serde_json::Map<String, Value> = tools
            .iter()
            .filter_map(|t| {
                let optional = t["optional"].as_bool().unwrap_or(false);
                Some((
                    t["name"].as_str()?.to_owned(),
                    json!({ "optional": optional }),
                ))
            })
            .collect();
        manifest["contracts"] = json!({ "tools": names });
        manifest["toolMetadata"] = Value::Object(metadata);
    }
    // Root commands, so `openclaw --help` lists them without loading the plugin.
    let commands: Vec<Value> = channels
        .iter()
        .filter_map(|c| c["commands"].as_array())
        .flatten()
        .map(|c| {
            let subcommands = c["subcommands"].as_array().map_or(0, Vec::len);
            json!({
                "name": c["command"],
                "description": c["description"],
                "hasSubcommands": subcommands > 0,
            })
        })
        .collect();
    if !commands.is_empty() {
        manifest["cliCommands"] = Value::Array(commands);
    }
    Ok(manifest)
}

fn package_json(descriptor: &Value, addon: &str, transports: &Transports) -> Value {
    let mut files = vec![
        "index.js",
        ENTRY_LIB_DIR,
        addon,
        "openclaw.plugin.json",
        "README.md",
    ];
    if !transports.modules.is_empty() {
        files.push(TRANSPORTS_DIR);
    }
    let mut package = json!({
        "name": descriptor["id"],
        "version": descriptor["version"],
        "description": descriptor["description"],
        "type": "module",
        "main": "./index.js",
        "license": "MIT OR Apache-2.0",
        "files": files,
        "os": [std::env::consts::OS],
        "cpu": [platform_suffix().split('-').nth(1).unwrap_or_default()],
        "openclaw": {
            "extensions": ["./index.js"],
            "install": {"minHostVersion": ">=2026.9.6"},
        },
    });
    if !transports.dependencies.is_empty() {
        package["dependencies"] = json!(transports.dependencies);
        package["bundleDependencies"] = json!(transports.dependencies.keys().collect::<Vec<_>>());
    }
    package
}

fn readme(descriptor: &Value) -> String {
    let ids: Vec<String> = channels(descriptor)
        .map(|c| {
            c.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "# {name}\n\nOpenClaw channel plugin with a prebuilt Rust addon. Channels: {ids}.\n\n\
         Install: `openclaw plugins install ./{dir} --force --accept-capabilities`\n",
        name = descriptor["name"].as_str().unwrap_or("imbridge"),
        ids = ids.join(", "),
        dir = PLUGIN_DIR.rsplit('/').next().unwrap_or("imbridge"),
    )
}

fn write_json(path: &Path, value: &Value) -> Result {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(channels: Value) -> Value {
        json!({"id": "imbridge", "name": "IM Bridge", "description": "d", "version": "0.1.0", "channels": channels})
    }

    fn channel(id: &str, actions: Value, commands: Value) -> Value {
        json!({
            "id": id,
            "meta": {"label": id, "blurb": "b"},
            "configSchema": {"type": "object"},
            "actions": actions,
            "commands": commands,
        })
    }

    #[test]
    fn tools_and_commands_are_declared_from_the_descriptor() {
        let actions = json!([
            {"name": "multi_openim_send_text", "kind": "tool", "description": "d", "parameters": {"type": "object"}, "optional": false},
            {"name": "multi_openim_send_file", "kind": "tool", "description": "d", "parameters": {"type": "object"}, "optional": true},
            {"name": "friend", "kind": "gatewayMethod", "description": "d", "parameters": {"type": "object"}, "optional": false},
        ]);
        let commands = json!([{"command": "multi-openim", "description": "OpenIM accounts", "subcommands": [
            {"name": "setup", "description": "s", "options": [{"flags": "--account <id>", "description": "a"}]}
        ]}]);
        let manifest = manifest(&descriptor(json!([
            channel("openclaw-weixin", json!([]), json!([])),
            channel("multi-openim", actions, commands),
        ])))
        .expect("manifest");
        assert_eq!(
            manifest["contracts"],
            json!({"tools": ["multi_openim_send_text", "multi_openim_send_file"]})
        );
        assert_eq!(
            manifest["toolMetadata"],
            json!({"multi_openim_send_text": {"optional": false}, "multi_openim_send_file": {"optional": true}})
        );
        assert_eq!(
            manifest["cliCommands"],
            json!([{"name": "multi-openim", "description": "OpenIM accounts", "hasSubcommands": true}])
        );
        assert_eq!(
            manifest["channels"],
            json!(["openclaw-weixin", "multi-openim"])
        );
    }

    #[test]
    fn a_channel_without_actions_adds_no_empty_sections() {
        let manifest = manifest(&descriptor(json!([channel(
            "openclaw-weixin",
            json!([]),
            json!([])
        )])))
        .expect("manifest");
        for key in ["contracts", "toolMetadata", "cliCommands"] {
            assert!(manifest.get(key).is_none(), "{key}: {manifest}");
        }
    }

    #[test]
    fn transport_modules_become_files_and_exact_dependencies() {
        let mut sdk = channel("netease-yunxin", json!([]), json!([]));
        sdk["transports"] = json!([{
            "name": "nim-sdk",
            "source": "crates/yunxin/js/nim-sdk.mjs",
            "npmDependencies": {"nim-web-sdk-ng": "10.9.77-alpha.4"},
        }]);
        let both = descriptor(json!([
            channel("openclaw-weixin", json!([]), json!([])),
            sdk
        ]));
        let found = transports(&both).expect("transports");
        assert_eq!(
            found.modules,
            BTreeMap::from([("nim-sdk".into(), "crates/yunxin/js/nim-sdk.mjs".into())])
        );
        let package = package_json(&both, "imbridge.linux-x64-gnu.node", &found);
        assert_eq!(
            package["dependencies"],
            json!({"nim-web-sdk-ng": "10.9.77-alpha.4"})
        );
        assert!(
            package["files"]
                .as_array()
                .expect("files")
                .contains(&json!("transports"))
        );

        let plain = descriptor(json!([channel("openclaw-weixin", json!([]), json!([]))]));
        let none = transports(&plain).expect("none");
        assert_eq!(none, Transports::default());
        let package = package_json(&plain, "a.node", &none);
        assert!(package.get("dependencies").is_none(), "{package}");
        assert!(
            !package["files"]
                .as_array()
                .expect("files")
                .contains(&json!("transports"))
        );
    }

    #[test]
    fn transport_modules_with_ranges_bad_names_or_clashes_are_refused() {
        let with = |modules: Value| {
            let mut c = channel("netease-yunxin", json!([]), json!([]));
            c["transports"] = modules;
            transports(&descriptor(json!([c])))
        };
        let module = |name: &str, source: &str, version: &str| json!({"name": name, "source": source, "npmDependencies": {"nim-web-sdk-ng": version}});
        for (modules, expected) in [
            (
                json!([module("nim-sdk", "a.mjs", "^10.9.77")]),
                "not an exact version",
            ),
            (
                json!([module("nim-sdk", "a.mjs", "latest")]),
                "not an exact version",
            ),
            (json!([module("../evil", "a.mjs", "1.0.0")]), "module name"),
            (
                json!([
                    module("nim-sdk", "a.mjs", "1.0.0"),
                    module("nim-sdk", "b.mjs", "1.0.0")
                ]),
                "both a.mjs and b.mjs",
            ),
            (
                json!([
                    module("one", "a.mjs", "1.0.0"),
                    module("two", "b.mjs", "1.0.1")
                ]),
                "both 1.0.0 and 1.0.1",
            ),
        ] {
            let err = with(modules).expect_err("refused");
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn the_test_only_channel_is_never_packaged() {
        let err = manifest(&descriptor(json!([channel(
            "imbridge-testkit",
            json!([]),
            json!([])
        )])))
        .expect_err("refused");
        assert!(err.to_string().contains("tests only"), "{err}");
        let err = run(Some(vec!["weixin".into(), "testkit".into()]), false).expect_err("refused");
        assert!(err.to_string().contains("\"testkit\""), "{err}");
    }
}
