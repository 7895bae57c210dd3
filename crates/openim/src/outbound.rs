//! [`Outbound`] → the `MsgData`s to send: targets, text pieces, uploaded media, and
//! `clientMsgID`s that stay the same when the host retries a delivery.

use channel_core::dm::strip_prefix_ci;
use channel_core::media::{MediaPolicy, mime};
use channel_core::{ChannelError, ChatKind, Outbound, Target};

use crate::rest::RestClient;
use crate::wire::proto::MsgData;
use crate::wire::{
    Content, FileElem, PictureBaseInfo, PictureElem, VideoElem, msg_from, msg_status, session_type,
};

/// Characters per text message. A frame may be 51,200 bytes after base64 (spec §1.3); 4,000
/// characters of CJK text (12 KB of UTF-8) stay far below it with any envelope.
pub const CHUNK_CHARS: usize = 4000;

/// The message kind an attachment must become, when the caller says so (the agent tools);
/// otherwise it follows the file's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    Image,
    Video,
    File,
}

/// Who sends, for building messages.
#[derive(Debug)]
pub struct Sender<'a> {
    pub account: &'a str,
    pub me: &'a str,
    pub platform_id: i32,
    pub nickname: &'a str,
    pub rest: &'a RestClient,
    /// Guarded fetches of http(s) attachments and the size cap.
    pub media: &'a MediaPolicy,
}

/// The peer the host knows an OpenIM group by: `<groupID>@<account>`. Group ids are unique
/// per server only, so two accounts on two servers with a group `g1` must not share one
/// session.
pub fn group_peer(account: &str, group_id: &str) -> String {
    format!("{group_id}@{account}")
}

/// The wire group id of a target: a host peer of this account ([`group_peer`]) loses its
/// suffix; anything else is taken as it is.
pub fn wire_group_id<'a>(account: &str, id: &'a str) -> &'a str {
    id.strip_suffix(account)
        .and_then(|rest| rest.strip_suffix('@'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(id)
}

/// `user:<id>`, `<id>` → direct; `group:<id>` → group. The channel prefix may come first.
pub fn parse_target(raw: &str) -> Result<Target, ChannelError> {
    let mut rest = raw.trim();
    if let Some(stripped) = strip_prefix_ci(rest, "multi-openim:") {
        rest = stripped.trim_start();
    }
    let (kind, id) =
        if let Some(id) = strip_prefix_ci(rest, "group:").or(strip_prefix_ci(rest, "g:")) {
            (ChatKind::Group, id)
        } else {
            let id = ["user:", "dm:", "direct:", "u:"]
                .into_iter()
                .find_map(|p| strip_prefix_ci(rest, p))
                .unwrap_or(rest);
            (ChatKind::Direct, id)
        };
    let id = id.trim();
    if id.is_empty() {
        return Err(ChannelError::bad_input(format!(
            "multi-openim: empty target {raw:?} (expected <userID> or group:<groupID>)"
        )));
    }
    Ok(Target {
        kind,
        id: id.to_owned(),
    })
}

/// Builds every wire message of `message`: attachments first (uploaded now), then the text.
pub async fn build(
    sender: &Sender<'_>,
    target: &Target,
    message: &Outbound,
    attach: Option<Attach>,
) -> Result<Vec<MsgData>, ChannelError> {
    let mut contents = Vec::new();
    for item in &message.media {
        contents.push(upload(sender, item, &message.media_roots, attach).await?);
    }
    if !message.text.trim().is_empty() {
        for piece in channel_core::text::chunks(&message.text, CHUNK_CHARS) {
            contents.push(Content::text(piece));
        }
    }
    if contents.is_empty() {
        return Err(ChannelError::bad_input(
            "multi-openim: nothing to send (no text and no media)",
        ));
    }
    contents
        .into_iter()
        .enumerate()
        .map(|(part, content)| {
            wire_message(
                sender,
                target,
                content,
                message.wire_id(sender.account, part),
            )
        })
        .collect()
}

fn wire_message(
    sender: &Sender<'_>,
    target: &Target,
    content: Content,
    client_msg_id: String,
) -> Result<MsgData, ChannelError> {
    // A host peer of one of this account's groups (`<groupID>@<account>`, e.g. the host's
    // `OriginatingTo`) is that group, however the target was spelled.
    let group = wire_group_id(sender.account, &target.id);
    let is_group = target.kind == ChatKind::Group || group.len() != target.id.len();
    let (recv_id, group_id, session) = if is_group {
        (String::new(), group.to_owned(), session_type::GROUP)
    } else {
        (target.id.clone(), String::new(), session_type::SINGLE)
    };
    Ok(MsgData {
        send_id: sender.me.to_owned(),
        recv_id,
        group_id,
        client_msg_id,
        sender_platform_id: sender.platform_id,
        sender_nickname: sender.nickname.to_owned(),
        session_type: session,
        msg_from: msg_from::USER,
        content_type: content.content_type(),
        content: content.encode()?,
        create_time: channel_core::now_ms(),
        status: msg_status::SENDING,
        ..MsgData::default()
    })
}

/// Reads one attachment (a local file under an allowed root, or an http(s) URL), uploads it and
/// returns the message content that points at the uploaded object.
async fn upload(
    sender: &Sender<'_>,
    item: &str,
    roots: &[String],
    attach: Option<Attach>,
) -> Result<Content, ChannelError> {
    let cap = sender.media.max_bytes;
    let (bytes, name) = if item.starts_with("http://") || item.starts_with("https://") {
        let downloaded = sender.media.fetch(item).await?;
        let name = downloaded
            .file_name()
            .unwrap_or_else(|| "attachment".into());
        (downloaded.bytes, name)
    } else {
        let path = channel_core::message::local_media_path(item, roots)?;
        let size = tokio::fs::metadata(&path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if size > cap {
            return Err(ChannelError::bad_input(format!(
                "media {}: {size} bytes, over the media size cap {}",
                path.display(),
                sender.media.describe_cap()
            )));
        }
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            ChannelError::bad_input(format!("media {}: cannot read: {e}", path.display()))
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        (bytes, name)
    };
    if bytes.len() as u64 > cap {
        return Err(ChannelError::bad_input(format!(
            "media {name}: {} bytes, over the media size cap {}",
            bytes.len(),
            sender.media.describe_cap()
        )));
    }
    let mime = mime_for(&name, &bytes, attach)?;
    let size = bytes.len() as i64;
    let (width, height) = dimensions(&bytes);
    let kind = attach.unwrap_or(match mime.split('/').next() {
        Some("image") => Attach::Image,
        Some("video") => Attach::Video,
        _ => Attach::File,
    });
    let uploaded = sender.rest.upload(bytes, &name, mime).await?;
    let uuid = uploaded.name.clone();
    Ok(match kind {
        Attach::Image => {
            let picture = PictureBaseInfo {
                uuid,
                mime: mime.to_owned(),
                size,
                width,
                height,
                url: uploaded.url.clone(),
            };
            Content::Picture(PictureElem {
                source_path: String::new(),
                source_picture: picture.clone(),
                big_picture: picture.clone(),
                snapshot_picture: picture,
            })
        }
        Attach::Video => Content::Video(VideoElem {
            video_uuid: uuid,
            video_url: uploaded.url,
            video_type: mime.to_owned(),
            video_size: size,
            ..VideoElem::default()
        }),
        Attach::File => Content::File(FileElem {
            uuid,
            source_url: uploaded.url,
            file_name: name,
            file_size: size,
            file_type: mime.to_owned(),
            ..FileElem::default()
        }),
    })
}

/// The MIME type of an attachment: from its name, or for an image without a known extension
/// from its header. An image or video the caller asked for must be one.
fn mime_for(
    name: &str,
    bytes: &[u8],
    attach: Option<Attach>,
) -> Result<&'static str, ChannelError> {
    let by_name = mime::from_name(name).unwrap_or(mime::OCTET_STREAM);
    let sniffed = mime::sniff(bytes);
    match attach {
        Some(Attach::Image) => sniffed
            .filter(|m| m.starts_with("image/"))
            .or(Some(by_name).filter(|m| m.starts_with("image/")))
            .ok_or_else(|| {
                ChannelError::bad_input(format!(
                    "media {name}: not an image (PNG, JPEG, GIF or WebP); send it as a file"
                ))
            }),
        Some(Attach::Video) => sniffed
            .filter(|m| m.starts_with("video/"))
            .or(Some(by_name).filter(|m| m.starts_with("video/")))
            .ok_or_else(|| {
                ChannelError::bad_input(format!(
                    "media {name}: not a video (MP4, MOV or WebM); send it as a file"
                ))
            }),
        _ if by_name == mime::OCTET_STREAM => Ok(sniffed.unwrap_or(by_name)),
        _ => Ok(by_name),
    }
}

/// Width and height from the image header (PNG, GIF, JPEG); 0 when unknown.
fn dimensions(bytes: &[u8]) -> (i64, i64) {
    let be16 = |b: &[u8]| i64::from(u16::from_be_bytes([b[0], b[1]]));
    let le16 = |b: &[u8]| i64::from(u16::from_le_bytes([b[0], b[1]]));
    if bytes.len() >= 24 && bytes.starts_with(b"\x89PNG") {
        let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        return (i64::from(w), i64::from(h));
    }
    if bytes.len() >= 10 && bytes.starts_with(b"GIF") {
        return (le16(&bytes[6..8]), le16(&bytes[8..10]));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        // Walk the JPEG segments to the first start-of-frame.
        let mut at = 2;
        while at + 9 < bytes.len() {
            if bytes[at] != 0xFF {
                break;
            }
            let marker = bytes[at + 1];
            let len = be16(&bytes[at + 2..at + 4]) as usize;
            if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
                return (be16(&bytes[at + 7..at + 9]), be16(&bytes[at + 5..at + 7]));
            }
            at += 2 + len;
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("group:g1").unwrap();
        assert_eq!((t.kind, t.id.as_str()), (ChatKind::Group, "g1"));
        let t = parse_target("multi-openim:user:Alice").unwrap();
        assert_eq!((t.kind, t.id.as_str()), (ChatKind::Direct, "Alice"));
        let t = parse_target(" bob ").unwrap();
        assert_eq!((t.kind, t.id.as_str()), (ChatKind::Direct, "bob"));
        assert!(parse_target("group:").is_err());
    }

    #[test]
    fn group_peers_carry_the_account_and_lose_it_on_the_wire() {
        assert_eq!(group_peer("primary", "g1"), "g1@primary");
        assert_eq!(wire_group_id("primary", "g1@primary"), "g1");
        assert_eq!(wire_group_id("primary", "g1"), "g1");
        assert_eq!(wire_group_id("team-b", "g1@primary"), "g1@primary");
        assert_eq!(wire_group_id("primary", "@primary"), "@primary");
    }

    #[test]
    fn a_requested_kind_is_checked_against_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0";
        assert_eq!(
            mime_for("shot", png, Some(Attach::Image)).unwrap(),
            "image/png"
        );
        assert_eq!(
            mime_for("clip.bin", mp4, Some(Attach::Video)).unwrap(),
            "video/mp4"
        );
        assert_eq!(
            mime_for("a.pdf", b"%PDF-1.7", None).unwrap(),
            "application/pdf"
        );
        assert_eq!(mime_for("noext", png, None).unwrap(), "image/png");
        assert_eq!(
            mime_for("a.png", png, Some(Attach::File)).unwrap(),
            "image/png"
        );
        let err = mime_for("notes.txt", b"hello", Some(Attach::Image)).unwrap_err();
        assert!(err.message.contains("notes.txt: not an image"), "{err}");
        assert!(mime_for("notes.txt", b"hello", Some(Attach::Video)).is_err());
    }

    #[test]
    fn image_sizes_are_read_from_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(dimensions(&png), (640, 480));
        assert_eq!(dimensions(b"GIF89a\x10\x00\x20\x00"), (16, 32));
        assert_eq!(dimensions(b"not an image"), (0, 0));
    }
}
