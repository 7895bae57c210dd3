//! The message-copy webhook (消息抄送, spec §4): bodies of `eventType` "1" with string values
//! only, signed with `AppKey`, `CurTime` (milliseconds), `MD5` and `CheckSum` headers, posted as
//! `application/json`. Also the deliberately broken signatures tests need.

use serde_json::{Map, Value, json};

use super::sign::{md5_hex, webhook_checksum};
use super::state::{Shared, uuid_like};
use super::types::{PushError, Pushed};
use crate::http::now_ms;

/// How old a stale push's `CurTime` is.
const STALE_MS: u64 = 10 * 60 * 1000;

/// One conversation message to copy to the webhook.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// `PERSON` or `TEAM`.
    pub conv_type: &'static str,
    pub from: String,
    /// Receiving account, or team id.
    pub to: String,
    /// `TEXT`, `PICTURE`, `FILE`, …
    pub msg_type: &'static str,
    pub body: String,
    /// Already a JSON string, as the webhook carries it.
    pub attach: Option<String>,
    pub ext: Option<String>,
    /// `tMembers` of a team message, in NetEase's `[a, b]` form.
    pub team_members: Option<String>,
}

/// How to sign a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// As NetEase does.
    Valid,
    /// `CheckSum` made with another secret.
    Forged,
    /// Signed, then the body's `body` field changed, so `MD5` no longer matches the bytes.
    Tampered,
    /// Correctly signed with a `CurTime` ten minutes in the past.
    Stale,
    /// Correctly signed, without the `AppKey` header: NetEase's published copy samples show
    /// only `CurTime`, `MD5` and `CheckSum`.
    NoAppKey,
}

/// The JSON body of `msg` with fresh ids and timestamp.
pub(crate) fn body_of(shared: &Shared, msg: &Outgoing) -> String {
    let msgid_server = shared.lock().server_id();
    let mut body = json!({
        "eventType": "1",
        "convType": msg.conv_type,
        "to": msg.to,
        "fromAccount": msg.from,
        "fromClientType": "WEB",
        "fromDeviceId": format!("imsim-{}", msg.from),
        "fromNick": msg.from,
        "msgTimestamp": now_ms().to_string(),
        "msgType": msg.msg_type,
        "body": msg.body,
        "msgidClient": uuid_like(),
        "msgidServer": msgid_server.to_string(),
        "resendFlag": "0",
    });
    let optional = [
        ("attach", &msg.attach),
        ("ext", &msg.ext),
        ("tMembers", &msg.team_members),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    body.to_string()
}

/// The bytes to post and the headers to post them with.
pub(crate) fn sign(
    shared: &Shared,
    body: String,
    signing: Signing,
) -> (String, Vec<(String, String)>) {
    let now = now_ms();
    let cur_time = match signing {
        Signing::Stale => now.saturating_sub(STALE_MS),
        _ => now,
    }
    .to_string();
    let md5 = md5_hex(body.as_bytes());
    let secret = match signing {
        Signing::Forged => format!("{}-not-the-secret", shared.app_secret),
        _ => shared.app_secret.clone(),
    };
    let checksum = webhook_checksum(&secret, &md5, &cur_time);
    let mut headers = vec![
        ("AppKey".to_owned(), shared.app_key.clone()),
        ("CurTime".to_owned(), cur_time),
        ("MD5".to_owned(), md5),
        ("CheckSum".to_owned(), checksum),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    if matches!(signing, Signing::NoAppKey) {
        headers.retain(|(name, _)| name != "AppKey");
    }
    let body = match signing {
        Signing::Tampered => tamper(&body),
        _ => body,
    };
    (body, headers)
}

/// Changes the message text after signing, the way a man in the middle would.
fn tamper(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(mut map)) => {
            let text = map.get("body").and_then(Value::as_str).unwrap_or_default();
            let changed = format!("{text} (tampered)");
            map.insert("body".to_owned(), Value::String(changed));
            Value::Object(map).to_string()
        }
        _ => format!("{body} "),
    }
}

/// POSTs `body` with exactly `headers` (plus `Content-Type: application/json` when absent) to
/// the webhook and records the push.
pub(crate) async fn post(
    shared: &Shared,
    body: String,
    headers: Vec<(String, String)>,
) -> Result<Pushed, PushError> {
    let url = shared.lock().webhook.clone().ok_or(PushError::NoWebhook)?;
    let mut headers = headers;
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    let mut req = shared.http.post(&url).body(body.clone());
    for (name, value) in &headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let failed = |e: reqwest::Error| PushError::Http {
        url: url.clone(),
        reason: e.to_string(),
    };
    let resp = req.send().await.map_err(failed)?;
    let status = resp.status().as_u16();
    // Read the answer to the end so the connection is reused cleanly; its content is not used.
    resp.bytes().await.map_err(failed)?;

    let ids: Map<String, Value> = match serde_json::from_str(&body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let id = |key: &str| ids.get(key).and_then(Value::as_str).map(str::to_owned);
    let pushed = Pushed {
        url,
        status,
        body,
        headers,
        msgid_client: id("msgidClient"),
        msgid_server: id("msgidServer"),
    };
    shared.lock().pushes.push(pushed.clone());
    shared.bump();
    Ok(pushed)
}

/// `{"yxAitMsg":{"<accid>":{"text":"@<accid>","segments":[]}}}`: how NetEase's UI kits mark
/// @-mentions in a message's extension, which the webhook copies as `ext`. The segment offsets
/// are left empty; clients only need the keys.
pub(crate) fn mention_ext(at: &[&str]) -> Option<String> {
    if at.is_empty() {
        return None;
    }
    let mut mentions = Map::new();
    for accid in at {
        mentions.insert(
            (*accid).to_owned(),
            json!({ "text": format!("@{accid}"), "segments": [] }),
        );
    }
    Some(json!({ "yxAitMsg": mentions }).to_string())
}

/// The last path segment of a URL (without query), for an attachment's `name`.
pub(crate) fn file_name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("file")
        .to_owned()
}

/// The extension of a file name, lower-cased, or `fallback`.
pub(crate) fn ext_of(name: &str, fallback: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_ascii_lowercase(),
        _ => fallback.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_extensions_come_from_the_url() {
        assert_eq!(file_name_of("http://x/a/b/cat.PNG?x=1"), "cat.PNG");
        assert_eq!(ext_of("cat.PNG", "jpg"), "png");
        assert_eq!(file_name_of("http://x/"), "file");
        assert_eq!(ext_of("README", "bin"), "bin");
        assert_eq!(ext_of(".hidden", "bin"), "bin");
    }

    #[test]
    fn tampering_changes_only_the_text() {
        let body = r#"{"body":"hi","to":"bot"}"#;
        let t: Value = serde_json::from_str(&tamper(body)).unwrap();
        assert_eq!(t["body"], "hi (tampered)");
        assert_eq!(t["to"], "bot");
    }

    #[test]
    fn mentions_name_every_account() {
        assert_eq!(mention_ext(&[]), None);
        let ext: Value = serde_json::from_str(&mention_ext(&["bot", "al"]).unwrap()).unwrap();
        assert_eq!(ext["yxAitMsg"]["bot"]["text"], "@bot");
        assert!(ext["yxAitMsg"]["al"].is_object());
    }
}
