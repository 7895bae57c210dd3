// The addon loader: platform names, the platform package found where npm puts it, and an
// error that names the platform when nothing fits.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

import { addonCandidates, loadAddon, platformName } from "../lib/addon.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const built = process.env.IMBRIDGE_ADDON ?? path.join(root, "target/debug/libplugin_host.so");

function packageDir(t, manifest) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imbridge-loader-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(manifest));
  return dir;
}

function platformPackage(dir, name, file, bytes) {
  const at = path.join(dir, "node_modules", name);
  fs.mkdirSync(at, { recursive: true });
  fs.writeFileSync(path.join(at, "package.json"), JSON.stringify({ name, version: "0.1.0", main: file }));
  fs.writeFileSync(path.join(at, file), bytes);
  return path.join(at, file);
}

test("platforms are named as napi-rs names them", () => {
  assert.equal(platformName({ platform: "linux", arch: "x64", glibc: "2.17" }), "linux-x64-gnu");
  assert.equal(platformName({ platform: "linux", arch: "arm64", glibc: null }), "linux-arm64-musl");
  assert.equal(platformName({ platform: "darwin", arch: "arm64" }), "darwin-arm64");
  assert.equal(platformName({ platform: "win32", arch: "x64" }), "win32-x64-msvc");
});

test("the platform package comes first, then the package's own file", (t) => {
  const dir = packageDir(t, { name: "imbridge-weixin", version: "0.1.0" });
  const file = platformPackage(dir, "imbridge-weixin-linux-x64-gnu", "imbridge.linux-x64-gnu.node", "x");
  assert.deepEqual(addonCandidates(dir, { env: {}, platform: "linux-x64-gnu" }), [
    fs.realpathSync(file),
    path.join(dir, "imbridge.linux-x64-gnu.node"),
  ]);
  assert.deepEqual(addonCandidates(dir, { env: { IMBRIDGE_ADDON: "/x.so" }, platform: "linux-x64-gnu" }), ["/x.so"]);
});

test("the addon loads from its platform package", (t) => {
  if (!fs.existsSync(built)) return t.skip(`no addon at ${built}`);
  const platform = platformName();
  const dir = packageDir(t, { name: "imbridge", version: "0.1.0" });
  platformPackage(dir, `imbridge-${platform}`, `imbridge.${platform}.node`, fs.readFileSync(built));
  const addon = loadAddon(dir, { env: {} });
  assert.equal(typeof addon.descriptor, "function");
});

test("with no package for the platform, the error names it and the platforms there are", (t) => {
  const dir = packageDir(t, {
    name: "imbridge",
    version: "0.1.0",
    optionalDependencies: { "imbridge-linux-x64-gnu": "0.1.0", "imbridge-darwin-arm64": "0.1.0" },
  });
  assert.throws(
    () => loadAddon(dir, { env: {}, platform: "linux-riscv64-gnu" }),
    (err) =>
      err.message.includes("no native addon loads on linux-riscv64-gnu") &&
      err.message.includes("there are: linux-x64-gnu, darwin-arm64") &&
      err.message.includes("imbridge.linux-riscv64-gnu.node: not there"),
  );
});

test("a platform package npm skipped is named, with what to do", (t) => {
  const dir = packageDir(t, { name: "imbridge", version: "0.1.0", optionalDependencies: { "imbridge-linux-x64-gnu": "0.1.0" } });
  assert.throws(
    () => loadAddon(dir, { env: {}, platform: "linux-x64-gnu" }),
    (err) => err.message.includes("It comes in the package imbridge-linux-x64-gnu: reinstall the plugin"),
  );
});

test("a file that is not an addon is reported with the loader's reason", (t) => {
  const dir = packageDir(t, { name: "imbridge", version: "0.1.0" });
  platformPackage(dir, "imbridge-linux-x64-gnu", "imbridge.linux-x64-gnu.node", "not an ELF file");
  assert.throws(
    () => loadAddon(dir, { env: {}, platform: "linux-x64-gnu" }),
    (err) =>
      err.message
        .split("\n")
        .some((line) => line.includes("imbridge-linux-x64-gnu/imbridge.linux-x64-gnu.node: ") && !line.endsWith(": not there")),
  );
});
