//! `text::chunks` on any text and limit: every piece within the limit, nothing lost or
//! reordered (only the whitespace at a cut goes), and always at least one piece.

use channel_core::text::chunks;
use proptest::prelude::*;

fn non_space(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Words, CJK, emoji and every kind of break, so cuts land on each branch.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-z]{1,12}",
            "[一-龥]{1,8}",
            Just("😀".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("```rust\n".to_owned()),
        ],
        0..120,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn pieces_keep_the_limit_and_every_character(text in text(), max in 0usize..80) {
        let pieces = chunks(&text, max);
        prop_assert!(!pieces.is_empty());
        if !text.trim().is_empty() {
            // An empty piece would go out as an empty message.
            prop_assert!(pieces.iter().all(|p| !p.trim().is_empty()), "{pieces:?}");
        }
        let limit = max.max(1);
        for piece in &pieces {
            prop_assert!(piece.chars().count() <= limit, "{piece:?} over {limit}");
        }
        prop_assert_eq!(non_space(&pieces.concat()), non_space(&text));
    }
}

#[test]
fn a_zero_limit_still_ends() {
    assert_eq!(chunks("ab", 0), vec!["a".to_owned(), "b".to_owned()]);
}
