//! File paths filled in from templates stay inside the directory their template names.
//!
//! `{accountId}` and `{state.<field>}` values are not the operator's words: an account id comes
//! from the config's keys and a state field may have been written back from an auth server's
//! answer. Such a value must not turn `/var/lib/im/{accountId}.json` into a file elsewhere
//! (`..`, `/`, an absolute path), least of all one that `clearOnSuccess` then deletes.

use std::path::{Component, Path, PathBuf};

use channel_core::ChannelError;

/// `~/x` → `<home>/x`, as the seed's documented default `~/.openclaw/...` expects.
pub(crate) fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The directory part of `template` before its first placeholder (`""` when the placeholder
/// comes first), or `None` when it has none.
fn base_of(template: &str) -> Option<&str> {
    let first = [template.find("{accountId}"), template.find("{state.")]
        .into_iter()
        .flatten()
        .min()?;
    let head = &template[..first];
    Some(head.rfind('/').map_or("", |i| &head[..=i]))
}

/// `path` with `.` dropped and `..` applied, without asking the file system; `None` when a
/// `..` would climb above its start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1)?;
                out.pop();
            }
            Component::Normal(part) => {
                depth += 1;
                out.push(part);
            }
            root @ (Component::RootDir | Component::Prefix(_)) => out.push(root.as_os_str()),
        }
    }
    Some(out)
}

/// `filled` (the filling of `template`) with `~/` expanded, refused unless it lies below the
/// directory the template names before its first placeholder (the current directory when the
/// placeholder comes first). `at` names the config field. The error does not quote the filled
/// path: it may hold a state value.
pub(crate) fn confine(
    template: &str,
    filled: &str,
    home: Option<&Path>,
    at: &str,
) -> Result<PathBuf, ChannelError> {
    let path = expand_home(filled, home);
    let Some(base) = base_of(template) else {
        return Ok(path);
    };
    let base_path = expand_home(base, home);
    let inside = match (normalize(&base_path), normalize(&path)) {
        (Some(base), Some(normal)) => {
            normal.is_absolute() == base.is_absolute()
                && normal.starts_with(&base)
                && normal != base
        }
        _ => false,
    };
    if inside {
        Ok(path)
    } else {
        let shown = if base.is_empty() { "." } else { base };
        Err(ChannelError::bad_input(format!(
            "{at}: {template:?} filled in leads outside {shown:?}: {{accountId}} or a \
             {{state.*}} value holds `..`, `/` or an absolute path; refusing to use that file"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "tokenRefresh.http.clearOnSuccess.0";

    #[test]
    fn values_that_climb_out_are_refused_naming_the_field() {
        let home = Some(Path::new("/home/op"));
        for (template, filled) in [
            (
                "/var/lib/im/{accountId}.json",
                "/var/lib/im/../../etc/passwd.json",
            ),
            ("/var/lib/im/{state.name}", "/var/lib/im/../x"),
            ("/var/lib/im/{state.name}", "/var/lib/im/"),
            (
                "/var/lib/im/m.{accountId}.json",
                "/var/lib/im/m./../../x.json",
            ),
            (
                "~/.openclaw/{accountId}.json",
                "/home/op/.openclaw/../.ssh/k.json",
            ),
            ("{state.dir}/m.json", "/etc/m.json"),
            ("{state.dir}/m.json", "../m.json"),
        ] {
            let err = confine(template, filled, home, AT).unwrap_err();
            assert!(err.message.starts_with(AT), "{err}");
            assert!(err.message.contains("leads outside"), "{err}");
        }
    }

    #[test]
    fn values_that_stay_inside_are_kept() {
        let home = Some(Path::new("/home/op"));
        for (template, filled, expected) in [
            (
                "/var/lib/im/{accountId}.json",
                "/var/lib/im/a.json",
                "/var/lib/im/a.json",
            ),
            (
                "/var/lib/im/{state.d}/m.json",
                "/var/lib/im/x/m.json",
                "/var/lib/im/x/m.json",
            ),
            (
                "/var/lib/im/{state.d}",
                "/var/lib/im/x/../y",
                "/var/lib/im/x/../y",
            ),
            (
                "~/.openclaw/m.{accountId}.json",
                "~/.openclaw/m.a.json",
                "/home/op/.openclaw/m.a.json",
            ),
            ("{state.dir}/m.json", "sub/m.json", "sub/m.json"),
            ("/etc/fixed.json", "/etc/fixed.json", "/etc/fixed.json"),
        ] {
            assert_eq!(
                confine(template, filled, home, AT).unwrap(),
                Path::new(expected),
                "{template}"
            );
        }
    }
}
