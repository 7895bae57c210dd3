//! The deterministic reply rule of the mock model.
//!
//! OpenClaw wraps what the user typed: a `[<timestamp>] ` prefix, a `\n\nRuntime: ...` trailer, and
//! sometimes a separate user message holding only an internal-context block. The rule therefore looks
//! at the *visible* text of user messages, and only at the newest one that has any: a marker an
//! older turn carried is history, not an instruction for this turn.

use serde_json::Value;

const INTERNAL_BEGIN: &str = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>";
const INTERNAL_END: &str = "<<<END_OPENCLAW_INTERNAL_CONTEXT>>>";
/// Upper bound for `[[LONG:n]]`, so a typo cannot make the mock allocate gigabytes.
const MAX_LONG: usize = 1_000_000;
/// Longest quote of a message without a marker.
const MAX_QUOTE_CHARS: usize = 200;

/// The visible text of every user message, oldest first, split into the turn (the newest one
/// with visible text that is not one of OpenClaw's own `[System] …` prompts; empty when there is
/// none) and the ones before it.
///
/// OpenClaw's prompts are skipped because they are not what the user asked: after a restart,
/// `[System] Your previous turn was interrupted … Continue from the existing transcript` asks
/// the model to finish the user's last request, and answering it as that request was answered
/// gives the same text, which is what lets the plugin match the recovery's answer with the one
/// it replays (a real model would finish the same task).
fn turn_and_history(messages: &[Value]) -> (String, Vec<String>) {
    let mut texts: Vec<String> = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| visible_text(m.get("content").unwrap_or(&Value::Null)))
        .collect();
    let visible = |t: &String| !t.trim().is_empty();
    let turn = texts
        .iter()
        .rposition(|t| visible(t) && !is_system_prompt(t))
        .or_else(|| texts.iter().rposition(visible));
    let Some(turn) = turn else {
        return (String::new(), Vec::new());
    };
    texts.truncate(turn + 1);
    let turn = texts.pop().unwrap_or_default();
    (turn, texts)
}

/// OpenClaw's own turn prompts start with `[System]`, after the timestamp when there is one.
fn is_system_prompt(text: &str) -> bool {
    prefix_groups(text).0.contains(&"[System]")
}

/// The leading `[...]` groups of `text`'s first line (`[[...]]` is a marker, not a group), and
/// the rest of that line.
fn prefix_groups(text: &str) -> (Vec<&str>, &str) {
    let line = text.trim_start().lines().next().unwrap_or("");
    let mut groups = Vec::new();
    let mut rest = line.trim_start();
    while rest.starts_with('[') && !rest.starts_with("[[") {
        let Some(end) = rest.find(']') else { break };
        groups.push(&rest[..=end]);
        rest = rest[end + 1..].trim_start();
    }
    (groups, rest)
}

/// `[[SLOW:ms]]` in the newest user message with visible text holds the answer back that long
/// (at most a minute), so a test can act while a turn is in flight.
pub(crate) fn delay_for(messages: &[Value]) -> Option<std::time::Duration> {
    marker_ms(messages, "[[SLOW:", 60_000)
}

/// `[[DRIP:ms]]` in the newest user message with visible text makes a streamed answer pause
/// that long (at most ten seconds) before each paragraph after the first, as a model that
/// writes slowly does, so a test sees its blocks arrive one by one.
pub(crate) fn drip_for(messages: &[Value]) -> Option<std::time::Duration> {
    marker_ms(messages, "[[DRIP:", 10_000)
}

/// The milliseconds of marker `open` (`[[NAME:`) in the turn, at most `max`.
fn marker_ms(messages: &[Value], open: &str, max: u64) -> Option<std::time::Duration> {
    let (text, _) = turn_and_history(messages);
    let start = text.find(open)? + open.len();
    let end = text[start..].find("]]")? + start;
    let ms: u64 = text[start..end].trim().parse().ok()?;
    Some(std::time::Duration::from_millis(ms.min(max)))
}

/// The reply to a `messages` array, from the newest user message with visible text (the turn):
/// * its earliest `[[ECHO:x]]` ⇒ `ECHO: x`;
/// * or `[[SAY:x]]` ⇒ exactly `x`, with each two-character `\n` turned into a newline (so a test
///   can make the agent answer e.g. `MEDIA:/abs/path.png`);
/// * or `[[LONG:n]]` ⇒ exactly `n` characters of numbered paragraphs;
/// * or `[[RECALL]]` ⇒ `RECALL: ` + the `x` of every `[[ECHO:x]]` in the user messages before
///   it, oldest first, joined by `, ` (`RECALL: nothing` when there is none): what the session's
///   history holds, so a test can tell what reached it;
/// * otherwise `You said: "<first line>"`, the turn's first line quoted with its leading
///   `[...] ` groups stripped, at most 200 characters: a person trying the bot sees an answer
///   to what they wrote.
///
/// Markers in older user messages never make the reply, so a conversation that once held
/// `[[ECHO:x]]` is not answered `ECHO: x` for ever after.
pub(crate) fn reply_for(messages: &[Value]) -> String {
    let (turn, history) = turn_and_history(messages);
    if let Some(reply) = marker_reply(&turn, &history) {
        return reply;
    }
    format!("You said: \"{}\"", first_line(&turn))
}

/// `content` as text (string, or the `text` parts of an array), internal-context and inbound
/// metadata blocks removed.
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
    strip_inbound_metadata(&strip_internal(&raw))
}

/// OpenClaw puts metadata before what the user wrote (in groups, `Conversation info:` and
/// `Sender info:`), each block under a header line ending with this marker, and a trailing
/// `Context:` block after it; it strips them itself before showing a message.
const CONTEXT_MARKER: &str = "⟦openclaw:ctx⟧";

/// `text` without its inbound metadata blocks, as OpenClaw's `stripInboundMetadata` reads them:
/// a header line, then a fenced JSON block or lines up to an empty one; everything from a
/// `Context:` header on.
fn strip_inbound_metadata(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let header = line.trim();
        if !header.ends_with(CONTEXT_MARKER) {
            kept.push(line);
            continue;
        }
        if header == format!("Context: {CONTEXT_MARKER}") {
            break;
        }
        if lines.peek().is_some_and(|l| l.trim() == "```json") {
            lines.find(|l| l.trim() == "```");
        } else {
            lines.find(|l| l.trim().is_empty());
        }
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
    }
    kept.join("\n")
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

/// The earliest `[[ECHO:..]]`, `[[SAY:..]]`, valid `[[LONG:n]]` or `[[RECALL]]` marker in
/// `text`, as a reply; `history` is what `[[RECALL]]` recalls.
fn marker_reply(text: &str, history: &[String]) -> Option<String> {
    for inner in markers(text) {
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
        if inner == "RECALL" {
            let echoes: Vec<&str> = history
                .iter()
                .flat_map(|text| markers(text))
                .filter_map(|inner| inner.strip_prefix("ECHO:"))
                .collect();
            return Some(if echoes.is_empty() {
                "RECALL: nothing".to_owned()
            } else {
                format!("RECALL: {}", echoes.join(", "))
            });
        }
    }
    None
}

/// What stands between each `[[` and the next `]]` in `text`, in order.
fn markers(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(offset) = text[search..].find("[[") {
        let start = search + offset;
        let tail = &text[start + 2..];
        if let Some(end) = tail.find("]]") {
            found.push(&tail[..end]);
        }
        search = start + 2;
    }
    found
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

/// `[Mon 2026-11-03 10:00 GMT+8] hi` ⇒ `hi`, at most [`MAX_QUOTE_CHARS`].
fn first_line(text: &str) -> String {
    prefix_groups(text)
        .1
        .chars()
        .take(MAX_QUOTE_CHARS)
        .collect()
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
            drip_for(&[user(json!("[[DRIP:1500]] [[LONG:3000]]"))]),
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(
            drip_for(&[user(json!("[[DRIP:99999]]"))]),
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(drip_for(&[user(json!("[[SLOW:100]]"))]), None);
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
    fn markers_in_older_turns_are_history_not_instructions() {
        let messages = [
            user(json!("[[ECHO:x]]")),
            json!({ "role": "assistant", "content": "ECHO: x" }),
            user(json!("[[SLOW:5000]] [[LONG:3000]]")),
            json!({ "role": "assistant", "content": "P0001 …" }),
            user(json!(
                "[Mon 2026-11-03 10:00 GMT+8] Tell me a story\n\nRuntime: agent=main"
            )),
            user(json!(format!(
                "{INTERNAL_BEGIN}\n[[ECHO:hidden]]\n{INTERNAL_END}"
            ))),
        ];
        assert_eq!(reply_for(&messages), "You said: \"Tell me a story\"");
        assert_eq!(delay_for(&messages), None);
    }

    #[test]
    fn openclaw_system_prompts_are_answered_as_the_users_last_turn() {
        let recovery = "[Mon 2026-11-03 10:05 GMT+8] [System] Your previous turn was interrupted \
                        by a gateway restart. Continue from the existing transcript.";
        let messages = [
            user(json!("[Mon 2026-11-03 10:00 GMT+8] [[LONG:300]]")),
            json!({ "role": "assistant", "content": "P0001 …" }),
            user(json!(recovery)),
        ];
        assert_eq!(reply_for(&messages), long_text(300));
        let messages = [
            user(json!("Tell me a story")),
            user(json!("[System] Continue.")),
        ];
        assert_eq!(reply_for(&messages), "You said: \"Tell me a story\"");
        // A session of OpenClaw's prompts alone is answered like any other.
        assert_eq!(
            reply_for(&[user(json!("[System] [[ECHO:sys]]"))]),
            "ECHO: sys"
        );
        assert!(!is_system_prompt("[[System]]"));
    }

    #[test]
    fn a_turn_without_visible_text_falls_back_to_the_one_before() {
        // A picture alone: its message has no text part; the newest text is the turn.
        let messages = [
            user(json!("[[ECHO:caption]]")),
            user(json!([{ "type": "image_url", "image_url": {} }])),
        ];
        assert_eq!(reply_for(&messages), "ECHO: caption");
    }

    #[test]
    fn recall_lists_the_echo_markers_of_earlier_turns() {
        let messages = [
            user(json!("[[ECHO:A]] and [[ECHO:B]]")),
            json!({ "role": "assistant", "content": "ECHO: A" }),
            user(json!("no marker")),
            user(json!("[[SAY:not an echo]]")),
            user(json!(format!(
                "{INTERNAL_BEGIN}\n[[ECHO:hidden]]\n{INTERNAL_END}"
            ))),
            user(json!("[[ECHO:C]]")),
            user(json!("@bot [[RECALL]] [[ECHO:this turn]]")),
        ];
        assert_eq!(reply_for(&messages), "RECALL: A, B, C");
        assert_eq!(reply_for(&[user(json!("[[RECALL]]"))]), "RECALL: nothing");
        // The earliest marker of the turn wins, as for the others.
        assert_eq!(
            reply_for(&[user(json!("[[ECHO:x]] [[RECALL]]"))]),
            "ECHO: x"
        );
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
        assert_eq!(
            reply_for(&[user(json!("[[LONG:x]]"))]),
            "You said: \"[[LONG:x]]\""
        );
    }

    #[test]
    fn a_turn_without_a_marker_is_quoted_without_timestamp_and_trailer() {
        let messages = [
            user(json!(
                "[Tue 2026-11-04 09:12 GMT+8] [ch] 你好\nsecond line\n\nRuntime: x"
            )),
            user(json!(format!("{INTERNAL_BEGIN}\nctx\n{INTERNAL_END}"))),
        ];
        assert_eq!(reply_for(&messages), "You said: \"你好\"");
        assert_eq!(reply_for(&[]), "You said: \"\"");
        let long = "a".repeat(500);
        assert_eq!(
            reply_for(&[user(json!(long))]),
            format!("You said: \"{}\"", "a".repeat(200))
        );
    }

    #[test]
    fn a_group_message_is_quoted_without_openclaws_metadata() {
        let text = format!(
            "[Sun 2026-12-06 14:04 UTC] Conversation info: {CONTEXT_MARKER}\n```json\n\
             {{\"group\": \"g1\", \"note\": \"[[ECHO:no]]\"}}\n```\n\n\
             Sender info: {CONTEXT_MARKER}\nname: carol\n\n\
             @bot-b Hello from the group\nsecond line\n\n\
             Context: {CONTEXT_MARKER}\n[[ECHO:nor this]]"
        );
        assert_eq!(
            reply_for(&[user(json!(text))]),
            "You said: \"@bot-b Hello from the group\""
        );
    }

    #[test]
    fn unterminated_internal_block_hides_the_rest() {
        assert_eq!(
            strip_internal(&format!("a{INTERNAL_BEGIN}b [[ECHO:x]]")),
            "a"
        );
    }
}
