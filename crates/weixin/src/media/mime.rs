//! Content types: by file extension (spec §8.3's list) and by the first bytes of an image.

/// Extension (lowercase, no dot) → MIME type, the list of spec §8.3.
const BY_EXTENSION: &[(&str, &str)] = &[
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
    ("csv", "text/csv"),
    ("zip", "application/zip"),
    ("tar", "application/x-tar"),
    ("gz", "application/gzip"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("silk", "audio/silk"),
    ("amr", "audio/amr"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("avi", "video/x-msvideo"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("bmp", "image/bmp"),
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

/// The usual extension (with dot) of a MIME type we know.
pub fn extension_for(mime: &str) -> Option<String> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    BY_EXTENSION
        .iter()
        .find(|(_, m)| *m == mime)
        .map(|(e, _)| format!(".{e}"))
}

/// An image type recognised by its magic bytes: PNG, JPEG, GIF, WebP or BMP.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
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
    } else {
        None
    }
}

/// What `getuploadurl` calls the file (spec §3.5, §8.3): images 1, videos 2, everything else
/// (audio included) 3, since voice bubbles cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Image,
    Video,
    File,
}

impl UploadKind {
    pub fn of(mime: &str) -> Self {
        if mime.starts_with("image/") {
            Self::Image
        } else if mime.starts_with("video/") {
            Self::Video
        } else {
            Self::File
        }
    }

    pub fn media_type(self) -> u8 {
        match self {
            Self::Image => 1,
            Self::Video => 2,
            Self::File => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::File => "file",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_and_kinds() {
        assert_eq!(from_name("Report.PDF"), Some("application/pdf"));
        assert_eq!(from_name("a.tar.gz"), Some("application/gzip"));
        assert_eq!(from_name("noext"), None);
        assert_eq!(from_name("x.exe"), None);
        assert_eq!(UploadKind::of("image/png"), UploadKind::Image);
        assert_eq!(UploadKind::of("video/mp4").media_type(), 2);
        assert_eq!(UploadKind::of("audio/mpeg"), UploadKind::File);
        assert_eq!(UploadKind::of(OCTET_STREAM).media_type(), 3);
        assert_eq!(extension_for("image/jpeg").as_deref(), Some(".jpg"));
        assert_eq!(
            extension_for("image/png; charset=x").as_deref(),
            Some(".png")
        );
        assert_eq!(extension_for("application/x-unknown"), None);
    }

    #[test]
    fn images_are_sniffed() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a...."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff_image(b"BM\0\0\0\0\0\0\0\0\0\0\0\0"),
            Some("image/bmp")
        );
        assert_eq!(sniff_image(b"hello"), None);
        assert_eq!(sniff_image(b""), None);
    }
}
