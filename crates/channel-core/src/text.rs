//! Splitting long text for networks with a message size limit, so that Markdown still
//! renders piece by piece: paragraphs stay whole when they fit, and a code block cut in two is
//! closed and reopened.
//!
//! ```
//! let reply = format!("```rust\n{}\n```", "let x = 1;\n".repeat(20));
//! let pieces = channel_core::text::chunks(&reply, 100);
//! assert!(pieces.iter().all(|p| p.chars().count() <= 100 && p.starts_with("```rust")));
//! ```

/// The smallest limit [`chunks`] works with: a cut line must leave room for a reopened fence.
pub const MIN_LIMIT: usize = 64;
/// Room kept around any single line for a reopened fence line and a closing marker.
const FENCE_ROOM: usize = 48;

/// The fence string (``` or ~~~, possibly longer) if `line` opens a fenced block.
pub fn fence_opener(line: &str) -> Option<String> {
    let marker = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run: String = line.chars().take_while(|c| *c == marker).collect();
    (run.chars().count() >= 3).then_some(run)
}

/// One line of the input, or a piece of an over-long line, with the fence it sits in.
#[derive(Debug, Clone)]
struct Segment {
    text: String,
    /// Joined to the previous segment with a newline (a new line) or nothing (a cut line).
    newline_before: bool,
    /// The fence open before this segment, as (opener line, closing marker).
    fence_before: Option<(String, String)>,
    /// The fence open after it.
    fence_after: Option<(String, String)>,
}

impl Segment {
    fn len(&self) -> usize {
        self.text.chars().count()
    }

    /// An empty line outside code: where paragraphs meet.
    fn is_break(&self) -> bool {
        self.newline_before && self.text.trim().is_empty() && self.fence_before.is_none()
    }
}

fn segments(text: &str, piece: usize) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut fence: Option<(String, String)> = None;
    for line in text.split('\n') {
        let trimmed = line.trim();
        let before = fence.clone();
        fence = match &fence {
            Some((_, marker))
                if trimmed.starts_with(marker.as_str())
                    && trimmed.chars().all(|c| c == '`' || c == '~') =>
            {
                None
            }
            Some(open) => Some(open.clone()),
            None => fence_opener(line.trim_start()).map(|marker| (line.to_owned(), marker)),
        };
        let mut pieces = vec![line.to_owned()];
        while pieces.last().is_some_and(|p| p.chars().count() > piece) {
            let long = pieces.pop().unwrap_or_default();
            let (head, tail) = split_line(&long, piece);
            pieces.push(head);
            pieces.push(tail);
        }
        let count = pieces.len();
        for (i, text) in pieces.into_iter().enumerate() {
            out.push(Segment {
                text,
                newline_before: i == 0,
                fence_before: if i == 0 {
                    before.clone()
                } else {
                    fence.clone().or(before.clone())
                },
                fence_after: if i + 1 == count {
                    fence.clone()
                } else {
                    before.clone().or(fence.clone())
                },
            });
        }
    }
    out
}

/// A piece under construction.
#[derive(Default)]
struct Piece {
    segments: Vec<Segment>,
    len: usize,
}

impl Piece {
    fn cost(&self, seg: &Segment) -> usize {
        let sep = usize::from(!self.segments.is_empty() && seg.newline_before);
        let opener = if self.segments.is_empty() {
            reopen_len(&seg.fence_before)
        } else {
            0
        };
        let closer = seg
            .fence_after
            .as_ref()
            .map_or(0, |(_, m)| m.chars().count() + 1);
        self.len + sep + opener + seg.len() + closer
    }

    fn push(&mut self, seg: Segment) {
        if self.segments.is_empty() {
            self.len = reopen_len(&seg.fence_before);
        } else if seg.newline_before {
            self.len += 1;
        }
        self.len += seg.len();
        self.segments.push(seg);
    }

    fn finish(&mut self, out: &mut Vec<String>) {
        // Paragraph breaks at the edges of a piece are the cut itself.
        while self.segments.last().is_some_and(Segment::is_break) {
            self.segments.pop();
        }
        let segments = std::mem::take(&mut self.segments);
        self.len = 0;
        let Some(first) = segments.first() else {
            return;
        };
        let mut text = String::new();
        if let Some((opener, marker)) = &first.fence_before {
            text.push_str(reopen_line(opener, marker));
            text.push('\n');
        }
        for (i, seg) in segments.iter().enumerate() {
            if i > 0 && seg.newline_before {
                text.push('\n');
            }
            text.push_str(&seg.text);
        }
        if let Some((_, marker)) = segments.last().and_then(|s| s.fence_after.as_ref()) {
            text.push('\n');
            text.push_str(marker);
        }
        if !text.trim().is_empty() {
            out.push(text);
        }
    }
}

/// A fence is reopened with its info string (```rust), unless that would take too much room.
fn reopen_line<'a>(opener: &'a str, marker: &'a str) -> &'a str {
    if opener.chars().count() <= 40 {
        opener.trim_start()
    } else {
        marker
    }
}

fn reopen_len(fence: &Option<(String, String)>) -> usize {
    fence
        .as_ref()
        .map_or(0, |(o, m)| reopen_line(o, m).chars().count() + 1)
}

/// Splits `text` into pieces of at most `limit` characters (a limit below [`MIN_LIMIT`] is
/// raised to it): between paragraphs when a whole paragraph fits, else between lines, else
/// inside a line (at a space when there is one). A fenced code block cut in two is closed at the
/// end of one piece and reopened, with its info string, at the start of the next, so every piece
/// renders on its own. Never an empty or blank piece, unless the whole text is one.
pub fn chunks(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(MIN_LIMIT);
    if text.chars().count() <= limit {
        return vec![text.to_owned()];
    }
    // Leave room for a reopened fence line and a closing marker around any single line.
    let segs = segments(text, limit - FENCE_ROOM);
    // Paragraphs: runs of segments between breaks.
    let mut paragraphs: Vec<Vec<Segment>> = vec![Vec::new()];
    for seg in segs {
        let is_break = seg.is_break();
        if let Some(last) = paragraphs.last_mut() {
            last.push(seg);
        }
        if is_break {
            paragraphs.push(Vec::new());
        }
    }
    let mut out = Vec::new();
    let mut piece = Piece::default();
    for paragraph in paragraphs {
        let fits_here = paragraph_fits(&piece, &paragraph, limit);
        if !fits_here
            && !piece.segments.is_empty()
            && paragraph_fits(&Piece::default(), &paragraph, limit)
        {
            piece.finish(&mut out);
        }
        for seg in paragraph {
            if piece.segments.is_empty() && seg.is_break() {
                continue;
            }
            if !piece.segments.is_empty() && piece.cost(&seg) > limit {
                piece.finish(&mut out);
                if seg.is_break() {
                    continue;
                }
            }
            piece.push(seg);
        }
    }
    piece.finish(&mut out);
    out
}

fn paragraph_fits(piece: &Piece, paragraph: &[Segment], limit: usize) -> bool {
    let mut probe = Piece {
        segments: piece.segments.clone(),
        len: piece.len,
    };
    for seg in paragraph {
        if probe.cost(seg) > limit {
            return false;
        }
        probe.push(seg.clone());
    }
    true
}

/// Cuts `line` after at most `max` characters, at the last space in the second half if any.
fn split_line(line: &str, max: usize) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let max = max.clamp(1, chars.len().saturating_sub(1).max(1));
    let cut = chars[..max]
        .iter()
        .rposition(|c| c.is_whitespace())
        .filter(|&p| p >= max / 2)
        .map(|p| p + 1)
        .unwrap_or(max);
    (chars[..cut].iter().collect(), chars[cut..].iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn assert_balanced(piece: &str) {
        let fences = piece
            .lines()
            .filter(|l| l.trim_start().starts_with("```"))
            .count();
        assert_eq!(fences % 2, 0, "unbalanced fences in piece:\n{piece}");
    }

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(chunks("hello", 100), vec!["hello"]);
    }

    #[test]
    fn paragraphs_stay_whole_when_they_fit() {
        let para = |n: usize| format!("P{n:04} {}", "word ".repeat(30).trim_end());
        let text = (0..20).map(para).collect::<Vec<_>>().join("\n\n");
        let pieces = chunks(&text, 500);
        assert!(pieces.len() > 1);
        for piece in &pieces {
            assert!(
                piece.chars().count() <= 500,
                "{} chars",
                piece.chars().count()
            );
            for p in piece.split("\n\n") {
                assert!(
                    p.starts_with('P') && p.ends_with("word"),
                    "paragraph cut: {p:?}"
                );
            }
        }
        assert_eq!(
            pieces.join("\n\n"),
            text,
            "nothing lost, nothing added, in order"
        );
    }

    #[test]
    fn long_code_blocks_are_closed_and_reopened() {
        let body: Vec<String> = (0..200).map(|n| format!("let x{n} = {n};")).collect();
        let text = format!("intro\n\n```rust\n{}\n```\n\noutro", body.join("\n"));
        let pieces = chunks(&text, 300);
        assert!(pieces.len() > 3);
        for piece in &pieces {
            assert!(piece.chars().count() <= 300);
            assert_balanced(piece);
        }
        assert!(
            pieces[2].starts_with("```rust\n"),
            "reopened with its info string: {:?}",
            pieces[2]
        );
        let content: Vec<String> = pieces
            .iter()
            .flat_map(|p| {
                p.lines()
                    .filter(|l| !l.starts_with("```"))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|l| !l.is_empty())
            .collect();
        let expected: Vec<String> = std::iter::once("intro".to_owned())
            .chain(body)
            .chain(std::iter::once("outro".to_owned()))
            .collect();
        assert_eq!(content, expected);
    }

    #[test]
    fn a_single_huge_line_is_cut_at_spaces() {
        let text = "词".repeat(5000) + " " + &"word ".repeat(500);
        let pieces = chunks(&text, 2000);
        assert!(pieces.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(pieces.concat(), text, "a cut line loses nothing");
    }

    #[test]
    fn ten_thousand_characters_come_out_whole_and_in_order() {
        let text: String = (0..100)
            .map(|n| format!("P{n:04} {}\n\n", "x".repeat(94)))
            .collect();
        let pieces = chunks(&text, 2000);
        assert!(pieces.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(words(&pieces.join("\n\n")), words(&text));
    }
}
