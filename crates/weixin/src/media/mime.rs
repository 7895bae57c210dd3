//! What `getuploadurl` calls a file; the MIME table itself is channel-core's.

pub use channel_core::media::mime::{OCTET_STREAM, extension_for, from_name, sniff_image};

/// What `getuploadurl` calls the file (spec §3.5, §8.3): images 1, videos 2, files 3, voice
/// notes 4. Audio goes out as a voice note when it decodes (see `voice.rs`), else as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Image,
    Video,
    File,
    Voice,
}

impl UploadKind {
    pub fn of(mime: &str) -> Self {
        if mime.starts_with("image/") {
            Self::Image
        } else if mime.starts_with("video/") {
            Self::Video
        } else if mime == "audio/silk" || channel_core::media::audio::is_decodable(mime) {
            Self::Voice
        } else {
            Self::File
        }
    }

    pub fn media_type(self) -> u8 {
        match self {
            Self::Image => 1,
            Self::Video => 2,
            Self::File => 3,
            Self::Voice => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::File => "file",
            Self::Voice => "voice",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(UploadKind::of("image/png"), UploadKind::Image);
        assert_eq!(UploadKind::of("video/mp4").media_type(), 2);
        assert_eq!(UploadKind::of("audio/mpeg"), UploadKind::Voice);
        assert_eq!(UploadKind::of("audio/silk").media_type(), 4);
        assert_eq!(UploadKind::of("audio/midi"), UploadKind::File);
        assert_eq!(UploadKind::of(OCTET_STREAM).media_type(), 3);
    }
}
