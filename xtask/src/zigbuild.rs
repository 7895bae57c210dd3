//! zig and cargo-zigbuild, from PyPI's `ziglang` and `cargo-zigbuild` wheels, installed once
//! into `target/tools/`: with them the addon links against glibc 2.17's symbols, so it loads on
//! every glibc a gateway still runs on (RHEL 7 and 8, Amazon Linux 2, Ubuntu 20.04).
//!
//! A wheel is a zip archive, so no pip is needed: the project's files are listed by PyPI's
//! simple index (its JSON form, as pip reads it), the wheel of the pinned version for this
//! machine is downloaded, checked against the SHA-256 the index lists, and unpacked.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{Result, target_dir};

pub const ZIG_VERSION: &str = "0.15.2";
pub const ZIGBUILD_VERSION: &str = "0.24.1";
/// The glibc the packaged addon is linked for.
pub const GLIBC_BASELINE: (u32, u32) = (2, 17);

/// The installed tools.
#[derive(Debug, Clone)]
pub struct Zigbuild {
    pub cargo_zigbuild: PathBuf,
    pub zig: PathBuf,
    /// cargo-zigbuild's own cache (its zig wrappers and sysroot stubs), kept under `target/`.
    pub cache: PathBuf,
}

/// Installs both tools if missing.
pub fn ensure() -> Result<Zigbuild> {
    let dir = target_dir()
        .join("tools")
        .join(format!("zigbuild-{ZIGBUILD_VERSION}-zig-{ZIG_VERSION}"));
    let tools = Zigbuild {
        cargo_zigbuild: dir
            .join(format!("cargo_zigbuild-{ZIGBUILD_VERSION}.data"))
            .join("scripts/cargo-zigbuild"),
        zig: dir.join("ziglang/zig"),
        cache: dir.join("cache"),
    };
    if dir.join(".installed").is_file() {
        return Ok(tools);
    }
    let arch = wheel_arch()?;
    eprintln!(
        "xtask: installing zig {ZIG_VERSION} and cargo-zigbuild {ZIGBUILD_VERSION} from PyPI into {}",
        dir.display()
    );
    let partial = dir.with_extension("partial");
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for (name, version) in [
        ("ziglang", ZIG_VERSION),
        ("cargo-zigbuild", ZIGBUILD_VERSION),
    ] {
        let wheel = runtime.block_on(download_wheel(name, version, arch))?;
        unpack(&wheel, &partial).map_err(|e| format!("unpacking {name} {version}: {e}"))?;
    }
    for tool in [&tools.cargo_zigbuild, &tools.zig] {
        let relative = tool.strip_prefix(&dir).unwrap_or(tool);
        if !partial.join(relative).is_file() {
            return Err(format!("the wheels hold no {}", relative.display()).into());
        }
    }
    fs::write(
        partial.join(".installed"),
        format!("ziglang {ZIG_VERSION}\ncargo-zigbuild {ZIGBUILD_VERSION}\n"),
    )?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&partial, &dir)?;
    Ok(tools)
}

/// The architecture a manylinux wheel names in its platform tag.
fn wheel_arch() -> Result<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Ok("x86_64"),
        ("linux", "aarch64") => Ok("aarch64"),
        (os, arch) => Err(format!("no zig wheel is picked for {os}/{arch}").into()),
    }
}

/// A project's page of PyPI's simple index, in its JSON form (PEP 691): what pip reads.
#[derive(Debug, Deserialize)]
struct Project {
    files: Vec<File>,
}

#[derive(Debug, Deserialize)]
struct File {
    filename: String,
    url: String,
    hashes: Hashes,
}

#[derive(Debug, Deserialize)]
struct Hashes {
    sha256: String,
}

/// The wheel of `version` for a manylinux machine of `arch`. A wheel's name is
/// `<name>-<version>-<python>-<abi>-<platforms>.whl`, the platforms dot-separated, as in
/// `ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl`.
fn pick<'a>(files: &'a [File], version: &str, arch: &str) -> Option<&'a File> {
    files.iter().find(|f| {
        let Some(tags) = f.filename.strip_suffix(".whl") else {
            return false;
        };
        let parts: Vec<&str> = tags.split('-').collect();
        let [_, file_version, _, _, platforms] = parts[..] else {
            return false;
        };
        file_version == version
            && platforms
                .split('.')
                .any(|p| p.starts_with("manylinux") && p.ends_with(&format!("_{arch}")))
    })
}

async fn download_wheel(name: &str, version: &str, arch: &str) -> Result<Vec<u8>> {
    let client = crate::registry_client()?;
    let index = format!("https://pypi.org/simple/{name}/");
    let project: Project = client
        .get(&index)
        .header(
            reqwest::header::ACCEPT,
            "application/vnd.pypi.simple.v1+json",
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .map_err(|e| format!("{index}: {e}"))?;
    let file = pick(&project.files, version, arch)
        .ok_or_else(|| format!("PyPI has no manylinux {arch} wheel of {name} {version}"))?;
    let bytes = client
        .get(&file.url)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let digest = hex::encode(Sha256::digest(&bytes));
    if !digest.eq_ignore_ascii_case(&file.hashes.sha256) {
        return Err(format!(
            "{}: SHA-256 {digest}, but PyPI lists {}",
            file.filename, file.hashes.sha256
        )
        .into());
    }
    Ok(bytes.to_vec())
}

/// Unpacks a wheel into `into`, keeping each file's Unix mode (the tools are executables), and
/// refusing any entry that would land outside it.
fn unpack(wheel: &[u8], into: &Path) -> Result {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(wheel))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(format!("entry {:?} leaves the archive", entry.name()).into());
        };
        let path = into.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes)?;
        fs::write(&path, &bytes)?;
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o755))?;
        }
    }
    Ok(())
}

/// The newest `GLIBC_x.y` version among the symbol versions a shared object needs, read from
/// its ELF version-needs section; `None` when it needs none.
pub fn newest_glibc_needed(elf: &[u8]) -> Result<Option<(u32, u32)>> {
    use object::Endianness;
    use object::read::elf::{ElfFile64, FileHeader};
    let file = ElfFile64::<Endianness>::parse(elf)?;
    let endian = file.endian();
    let sections = file.elf_header().sections(endian, elf)?;
    let mut newest = None;
    let Some((mut needs, strings_index)) = sections.gnu_verneed(endian, elf)? else {
        return Ok(None);
    };
    let strings = sections.strings(endian, elf, strings_index)?;
    while let Some((_, mut auxes)) = needs.next()? {
        while let Some(aux) = auxes.next()? {
            let name = aux.name(endian, strings)?;
            if let Some(version) = glibc_version(name) {
                newest = newest.max(Some(version));
            }
        }
    }
    Ok(newest)
}

/// `GLIBC_2.34` → `(2, 34)`; other version names (`GLIBC_PRIVATE`, `GCC_3.0`) → `None`.
fn glibc_version(name: &[u8]) -> Option<(u32, u32)> {
    let rest = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> File {
        File {
            filename: name.into(),
            url: format!("https://files.example/{name}"),
            hashes: Hashes {
                sha256: String::new(),
            },
        }
    }

    #[test]
    fn the_manylinux_wheel_of_the_machine_is_picked() {
        let files = [
            file(
                "ziglang-0.15.1-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
            ),
            file("ziglang-0.15.2-py3-none-macosx_12_0_arm64.whl"),
            file("ziglang-0.15.2-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"),
            file(
                "ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
            ),
            file("ziglang-0.15.2.tar.gz"),
        ];
        assert_eq!(
            pick(&files, "0.15.2", "x86_64").map(|f| f.filename.as_str()),
            Some(
                "ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl"
            )
        );
        assert_eq!(
            pick(&files, "0.15.2", "aarch64").map(|f| f.filename.as_str()),
            Some("ziglang-0.15.2-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl")
        );
        assert!(pick(&files[..2], "0.15.2", "x86_64").is_none());
    }

    #[test]
    fn glibc_versions_are_read_from_version_names() {
        assert_eq!(glibc_version(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(glibc_version(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version(b"GLIBC_PRIVATE"), None);
        assert_eq!(glibc_version(b"GCC_3.0"), None);
        assert!((2, 17) < (2, 34) && (2, 9) < (2, 17));
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn the_running_test_binary_needs_a_glibc_it_names() {
        // This test binary is built for the machine's own glibc: it needs some GLIBC_2.x.
        let exe = fs::read(std::env::current_exe().expect("exe")).expect("read");
        let newest = newest_glibc_needed(&exe).expect("an ELF file");
        assert!(newest.is_some_and(|(major, _)| major == 2), "{newest:?}");
        assert!(newest_glibc_needed(b"not an elf").is_err());
    }
}
