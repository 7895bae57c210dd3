//! `text::chunks` on any text and limit: every piece within the limit, nothing lost or
//! reordered (only whitespace at a cut goes, and the fence lines that close and reopen a block
//! at a cut come in), no blank piece, and always at least one piece. On Markdown whose fences
//! are balanced, every piece's fences are balanced too.

use channel_core::text::{MIN_LIMIT, chunks};
use proptest::prelude::*;

fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

/// The characters outside fence lines and whitespace, in order.
fn content(text: &str) -> String {
    text.lines()
        .filter(|l| !is_fence(l))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Words, CJK, emoji and every kind of break, and fence lines that need not pair up, so cuts
/// land on each branch.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-z]{1,12}",
            "[一-龥]{1,8}",
            Just("😀".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("\n```rust\n".to_owned()),
            Just("\n```\n".to_owned()),
        ],
        0..400,
    )
    .prop_map(|parts| parts.concat())
}

fn line() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof!["[a-z]{1,10}", "[一-龥]{1,6}", Just(" ".to_owned())],
        0..40,
    )
    .prop_map(|words| words.concat())
}

fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        // A paragraph.
        proptest::collection::vec(line(), 1..6).prop_map(|lines| lines.join("\n")),
        // A fenced code block, with or without an info string.
        (
            prop_oneof![Just(""), Just("rust"), Just("json")],
            proptest::collection::vec(line(), 0..30)
        )
            .prop_map(|(info, lines)| format!("```{info}\n{}\n```", lines.join("\n"))),
    ]
}

fn markdown() -> impl Strategy<Value = String> {
    proptest::collection::vec(block(), 1..12).prop_map(|blocks| blocks.join("\n\n"))
}

proptest! {
    #[test]
    fn pieces_keep_the_limit_and_every_character(text in text(), limit in 0usize..400) {
        let pieces = chunks(&text, limit);
        prop_assert!(!pieces.is_empty());
        if !text.trim().is_empty() {
            // A blank piece would go out as an empty message.
            prop_assert!(pieces.iter().all(|p| !p.trim().is_empty()), "{pieces:?}");
        }
        let limit = limit.max(MIN_LIMIT);
        for piece in &pieces {
            prop_assert!(piece.chars().count() <= limit, "{piece:?} over {limit}");
        }
        prop_assert_eq!(content(&pieces.join("\n")), content(&text));
    }

    #[test]
    fn markdown_pieces_balance_their_fences(text in markdown(), limit in 64usize..400) {
        let pieces = chunks(&text, limit);
        prop_assert!(!pieces.is_empty());
        for piece in &pieces {
            prop_assert!(piece.chars().count() <= limit, "{} chars over {limit}: {piece:?}", piece.chars().count());
            let fences = piece.lines().filter(|l| is_fence(l)).count();
            prop_assert!(fences % 2 == 0, "unbalanced fences in {piece:?}");
        }
        prop_assert_eq!(content(&pieces.join("\n")), content(&text));
    }
}

#[test]
fn a_zero_limit_still_ends() {
    let text = "word ".repeat(100);
    let pieces = chunks(&text, 0);
    assert!(pieces.iter().all(|p| p.chars().count() <= MIN_LIMIT));
    assert_eq!(pieces.join(" ").split_whitespace().count(), 100);
}
