//! Our channels in OpenClaw's user channel catalog (`<state>/plugins/catalog.json`).
//!
//! `openclaw channels add --channel <id> --<flag> …` learns a channel's flags, and which
//! plugin owns it, from catalog metadata read before any plugin loads. package.json holds that
//! metadata for one channel only (`openclaw.channel` is a single object), so a package of
//! several channels lists the others in the user catalog, the file OpenClaw documents for
//! catalogs from outside (MPM exports and the like). Entries of other plugins, and our own
//! entries for channels another entry already claims, are left as they are.

use std::path::{Path, PathBuf};

use channel_core::ChannelError;
use serde_json::{Value, json};

/// `<config dir>/plugins/catalog.json`, where OpenClaw looks when no catalog path is set in
/// the environment: the config dir is `$OPENCLAW_STATE_DIR`, else the directory of
/// `$OPENCLAW_CONFIG_PATH`, else `.openclaw` in `$OPENCLAW_HOME` or `$HOME`.
pub fn user_catalog_path() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = var("OPENCLAW_STATE_DIR")
        .or_else(|| var("OPENCLAW_CONFIG_PATH").and_then(|p| p.parent().map(Path::to_path_buf)))
        .or_else(|| {
            var("OPENCLAW_HOME")
                .or_else(|| var("HOME"))
                .map(|home| home.join(".openclaw"))
        })?;
    Some(dir.join("plugins").join("catalog.json"))
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub path: String,
    /// Channel ids whose entries were added or brought up to date.
    pub written: Vec<String>,
    /// Channel ids another plugin's entry already claims.
    pub claimed: Vec<String>,
}

/// Puts one entry per channel in `channels` (their catalog metadata, as
/// `channel_core::setup::catalog_channel` makes it) into the catalog at `path`, owned by
/// plugin `plugin_id` from npm package `package`. Writes only when something changed, and
/// refuses a file it cannot read as a catalog rather than replace it.
pub fn publish(
    path: &Path,
    plugin_id: &str,
    package: &str,
    version: &str,
    channels: &[Value],
) -> Result<Published, ChannelError> {
    let shown = path.display().to_string();
    let mut doc = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).map_err(|e| {
            ChannelError::bad_input(format!(
                "{shown}: not a channel catalog ({e}); left as it is"
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({"entries": []}),
        Err(e) => return Err(ChannelError::from(e).context(&shown)),
    };
    let list_key = ["entries", "packages", "plugins"]
        .into_iter()
        .find(|k| doc.get(*k).is_some_and(Value::is_array));
    if !doc.is_array() && list_key.is_none() {
        if !doc.is_object() {
            return Err(ChannelError::bad_input(format!(
                "{shown}: not a channel catalog (neither a list nor an object); left as it is"
            )));
        }
        doc["entries"] = json!([]);
    }
    let entries = match list_key {
        _ if doc.is_array() => doc.as_array_mut(),
        Some(key) => doc[key].as_array_mut(),
        None => doc["entries"].as_array_mut(),
    }
    .expect("a list, checked above");
    let owner = |entry: &Value| {
        entry["openclaw"]["plugin"]["id"]
            .as_str()
            .map(str::to_owned)
    };
    let channel_of = |entry: &Value| {
        entry["openclaw"]["channel"]["id"]
            .as_str()
            .map(str::to_owned)
    };
    let mut published = Published {
        path: shown.clone(),
        written: Vec::new(),
        claimed: Vec::new(),
    };
    let mut changed = false;
    for channel in channels {
        let Some(id) = channel["id"].as_str() else {
            continue;
        };
        let wanted = json!({
            "name": package,
            "version": version,
            "openclaw": {
                "plugin": {"id": plugin_id},
                "channel": channel,
                "install": {"npmSpec": package},
            },
        });
        // OpenClaw takes the first entry for a channel id, so an entry of someone else's
        // that comes first wins; ours is not added behind it.
        match entries
            .iter()
            .position(|e| channel_of(e).as_deref() == Some(id))
        {
            Some(at) if owner(&entries[at]).as_deref() != Some(plugin_id) => {
                published.claimed.push(id.to_owned());
            }
            Some(at) if entries[at] == wanted => {}
            Some(at) => {
                entries[at] = wanted;
                changed = true;
                published.written.push(id.to_owned());
            }
            None => {
                entries.push(wanted);
                changed = true;
                published.written.push(id.to_owned());
            }
        }
    }
    if changed {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ChannelError::from(e).context(&shown))?;
        }
        channel_core::state::write_json(path, &doc, true)
            .map_err(|e| ChannelError::from(e).context(&shown))?;
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: &str) -> Value {
        json!({"id": id, "label": id, "setup": {"fields": []}})
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("imbridge-catalog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn entries_are_added_once_and_kept_beside_others() {
        let dir = scratch("add");
        let path = dir.join("plugins/catalog.json");
        let channels = [channel("netease-yunxin"), channel("openclaw-weixin")];
        let first = publish(&path, "imbridge", "imbridge", "0.1.0", &channels).unwrap();
        assert_eq!(first.written, vec!["netease-yunxin", "openclaw-weixin"]);
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["entries"][0]["openclaw"]["plugin"]["id"], "imbridge");
        assert_eq!(
            doc["entries"][0]["openclaw"]["install"]["npmSpec"],
            "imbridge"
        );
        assert_eq!(
            doc["entries"][1]["openclaw"]["channel"]["id"],
            "openclaw-weixin"
        );

        // Unchanged: nothing written. A newer version replaces our entries in place.
        let again = publish(&path, "imbridge", "imbridge", "0.1.0", &channels).unwrap();
        assert!(again.written.is_empty());
        let newer = publish(&path, "imbridge", "imbridge", "0.2.0", &channels[..1]).unwrap();
        assert_eq!(newer.written, vec!["netease-yunxin"]);
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["entries"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["entries"][0]["version"], "0.2.0");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_plugins_entry_and_an_unreadable_file_are_left_alone() {
        let dir = scratch("others");
        let path = dir.join("catalog.json");
        std::fs::create_dir_all(&dir).unwrap();
        let theirs = json!({"packages": [{"name": "x", "openclaw": {
            "plugin": {"id": "other"}, "channel": {"id": "netease-yunxin", "label": "X"}}}]});
        std::fs::write(&path, theirs.to_string()).unwrap();
        let out = publish(
            &path,
            "imbridge",
            "imbridge",
            "0.1.0",
            &[channel("netease-yunxin")],
        )
        .unwrap();
        assert_eq!(out.claimed, vec!["netease-yunxin"]);
        assert_eq!(
            serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()).unwrap(),
            theirs
        );

        std::fs::write(&path, "{not json").unwrap();
        let err = publish(&path, "imbridge", "imbridge", "0.1.0", &[channel("a")]).unwrap_err();
        assert!(
            err.message.contains("not a channel catalog"),
            "{}",
            err.message
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
