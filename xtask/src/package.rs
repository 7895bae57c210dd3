//! `cargo xtask package`: the plugin package and its platform package, as directories and as
//! `npm pack` archives.
//!
//! OpenClaw installs plugins with `--ignore-scripts`, so the addon ships prebuilt, in a package
//! per platform that npm picks by `os`, `cpu` and `libc` (see docs/release.md), found by a
//! loader of our own (napi-rs's generated one shells out to `ldd`, which the installer flags).
//! Each channel's `preferOver` names the plugins it replaces; a package of one channel alone
//! takes the plugin id of the plugin that channel replaces.
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

use crate::registry::Packed;
use crate::{Result, root, target_dir, toolchain, zigbuild};

/// Every channel this workspace has.
pub const ALL_CHANNELS: &[&str] = &["weixin", "openim", "yunxin"];
/// Cargo features that exist for tests only and never ship.
const TEST_ONLY_FEATURES: &[&str] = &["testkit"];
/// The channel the `testkit` feature links.
const TEST_ONLY_CHANNELS: &[&str] = &["imbridge-testkit"];
/// Where packages are written: `dist/<npm package>/` and its archive.
const DIST: &str = "dist";

/// `linux-x64-gnu` and friends: the napi-rs platform naming, which the JS loader computes too
/// (`lib/native.js`).
pub fn platform_suffix() -> String {
    let (os, cpu) = (node_os(), node_cpu());
    match (os, cfg!(target_env = "musl")) {
        ("linux", false) => format!("linux-{cpu}-gnu"),
        ("linux", true) => format!("linux-{cpu}-musl"),
        ("win32", _) => format!("win32-{cpu}-msvc"),
        _ => format!("{os}-{cpu}"),
    }
}

pub(crate) fn library_name() -> &'static str {
    match std::env::consts::OS {
        "macos" => "libplugin_host.dylib",
        "windows" => "plugin_host.dll",
        _ => "libplugin_host.so",
    }
}

/// Builds and writes the packages.
pub fn run(features: Option<Vec<String>>, release: bool) -> Result<Packaged> {
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
    let built = build(&sh, &features, release)?;

    let platform = platform_suffix();
    // The platform package: the addon alone, installed by npm only where `os`, `cpu` and
    // `libc` match (the way swc and rolldown ship theirs).
    let addon = format!("imbridge.{platform}.node");
    let staging = root.join(DIST).join(".staging");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)?;
    fs::copy(&built, staging.join(&addon))?;
    let descriptor = read_descriptor(&sh, &staging.join(&addon));
    let _ = fs::remove_dir_all(&staging);
    let descriptor = descriptor?;
    let main_name = package_name(&descriptor)?.to_owned();
    let platform_name = format!("{main_name}-{platform}");
    let platform_dir = root.join(DIST).join(&platform_name);
    if platform_dir.exists() {
        fs::remove_dir_all(&platform_dir)?;
    }
    fs::create_dir_all(&platform_dir)?;
    fs::copy(&built, platform_dir.join(&addon))?;
    let platform_manifest = platform_package_json(&descriptor, &platform_name, &addon);
    write_json(&platform_dir.join("package.json"), &platform_manifest)?;
    fs::write(
        platform_dir.join("README.md"),
        format!(
            "# {platform_name}\n\nThe prebuilt addon of `{main_name}` for {platform}. Install `{main_name}`, \
             which depends on it.\n"
        ),
    )?;

    let out = root.join(DIST).join(&main_name);
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;
    copy_entry(&root.join("crates/plugin-host/js"), &out)?;
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
    fs::write(out.join("README.md"), readme(&descriptor))?;
    let mut package = package_json(&descriptor, &transports);
    if !transports.dependencies.is_empty() {
        // OpenClaw installs a plugin *directory* as it is (only archives get an npm install),
        // so the directory carries its npm packages, fetched here from the registry without
        // running any install script; `bundleDependencies` keeps them in a packed archive too.
        // The platform package is not published yet, so it is declared only after this.
        write_json(&out.join("package.json"), &package)?;
        let _in_package = sh.push_dir(&out);
        cmd!(
            sh,
            "npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error"
        )
        .env("npm_config_ignore_scripts", "true")
        .run()?;
    }
    declare_platforms(&mut package, &[platform_name.as_str()]);
    write_json(&out.join("package.json"), &package)?;
    // The directory loads as it is: the platform package sits where npm would put it. A packed
    // archive leaves it out (it is not bundled), and an install fetches it from the registry.
    copy_dir(
        &platform_dir,
        &out.join("node_modules").join(&platform_name),
    )?;

    let tarball = npm_pack_dir(&sh, &out)?;
    let platform_tarball = npm_pack_dir(&sh, &platform_dir)?;
    Ok(Packaged {
        dir: out,
        tarball,
        platform: Packed {
            manifest: platform_manifest,
            tarball: platform_tarball,
        },
    })
}

/// What `cargo xtask package` wrote under `dist/`.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The plugin directory, installable as it is (`openclaw plugins install <dir>`), with this
    /// machine's platform package in its `node_modules`.
    pub dir: PathBuf,
    /// `npm pack` of the plugin: what a registry serves. It needs its platform package.
    pub tarball: PathBuf,
    /// The platform package this machine built, packed.
    pub platform: Packed,
}

/// `npm pack` of a package directory into `dist/`; the archive's path.
fn npm_pack_dir(sh: &Shell, dir: &Path) -> Result<PathBuf> {
    let dist = dir.parent().ok_or("a package directory at the root")?;
    let _in_package = sh.push_dir(dir);
    let out = cmd!(sh, "npm pack --pack-destination {dist} --silent").read()?;
    let name = out.lines().last().unwrap_or_default().trim();
    let tarball = dist.join(name);
    if name.is_empty() || !tarball.is_file() {
        return Err(format!(
            "npm pack in {} wrote no archive (it said {out:?})",
            dir.display()
        )
        .into());
    }
    Ok(tarball)
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Set by `cargo xtask ci`: a release package that cannot be linked for the glibc baseline is
/// an error there, not a fallback.
static REQUIRE_BASELINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every later release package of this process fail unless it is linked for the glibc
/// baseline.
pub fn require_glibc_baseline() {
    REQUIRE_BASELINE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Builds the addon; returns the shared library. A release build on Linux links against glibc
/// 2.17's symbol versions through zig, and is refused if it needs a newer glibc all the same;
/// without zig (no registry, another platform) it is a plain build for this machine's glibc,
/// and says so.
fn build(sh: &Shell, features: &str, release: bool) -> Result<PathBuf> {
    let target = target_dir();
    let zig = if release && cfg!(all(target_os = "linux", target_env = "gnu")) {
        match zigbuild::ensure() {
            Ok(zig) => Some(zig),
            Err(err) if REQUIRE_BASELINE.load(std::sync::atomic::Ordering::Relaxed) => {
                return Err(format!("zig, needed for the glibc baseline: {err}").into());
            }
            Err(err) => {
                eprintln!(
                    "xtask: zig is not available ({err}); building with this machine's toolchain, \
                     so the addon needs this machine's glibc or newer"
                );
                None
            }
        }
    } else {
        None
    };
    let Some(zig) = zig else {
        let profile: &[&str] = if release { &["--release"] } else { &[] };
        cmd!(
            sh,
            "cargo build -p plugin-host {profile...} --features {features}"
        )
        .run()?;
        let built = target
            .join(if release { "release" } else { "debug" })
            .join(library_name());
        if let Some((major, minor)) = zigbuild::newest_glibc_needed(&fs::read(&built)?)? {
            eprintln!(
                "xtask: this addon needs GLIBC_{major}.{minor}: it loads only where glibc is at \
                 least that (the release package is linked for {}.{})",
                zigbuild::GLIBC_BASELINE.0,
                zigbuild::GLIBC_BASELINE.1
            );
        }
        return Ok(built);
    };
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let (major, minor) = zigbuild::GLIBC_BASELINE;
    let versioned = format!("{triple}.{major}.{minor}");
    let cargo_zigbuild = &zig.cargo_zigbuild;
    cmd!(
        sh,
        "{cargo_zigbuild} build -p plugin-host --release --target {versioned} --features {features}"
    )
    .env("CARGO_ZIGBUILD_ZIG_PATH", &zig.zig)
    .env("CARGO_ZIGBUILD_CACHE_DIR", &zig.cache)
    .run()?;
    let built = target.join(&triple).join("release").join(library_name());
    match zigbuild::newest_glibc_needed(&fs::read(&built)?)? {
        Some(needed) if needed > zigbuild::GLIBC_BASELINE => Err(format!(
            "{} needs GLIBC_{}.{}, above the {major}.{minor} baseline: a dependency calls a newer \
             glibc function",
            built.display(),
            needed.0,
            needed.1
        )
        .into()),
        needed => {
            let needed =
                needed.map_or("no glibc version".into(), |(a, b)| format!("GLIBC_{a}.{b}"));
            eprintln!("xtask: the addon needs {needed} at most (baseline {major}.{minor})");
            Ok(built)
        }
    }
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

/// The npm package: `imbridge`, or `imbridge-<channel>` for one channel alone.
fn package_name(descriptor: &Value) -> Result<&str> {
    descriptor["package"]
        .as_str()
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .ok_or_else(|| {
            format!(
                "the descriptor's npm package name: {}",
                descriptor["package"]
            )
            .into()
        })
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
            let mut config = json!({
                "label": c["meta"]["label"],
                "description": c["meta"]["blurb"],
                "schema": c["configSchema"],
                "uiHints": c["uiHints"],
            });
            // The plugins this channel replaces: OpenClaw prefers ours for the channel when
            // one of them is installed too, unless the user enabled both explicitly.
            let replaced: Vec<&Value> = c["replaces"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|plugin| **plugin != descriptor["id"])
                .collect();
            if !replaced.is_empty() {
                config["preferOver"] = json!(replaced);
            }
            Some((id.to_owned(), config))
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

fn package_json(descriptor: &Value, transports: &Transports) -> Value {
    let mut files = vec![
        "index.js",
        ENTRY_LIB_DIR,
        "openclaw.plugin.json",
        "README.md",
    ];
    if !transports.modules.is_empty() {
        files.push(TRANSPORTS_DIR);
    }
    let mut package = json!({
        "name": descriptor["package"],
        "version": descriptor["version"],
        "description": descriptor["description"],
        "type": "module",
        "main": "./index.js",
        "license": "MIT OR Apache-2.0",
        "files": files,
        "openclaw": {
            "extensions": ["./index.js"],
            "compat": {"pluginApi": host_floor()},
            "build": {"openclawVersion": toolchain::OPENCLAW_VERSION},
            "install": {"minHostVersion": host_floor()},
        },
    });
    // `openclaw channels add` reads a channel's flags from here before any plugin loads. One
    // channel fits; a package of several lists the others in the user catalog when it loads.
    if let Some(channel) = channels(descriptor).ok().and_then(|all| {
        all.iter()
            .find(|c| c["id"] == descriptor["packageChannel"])
            .map(|c| c["catalog"].clone())
    }) {
        package["openclaw"]["channel"] = channel;
    }
    if !transports.dependencies.is_empty() {
        package["dependencies"] = json!(transports.dependencies);
        package["bundleDependencies"] = json!(transports.dependencies.keys().collect::<Vec<_>>());
    }
    package
}

/// The oldest OpenClaw the package says it runs on: the one the e2e runs it in. Nothing older is
/// tested, and the plugin API moves between releases (deprecations with removal dates), so an
/// older host is refused at install rather than failing at run time.
fn host_floor() -> String {
    format!(">={}", toolchain::OPENCLAW_VERSION)
}

/// The platform packages the plugin depends on: optional, so npm installs the one whose `os`,
/// `cpu` and `libc` fit, and required by OpenClaw, which retries or rolls the install back when
/// npm skipped the one that fits.
fn declare_platforms(package: &mut Value, platforms: &[&str]) {
    let version = package["version"].clone();
    package["optionalDependencies"] = platforms
        .iter()
        .map(|name| ((*name).to_owned(), version.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    package["openclaw"]["install"]["requiredPlatformPackages"] = json!(platforms);
}

/// The package of one platform's addon.
fn platform_package_json(descriptor: &Value, name: &str, addon: &str) -> Value {
    let (os, cpu) = (node_os(), node_cpu());
    let mut package = json!({
        "name": name,
        "version": descriptor["version"],
        "description": format!("{}: the prebuilt addon for {}", descriptor["package"].as_str().unwrap_or("imbridge"), platform_suffix()),
        "main": addon,
        "license": "MIT OR Apache-2.0",
        "files": [addon, "README.md"],
        "os": [os],
        "cpu": [cpu],
    });
    if os == "linux" {
        package["libc"] = json!([if cfg!(target_env = "musl") {
            "musl"
        } else {
            "glibc"
        }]);
    }
    package
}

/// Node's `process.platform` for this machine.
fn node_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        os => os,
    }
}

/// Node's `process.arch` for this machine.
fn node_cpu() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        arch => arch,
    }
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
         Install from the registry: `openclaw plugins install {id} --accept-capabilities`. \
         The addon comes in a package of its own per platform ({id}-linux-x64-gnu and so on), \
         which npm picks.\n\n\
         Install this directory as it is: `openclaw plugins install ./{dir} --force --accept-capabilities`\n",
        name = descriptor["name"].as_str().unwrap_or("imbridge"),
        id = descriptor["package"].as_str().unwrap_or("imbridge"),
        ids = ids.join(", "),
        dir = descriptor["package"].as_str().unwrap_or("imbridge"),
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
        json!({"id": "imbridge", "package": "imbridge", "name": "IM Bridge", "description": "d", "version": "0.1.0", "channels": channels})
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

    /// OpenClaw rejects a floor it cannot parse at install; the e2e's installs prove the host
    /// takes these, this that they are all there and all the tested version.
    #[test]
    fn publishing_metadata_names_the_openclaw_the_e2e_runs() {
        let plain = descriptor(json!([channel("openclaw-weixin", json!([]), json!([]))]));
        let package = package_json(&plain, &Transports::default());
        let tested = toolchain::OPENCLAW_VERSION;
        let floor = format!(">={tested}");
        assert_eq!(package["openclaw"]["build"]["openclawVersion"], tested);
        assert_eq!(package["openclaw"]["compat"]["pluginApi"], floor.as_str());
        assert_eq!(
            package["openclaw"]["install"]["minHostVersion"],
            floor.as_str()
        );
        let parts: Vec<&str> = tested.split('.').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
            "{tested} is not the YYYY.M.D form OpenClaw's semver floors take"
        );
    }

    /// `openclaw channels add` reads one channel's flags from package.json: the one the
    /// descriptor names, whatever else the package holds.
    #[test]
    fn package_json_describes_the_package_channel_for_channels_add() {
        let mut openim = channel("multi-openim", json!([]), json!([]));
        openim["catalog"] = json!({"id": "multi-openim", "label": "OpenIM", "setup": {"fields": [
            {"key": "wsAddr", "kind": "string", "cli": {"flags": "--ws-addr <value>", "description": "d"}}]}});
        let mut yunxin = channel("netease-yunxin", json!([]), json!([]));
        yunxin["catalog"] =
            json!({"id": "netease-yunxin", "label": "NIM", "setup": {"fields": []}});
        let mut all = descriptor(json!([openim.clone(), yunxin]));
        all["packageChannel"] = json!("multi-openim");
        let package = package_json(&all, &Transports::default());
        assert_eq!(package["openclaw"]["channel"], openim["catalog"]);
        all["packageChannel"] = Value::Null;
        let package = package_json(&all, &Transports::default());
        assert!(package["openclaw"].get("channel").is_none());
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
        let package = package_json(&both, &found);
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
        let package = package_json(&plain, &none);
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
    fn channels_prefer_themselves_over_the_plugins_they_replace() {
        let mut weixin = channel("openclaw-weixin", json!([]), json!([]));
        weixin["replaces"] = json!(["openclaw-weixin"]);
        let mut openim = channel("multi-openim", json!([]), json!([]));
        openim["replaces"] = json!(["multi-openim-channel"]);
        let all = manifest(&descriptor(json!([weixin.clone(), openim]))).expect("manifest");
        assert_eq!(
            all["channelConfigs"]["openclaw-weixin"]["preferOver"],
            json!(["openclaw-weixin"])
        );
        assert_eq!(
            all["channelConfigs"]["multi-openim"]["preferOver"],
            json!(["multi-openim-channel"])
        );
        // A package of WeChat alone is `openclaw-weixin` itself: nothing to prefer over.
        let mut alone = descriptor(json!([weixin]));
        alone["id"] = json!("openclaw-weixin");
        alone["package"] = json!("imbridge-openclaw-weixin");
        let manifest = manifest(&alone).expect("manifest");
        assert_eq!(manifest["id"], json!("openclaw-weixin"));
        assert!(
            manifest["channelConfigs"]["openclaw-weixin"]
                .get("preferOver")
                .is_none()
        );
        assert_eq!(
            package_name(&alone).expect("name"),
            "imbridge-openclaw-weixin"
        );
        alone["package"] = json!("../evil");
        assert!(package_name(&alone).is_err());
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
