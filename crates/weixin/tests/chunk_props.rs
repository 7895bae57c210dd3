//! `text::chunk` on Markdown made of paragraphs and fenced code blocks: every piece within the
//! limit, every fence of a piece closed in that piece, and nothing lost or reordered (the only
//! additions are the fence lines that close and reopen a block at a cut).

use proptest::prelude::*;
use weixin::text::chunk;

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
    fn pieces_keep_the_limit_balance_fences_and_lose_nothing(text in markdown(), limit in 64usize..400) {
        let pieces = chunk(&text, limit);
        prop_assert!(!pieces.is_empty());
        for piece in &pieces {
            prop_assert!(piece.chars().count() <= limit, "{} chars over {limit}: {piece:?}", piece.chars().count());
            let fences = piece.lines().filter(|l| is_fence(l)).count();
            prop_assert!(fences % 2 == 0, "unbalanced fences in {piece:?}");
        }
        prop_assert_eq!(content(&pieces.join("\n")), content(&text));
    }
}
