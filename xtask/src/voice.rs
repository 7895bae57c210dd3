//! The e2e's independent audio codec: npm's `silk-wasm` (a WebAssembly build of the SILK SDK
//! with its own file handling and WAV reader), installed into `target/e2e-cache/silk-wasm`
//! once and run by Node. What our Rust decodes and encodes is checked against it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use xshell::{Shell, cmd};

use crate::Result;
use crate::toolchain;

const PACKAGE: (&str, &str) = ("silk-wasm", "3.7.1");

/// What the independent decoder makes of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    pub ms: f64,
    /// Of the 16-bit samples: near 0 is silence.
    pub rms: f64,
    pub rate: u32,
}

fn module() -> Result<PathBuf> {
    let sh = Shell::new()?;
    let prefix = toolchain::npm_install_cached(&sh, "silk-wasm", &[PACKAGE])?;
    Ok(prefix.join("node_modules/silk-wasm/lib/index.mjs"))
}

/// Runs `body` (an async function body given `silk`, the module, `fs` and `file`) in Node.
fn run(file: &Path, body: &str) -> Result<Heard> {
    let module = module()?;
    let script = format!(
        "import fs from 'node:fs';\n\
         const silk = await import(process.argv[1]);\n\
         const file = process.argv[2];\n\
         const rms = (pcm) => {{ let s = 0; for (const v of pcm) s += v * v; return Math.sqrt(s / Math.max(1, pcm.length)); }};\n\
         const out = await (async () => {{ {body} }})();\n\
         process.stdout.write(JSON.stringify(out));\n"
    );
    let sh = Shell::new()?;
    let text = cmd!(sh, "node --input-type=module -e {script} {module} {file}")
        .read()
        .map_err(|e| format!("silk-wasm on {}: {e}", file.display()))?;
    let heard: Value = serde_json::from_str(&text)?;
    Ok(Heard {
        ms: heard["ms"].as_f64().unwrap_or(-1.0),
        rms: heard["rms"].as_f64().unwrap_or(0.0),
        rate: heard["rate"].as_u64().unwrap_or(0) as u32,
    })
}

/// A WAV file read by silk-wasm's WAV reader: duration and loudness of its samples.
pub fn wav(file: &Path) -> Result<Heard> {
    run(
        file,
        "const bytes = fs.readFileSync(file);\n\
         if (!silk.isWav(bytes)) throw new Error('not a WAV file');\n\
         const info = silk.getWavFileInfo(bytes);\n\
         const data = info.chunkInfo.find((c) => c.chunkId === 'data');\n\
         if (info.fmt.bitsPerSample !== 16) throw new Error(`${info.fmt.bitsPerSample}-bit WAV`);\n\
         const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset + data.dataOffset, bytes.byteOffset + data.dataOffset + data.dataLength));\n\
         return { ms: data.dataLength / info.fmt.bytesPerSec * 1000, rms: rms(pcm), rate: info.fmt.sampleRate };",
    )
}

/// A SILK file decoded by silk-wasm at 24 kHz: duration (by samples) and loudness.
pub fn silk(file: &Path) -> Result<Heard> {
    run(
        file,
        "const bytes = fs.readFileSync(file);\n\
         if (!silk.isSilk(bytes)) throw new Error('not SILK');\n\
         const out = await silk.decode(bytes, 24000);\n\
         const pcm = new Int16Array(out.data.buffer, out.data.byteOffset, out.data.byteLength / 2);\n\
         return { ms: pcm.length / 24, rms: rms(pcm), rate: 24000 };",
    )
}
