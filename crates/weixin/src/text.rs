//! Outbound text for WeChat, which renders plain text: a Markdown filter applied to a whole
//! reply before channel-core's chunker (`channel_core::text::chunks`) keeps each wire message
//! under the server's length limit.
//!
//! The filter runs on the whole text before chunking, so a marker pair split across chunks is
//! still recognised (filtering chunk by chunk was a cause of stray `**` in the official plugin).

use channel_core::text::fence_opener;

/// The server rejects longer texts with `ret=-2 "prepare failed"`; reports put the safe size
/// between 2000 and 4000 characters, so the default stays well inside it.
pub const DEFAULT_CHUNK_CHARS: usize = 2000;

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

/// Makes Markdown read well as WeChat plain text: drops images, strips `#####`/`######`
/// heading markers, and removes emphasis markers around CJK text (WeChat shows them raw, and
/// CJK has no use for them). Code (fenced and inline) passes through untouched.
pub fn filter_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(fence) = &in_fence {
            out.push_str(line);
            if trimmed.starts_with(fence.as_str())
                && trimmed.trim_end().chars().all(|c| c == '`' || c == '~')
            {
                in_fence = None;
            }
            continue;
        }
        if let Some(fence) = fence_opener(trimmed) {
            in_fence = Some(fence);
            out.push_str(line);
            continue;
        }
        out.push_str(&filter_line(line));
    }
    out
}

fn filter_line(line: &str) -> String {
    let mut line = line.to_owned();
    // `##### x` and `###### x`: WeChat would show the hashes; h1–h4 stay as visual structure.
    let indent = line.len() - line.trim_start().len();
    let hashes = line[indent..].chars().take_while(|c| *c == '#').count();
    if (5..=6).contains(&hashes) && line[indent + hashes..].starts_with(' ') {
        line = format!("{}{}", &line[..indent], &line[indent + hashes + 1..]);
    }
    let line = remove_images(&line);
    strip_cjk_emphasis(&line)
}

/// Removes `![alt](url)` outside inline code.
fn remove_images(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = find_outside_code(rest, "![") {
        let after = &rest[start + 2..];
        let parsed = after.find("](").and_then(|close| {
            let url = &after[close + 2..];
            url.find(')').map(|end| close + 2 + end + 1)
        });
        match parsed {
            Some(len) => {
                out.push_str(&rest[..start]);
                rest = &after[len..];
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The byte offset of `needle` in `text` that is not inside an inline code span.
fn find_outside_code(text: &str, needle: &str) -> Option<usize> {
    let mut in_code = false;
    for (i, c) in text.char_indices() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code && text[i..].starts_with(needle) {
            return Some(i);
        }
    }
    None
}

/// `**粗体**` → `粗体`, `*斜体*` → `斜体`, `_x_`/`__x__`/`___x___` likewise; markers around text
/// without CJK and anything in inline code stay as they are.
fn strip_cjk_emphasis(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            // Copy an inline code span verbatim.
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == '`')
                .map(|p| i + 1 + p);
            let stop = end.unwrap_or(chars.len() - 1);
            out.extend(&chars[i..=stop]);
            i = stop + 1;
            continue;
        }
        if c == '*' || c == '_' {
            let run = chars[i..].iter().take_while(|&&d| d == c).count();
            if run <= 3 {
                let marker: Vec<char> = vec![c; run];
                if let Some(close) = find_closing(&chars, i + run, &marker) {
                    let inner: String = chars[i + run..close].iter().collect();
                    let opens_word = chars.get(i + run).is_some_and(|d| !d.is_whitespace());
                    if opens_word && inner.chars().any(is_cjk) {
                        out.push_str(&strip_cjk_emphasis(&inner));
                        i = close + run;
                        continue;
                    }
                }
            }
            out.extend(&chars[i..i + run]);
            i += run;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Index of the closing marker run matching `marker`, on the same line.
fn find_closing(chars: &[char], from: usize, marker: &[char]) -> Option<usize> {
    let n = marker.len();
    let mut j = from + 1;
    while j + n <= chars.len() {
        if chars[j..j + n] == *marker
            && chars.get(j + n) != Some(&marker[0])
            && chars
                .get(j - 1)
                .is_some_and(|c| !c.is_whitespace() && *c != marker[0])
        {
            return Some(j);
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_strips_what_wechat_cannot_show() {
        assert_eq!(
            filter_markdown("**重要**提示 and **bold**"),
            "重要提示 and **bold**"
        );
        assert_eq!(
            filter_markdown("*斜体* _下划线_ ___三重___"),
            "斜体 下划线 三重"
        );
        assert_eq!(
            filter_markdown("see ![图](http://x/y.png) here"),
            "see  here"
        );
        assert_eq!(
            filter_markdown("##### 小标题\n#### keep"),
            "小标题\n#### keep"
        );
        assert_eq!(filter_markdown("`**代码**` stays"), "`**代码**` stays");
        let code = "```\n**粗** ![a](b)\n```\n**粗**";
        assert_eq!(filter_markdown(code), "```\n**粗** ![a](b)\n```\n粗");
        assert_eq!(filter_markdown("2 * 3 * 4 = 24"), "2 * 3 * 4 = 24");
        assert_eq!(filter_markdown("unclosed **粗"), "unclosed **粗");
    }
}
