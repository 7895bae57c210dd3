//! Splitting long text for networks with a message size limit.

/// Splits text into pieces of at most `max` characters (at least one), preferring paragraph,
/// then line, then word breaks.
pub fn chunks(text: &str, max: usize) -> Vec<String> {
    // A zero limit would cut nothing off and loop forever.
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    while rest.chars().count() > max {
        let cut = rest
            .char_indices()
            .nth(max)
            .map_or(rest.len(), |(at, _)| at);
        let window = &rest[..cut];
        let at = ["\n\n", "\n", " "]
            .into_iter()
            .find_map(|sep| window.rfind(sep).filter(|&i| i > 0))
            .unwrap_or(cut);
        // Leading whitespace can fill a whole window; it is no message of its own.
        let piece = rest[..at].trim_end();
        if !piece.is_empty() {
            out.push(piece.to_owned());
        }
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_breaks_and_keeps_every_character() {
        let text = format!("{}\n\n{}", "a".repeat(30), "b ".repeat(40));
        let pieces = chunks(&text, 32);
        assert!(pieces.iter().all(|p| p.chars().count() <= 32), "{pieces:?}");
        assert_eq!(pieces[0], "a".repeat(30));
        let joined: String = pieces.concat().split_whitespace().collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(joined, original);
        assert_eq!(chunks("短", 4000), vec!["短".to_owned()]);
    }
}
