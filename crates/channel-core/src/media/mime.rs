//! The one MIME table: file extensions both ways, and the types a file's first bytes announce.

/// Extension (lowercase, no dot) → MIME type. The first extension listed for a type is the one
/// [`extension_for`] gives.
const BY_EXTENSION: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("bmp", "image/bmp"),
    ("heic", "image/heic"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("avi", "video/x-msvideo"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("silk", "audio/silk"),
    ("amr", "audio/amr"),
    ("pdf", "application/pdf"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("txt", "text/plain"),
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("json", "application/json"),
    ("zip", "application/zip"),
    ("tar", "application/x-tar"),
    ("gz", "application/gzip"),
];

/// Other spellings of types in the table, as servers send them.
const ALIASES: &[(&str, &str)] = &[
    ("image/jpg", "image/jpeg"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/mp3", "audio/mpeg"),
    ("audio/x-m4a", "audio/mp4"),
];

pub const OCTET_STREAM: &str = "application/octet-stream";

/// The MIME type of a file name by its extension, if the extension is known.
pub fn from_name(name: &str) -> Option<&'static str> {
    let ext = std::path::Path::new(name)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    BY_EXTENSION
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, mime)| *mime)
}

/// The essence of a `Content-Type` (`image/png; x=y` → `image/png`), lowercase, with known
/// aliases folded; `None` when empty or not `type/subtype`.
pub fn essence(content_type: &str) -> Option<String> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !essence.contains('/') {
        return None;
    }
    Some(
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == essence)
            .map_or(essence, |(_, mime)| (*mime).to_owned()),
    )
}

/// The usual extension (without dot) of a MIME type in the table.
pub fn extension_for(mime: &str) -> Option<&'static str> {
    let mime = essence(mime)?;
    BY_EXTENSION
        .iter()
        .find(|(_, m)| *m == mime)
        .map(|(e, _)| *e)
}

/// The type a file's first bytes announce: PNG, JPEG, GIF, WebP, BMP, MP4/MOV, WebM and PDF.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"BM") && bytes.len() >= 14 {
        Some("image/bmp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some(if &bytes[8..10] == b"qt" {
            "video/quicktime"
        } else {
            "video/mp4"
        })
    } else if bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        Some("video/webm")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// An image type recognised by its first bytes.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    sniff(bytes).filter(|m| m.starts_with("image/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_both_ways() {
        assert_eq!(from_name("Report.PDF"), Some("application/pdf"));
        assert_eq!(from_name("a.tar.gz"), Some("application/gzip"));
        assert_eq!(from_name("noext"), None);
        assert_eq!(from_name("x.exe"), None);
        assert_eq!(extension_for("image/jpeg"), Some("jpg"));
        assert_eq!(extension_for("image/JPG"), Some("jpg"));
        assert_eq!(extension_for("image/png; charset=x"), Some("png"));
        assert_eq!(extension_for("audio/x-wav"), Some("wav"));
        assert_eq!(extension_for("application/x-unknown"), None);
        assert_eq!(essence(" Image/PNG ;q=1").as_deref(), Some("image/png"));
        assert_eq!(essence("nonsense"), None);
        // Every type in the table leads back to an extension of its own.
        for (ext, mime) in BY_EXTENSION {
            assert_eq!(
                from_name(&format!("f.{}", extension_for(mime).expect(mime))),
                Some(*mime),
                "{ext}"
            );
        }
    }

    #[test]
    fn first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a...."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0"), Some("image/bmp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42...."), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  ...."), Some("video/quicktime"));
        assert_eq!(sniff(&[0x1a, 0x45, 0xdf, 0xa3, 1]), Some("video/webm"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff_image(b"%PDF-1.7"), None);
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b""), None);
    }
}
