// `cargo xtask bench` startup, load time: how long Node 24 takes to load one thing, timed inside
// a fresh process so that nothing of it is cached in the isolate.
//
//   node load.mjs addon <file.node>     require of our napi addon (as js/lib/native.js does)
//   node load.mjs sdk <sdk-prefix>      import of @openim/client-sdk 0.0.14 (the reference)
//
// Prints {"loadSeconds": …} on stdout.

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [kind, path] = process.argv.slice(2);
const require = createRequire(import.meta.url);

let started;
if (kind === 'addon') {
  started = performance.now();
  const addon = require(path);
  if (typeof addon.descriptor !== 'function') throw new Error(`${path} exports no descriptor()`);
} else if (kind === 'sdk') {
  const file = pathToFileURL(join(path, 'node_modules', '@openim', 'client-sdk', 'lib', 'index.modern.mjs'));
  started = performance.now();
  const sdk = await import(file.href);
  if (typeof sdk.getSDK !== 'function') throw new Error(`${file} exports no getSDK()`);
} else {
  throw new Error('usage: node load.mjs <addon|sdk> <path>');
}
const loadSeconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ kind, loadSeconds })}\n`);
// The addon's runtime threads do not hold Node, but nothing else should either.
process.exit(0);
