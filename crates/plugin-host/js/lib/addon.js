// Finds and loads the Rust addon for this machine. It comes in a package of its own per
// platform (`imbridge-linux-x64-gnu` and so on, napi-rs's naming), which npm installs next to
// ours as an optional dependency only where its `os`, `cpu` and `libc` fit. A `.node` file in
// our own package (an older layout, a development build) is taken too.
//
// Our own loader: napi-rs's generated one shells out to `ldd`, which OpenClaw's installer
// reports as a dangerous exec. glibc or musl is read from `process.report` instead.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// The glibc version Node runs on (`"2.31"`), or null on musl and other C libraries.
export function glibcVersion() {
  if (process.platform !== "linux") return null;
  try {
    return process.report.getReport().header.glibcVersionRuntime ?? null;
  } catch {
    return null;
  }
}

// This machine's platform as the packages are named: linux-x64-gnu, linux-arm64-musl,
// darwin-arm64, win32-x64-msvc.
export function platformName({ platform = process.platform, arch = process.arch, glibc } = {}) {
  if (platform === "linux") {
    const libc = (glibc === undefined ? glibcVersion() : glibc) ? "gnu" : "musl";
    return `${platform}-${arch}-${libc}`;
  }
  if (platform === "win32") return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function readPackage(packageDir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));
  } catch {
    return {};
  }
}

// The files to try, in order: `IMBRIDGE_ADDON` (tests, development), the platform package,
// the package's own `.node` file.
export function addonCandidates(packageDir, { env = process.env, platform = platformName() } = {}) {
  if (env.IMBRIDGE_ADDON) return [env.IMBRIDGE_ADDON];
  const name = readPackage(packageDir).name ?? "imbridge";
  const candidates = [];
  try {
    const require = createRequire(path.join(packageDir, "package.json"));
    candidates.push(require.resolve(`${name}-${platform}`));
  } catch {
    // Not installed: npm skipped it (another platform) or it was never published for this one.
  }
  candidates.push(path.join(packageDir, `imbridge.${platform}.node`));
  return candidates;
}

// Loads the first candidate that loads; the error names the platform, the package it needs,
// the platforms that exist, and why each file failed (a glibc too old says so itself).
export function loadAddon(packageDir, options = {}) {
  const platform = options.platform ?? platformName();
  const failures = [];
  for (const file of addonCandidates(packageDir, { ...options, platform })) {
    if (!fs.existsSync(file)) {
      failures.push(`${file}: not there`);
      continue;
    }
    try {
      const module = { exports: {} };
      process.dlopen(module, file);
      return module.exports;
    } catch (err) {
      failures.push(`${file}: ${err.message}`);
    }
  }
  const pkg = readPackage(packageDir);
  const name = pkg.name ?? "imbridge";
  const built = Object.keys(pkg.optionalDependencies ?? {})
    .filter((dep) => dep.startsWith(`${name}-`))
    .map((dep) => dep.slice(name.length + 1));
  const glibc = glibcVersion();
  const lines = [
    `imbridge: no native addon loads on ${platform}${glibc ? ` (glibc ${glibc})` : ""}.`,
    built.length > 0 && !built.includes(platform)
      ? `No package is built for this platform; there are: ${built.join(", ")}.`
      : `It comes in the package ${name}-${platform}: reinstall the plugin so npm installs it (optional dependencies must not be turned off).`,
    ...failures,
  ];
  throw new Error(lines.join("\n"));
}
