//! The deterministic reply rule of the mock model.
//!
//! OpenClaw wraps what the user typed: a `[<timestamp>] ` prefix, a `\n\nRuntime: ...` trailer, and
//! sometimes a separate user message holding only an internal-context block. The rule therefore looks
//! at the *visible* text of user messages, newest first.

use serde_json::Value;

const INTERNAL_BEGIN: &str = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>";
const INTERNAL_END: &str = "<<<END_OPENCLAW_INTERNAL_CONTEXT>>>";
/// Upper bound for `[[LONG:n]]`, so a typo cannot make the mock allocate gigabytes.
const MAX_LONG: usize = 1_000_000;
const MAX_MOCK_CHARS: usize = 200;

/// `[[SLOW:ms]]` in the newest user message with visible text holds the answer back that long
/// (at most a minute), so a test can act while a turn is in flight. Older turns in the history
/// do not count.
pub(crate) fn delay_for(messages: &[Value]) -> Option<std::time::Duration> {
    let text = messages
        .iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| visible_text(m.get("content").unwrap_or(&Value::Null)))
        .find(|t| !t.trim().is_empty())?;
    let start = text.find("[[SLOW:")? + "[[SLOW:".len();
    let end = text[start..].find("]]")? + start;
    let ms: u64 = text[start..end].trim().parse().ok()?;
    Some(std::time::Duration::from_millis(ms.min(60_000)))
}

/// The reply to a `messages` array:
/// * the newest user message containing `[[ECHO:x]]` ⇒ `ECHO: x`;
/// * or `[[SAY:x]]` ⇒ exactly `x`, with each two-character `\n` turned into a newline (so a test
///   can make the agent answer e.g. `MEDIA:/abs/path.png`);
/// * or `[[LONG:n]]` ⇒ exactly `n` characters of numbered paragraphs;
/// * otherwise `MOCK: ` + the first line of the newest non-empty user message, leading `[...] `
///   groups stripped, at most 200 characters.
pub(crate) fn reply_for(messages: &[Value]) -> String {
    let texts: Vec<String> = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| visible_text(m.get("content").unwrap_or(&Value::Null)))
        .collect();

    for text in texts.iter().rev() {
        if let Some(reply) = marker_reply(text) {
            return reply;
        }
    }
    let last = texts
        .iter()
        .rev()
        .find(|t| !t.trim().is_empty())
        .map_or("", String::as_str);
    format!("MOCK: {}", first_line(last))
}

/// `content` as text (string, or the `text` parts of an array), internal-context blocks removed.
fn visible_text(content: &Value) -> String {
    let raw = match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    strip_internal(&raw)
}

fn strip_internal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(INTERNAL_BEGIN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + INTERNAL_BEGIN.len()..];
        // An unterminated block hides everything after it.
        rest = after
            .find(INTERNAL_END)
            .map_or("", |end| &after[end + INTERNAL_END.len()..]);
    }
    out.push_str(rest);
    out
}

/// The earliest `[[ECHO:..]]`, `[[SAY:..]]` or valid `[[LONG:n]]` marker in `text`, as a reply.
fn marker_reply(text: &str) -> Option<String> {
    let mut search = 0;
    while let Some(offset) = text[search..].find("[[") {
        let start = search + offset;
        let tail = &text[start + 2..];
        if let Some(end) = tail.find("]]") {
            let inner = &tail[..end];
            if let Some(echo) = inner.strip_prefix("ECHO:") {
                return Some(format!("ECHO: {echo}"));
            }
            if let Some(say) = inner.strip_prefix("SAY:") {
                return Some(say.replace("\\n", "\n"));
            }
            if let Some(n) = inner
                .strip_prefix("LONG:")
                .and_then(|n| n.trim().parse::<usize>().ok())
            {
                return Some(long_text(n.min(MAX_LONG)));
            }
        }
        search = start + 2;
    }
    None
}

/// Exactly `n` ASCII characters of numbered paragraphs (`P0001 …\n\n`), so chunkers can be checked
/// for losses, reordering and paragraph-boundary splits.
/// The reply to `[[LONG:n]]`: exactly `n` characters of numbered paragraphs.
pub fn long_text(n: usize) -> String {
    const FILLER: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod \
                          tempor incididunt ut labore et dolore magna aliqua";
    let mut out = String::with_capacity(n + 256);
    let mut i = 1;
    while out.len() < n {
        out.push_str(&format!("P{i:04} {FILLER}.\n\n"));
        i += 1;
    }
    out.truncate(n);
    out
}

fn first_line(text: &str) -> String {
    let line = text.trim_start().lines().next().unwrap_or("");
    let mut rest = line.trim_start();
    // `[Mon 2026-11-03 10:00 GMT+8] hi` ⇒ `hi`; `[[...]]` is not a prefix, it is content.
    while rest.starts_with('[') && !rest.starts_with("[[") {
        let Some(end) = rest.find(']') else { break };
        rest = rest[end + 1..].trim_start();
    }
    rest.chars().take(MAX_MOCK_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(content: Value) -> Value {
        json!({ "role": "user", "content": content })
    }

    #[test]
    fn slow_marker_delays_and_does_not_change_the_reply() {
        let msgs = [user(json!("[[SLOW:1500]] [[ECHO:late]]"))];
        assert_eq!(
            delay_for(&msgs),
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(reply_for(&msgs), "ECHO: late");
        assert_eq!(delay_for(&[user(json!("[[SLOW:x]]"))]), None);
        assert_eq!(
            delay_for(&[user(json!("[[SLOW:999999]]"))]),
            Some(std::time::Duration::from_secs(60))
        );
    }

    #[test]
    fn echo_in_openclaw_envelope() {
        let messages = [
            json!({ "role": "system", "content": "[[ECHO:system prompts are ignored]]" }),
            user(json!(
                "[Mon 2026-11-03 10:00 GMT+8] say [[ECHO:hello world]]\n\nRuntime: agent=main"
            )),
            user(json!(format!(
                "{INTERNAL_BEGIN}\n[[ECHO:hidden]]\n{INTERNAL_END}"
            ))),
        ];
        assert_eq!(reply_for(&messages), "ECHO: hello world");
    }

    #[test]
    fn newest_marker_wins_and_parts_are_read() {
        let messages = [
            user(json!("[[ECHO:old]]")),
            json!({ "role": "assistant", "content": "ECHO: old" }),
            user(
                json!([{ "type": "image_url", "image_url": {} }, { "type": "text", "text": "x [[ECHO:new]]" }]),
            ),
        ];
        assert_eq!(reply_for(&messages), "ECHO: new");
    }

    #[test]
    fn say_replies_exactly_with_escaped_newlines() {
        let messages = [user(json!(
            "[Mon 2026-11-03 10:00 GMT+8] [[SAY:Here it is\\nMEDIA:/tmp/a b.png]]\n\nRuntime: x"
        ))];
        assert_eq!(reply_for(&messages), "Here it is\nMEDIA:/tmp/a b.png");
        assert_eq!(reply_for(&[user(json!("[[SAY:]]"))]), "");
        assert_eq!(
            reply_for(&[user(json!("[[SAY:  spaced  ]]"))]),
            "  spaced  "
        );
        // The earliest marker of the newest message wins.
        assert_eq!(
            reply_for(&[user(json!("[[SAY:first]] [[ECHO:second]]"))]),
            "first"
        );
    }

    #[test]
    fn long_is_exact() {
        for n in [0, 1, 5, 77, 4001, 12345] {
            assert_eq!(long_text(n).chars().count(), n);
        }
        assert!(long_text(300).starts_with("P0001 lorem"));
        assert!(long_text(300).contains("\n\nP0002 "));
        assert_eq!(reply_for(&[user(json!("[[LONG:4001]]"))]).len(), 4001);
        assert_eq!(reply_for(&[user(json!("[[LONG:x]]"))]), "MOCK: [[LONG:x]]");
    }

    #[test]
    fn mock_fallback_strips_timestamp_and_trailer() {
        let messages = [
            user(json!(
                "[Tue 2026-11-04 09:12 GMT+8] [ch] 你好\nsecond line\n\nRuntime: x"
            )),
            user(json!(format!("{INTERNAL_BEGIN}\nctx\n{INTERNAL_END}"))),
        ];
        assert_eq!(reply_for(&messages), "MOCK: 你好");
        assert_eq!(reply_for(&[]), "MOCK: ");
        let long = "a".repeat(500);
        assert_eq!(reply_for(&[user(json!(long))]).len(), "MOCK: ".len() + 200);
    }

    #[test]
    fn unterminated_internal_block_hides_the_rest() {
        assert_eq!(
            strip_internal(&format!("a{INTERNAL_BEGIN}b [[ECHO:x]]")),
            "a"
        );
    }
}
