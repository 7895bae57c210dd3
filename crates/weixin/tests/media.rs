//! WeChat media both ways against the simulator's CDN: inbound attachments in every key encoding
//! land in the host's media store byte-exact; outbound files are read from allowed roots or
//! fetched (SSRF-guarded), encrypted, uploaded and sent as image, video and file items. Voice
//! notes arrive as WAV; audio replies leave as voice notes.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use channel_core::conformance::Running;
use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, DmPolicy, ErrorKind, Outbound, Receipt, Turn};
use common::{Wx, fast_options};
use imsim::ilink::{CdnFault, KeyEncoding, MediaSpec, RequestRecord, Sent, Upload};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const WAIT: Duration = Duration::from_secs(15);

/// Bytes that sniff as a PNG, with enough noise to span many AES blocks.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len).map(|i| (i * 7 + i / 251) as u8));
    bytes
}

fn noise(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The account's section: owner allowed, CDN base pointing at the simulator, plus `extra`.
fn section(wx: &Wx, extra: Value) -> Value {
    let mut section = wx.section_with(DmPolicy::Pairing, &[]);
    section["cdnBaseUrl"] = wx.sim.cdn_base_url().into();
    if let (Some(into), Value::Object(extra)) = (section.as_object_mut(), extra) {
        into.extend(extra);
    }
    section
}

async fn start(wx: &Wx, section: Value) -> Running {
    Running::start(wx, Arc::new(StandaloneHost::default()), section).await
}

/// The turn of the message with this server id, once it happened.
async fn turn_for(running: &Running, message_id: u64) -> Turn {
    let id = message_id.to_string();
    assert!(
        running
            .host
            .wait_for(WAIT, |h| h
                .turns()
                .iter()
                .any(|t| t.inbound.server_id == id))
            .await,
        "no turn for message {id}"
    );
    running
        .host
        .turns()
        .into_iter()
        .find(|t| t.inbound.server_id == id)
        .expect("turn")
}

fn stored_bytes(turn: &Turn) -> Vec<u8> {
    let media = &turn.inbound.media[0];
    assert_eq!(media.error, None, "{media:?}");
    let path = media.path.as_deref().expect("the attachment was stored");
    std::fs::read(path).expect("stored file")
}

/// Lets the owner write once, so the bot has a context token, and waits for the echo.
async fn open_conversation(wx: &Wx) {
    let before = wx.sim.sent(&wx.bot.bot_id).len();
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "hello");
    let sent = wx.sim.wait_sent(&wx.bot.bot_id, before + 1, WAIT).await;
    assert!(sent.len() > before, "no echo");
}

async fn send(
    wx: &Wx,
    section: &Value,
    message: Outbound,
) -> Result<Receipt, channel_core::ChannelError> {
    wx.channel
        .send(section, &wx.account(), &wx.bot.owner, &message)
        .await
}

fn media_message(text: &str, media: &[&str]) -> Outbound {
    Outbound {
        text: text.into(),
        media: media.iter().map(|m| (*m).to_owned()).collect(),
        ..Outbound::default()
    }
}

/// A file under `<state>/media`, a default allowed root.
fn media_file(state: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = state.join("media");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn cdn_uploads(wx: &Wx) -> Vec<RequestRecord> {
    wx.sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/c2c/upload")
        .collect()
}

/// The media payload of a sent message (`image_item`, `video_item` or `file_item`).
fn payload<'a>(sent: &'a Sent, key: &str) -> &'a Value {
    assert_eq!(
        sent.items.as_array().map(Vec::len),
        Some(1),
        "{}",
        sent.items
    );
    &sent.items[0][key]
}

/// The sent item points at the upload, with the key in the official encoding.
fn assert_points_at(media: &Value, upload: &Upload) {
    assert_eq!(media["encrypt_query_param"], upload.download_param.as_str());
    assert_eq!(media["encrypt_type"], 1);
    let key = B64
        .decode(media["aes_key"].as_str().expect("aes_key"))
        .expect("base64");
    assert_eq!(key, upload.aeskey.as_bytes(), "aes_key = base64(hex key)");
}

#[tokio::test]
async fn inbound_media_arrive_byte_exact_in_every_key_encoding() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = start(&wx, section(&wx, json!({}))).await;
    let (bot, owner) = (wx.bot.bot_id.clone(), wx.bot.owner.clone());

    let images = [
        (KeyEncoding::ImageAeskeyHex, true),
        (KeyEncoding::Base64Raw, true),
        (KeyEncoding::Base64Hex, false),
        (KeyEncoding::None, false),
    ];
    for (n, (key, full_url)) in images.into_iter().enumerate() {
        let plain = png(40_000 + n * 17);
        let mut spec = MediaSpec::image(plain.clone()).with_key(key);
        if !full_url {
            // Built from cdnBaseUrl: `<cdn>/download?encrypted_query_param=<urlencoded>`.
            spec = spec.without_full_url();
        }
        let injected = wx.sim.inject_media(&bot, &owner, spec);
        let turn = turn_for(&running, injected.message_id).await;
        assert_eq!(stored_bytes(&turn), plain, "{key:?}");
        let media = &turn.inbound.media[0];
        assert_eq!(media.kind, "image");
        assert_eq!(media.mime.as_deref(), Some("image/png"), "{key:?}");
        assert_eq!(turn.inbound.text, "[图片]");
        // The host's ordered media facts: one, an image with its stored path.
        let fact = &turn.context["media"][0];
        assert_eq!(
            (fact["kind"].as_str(), fact["contentType"].as_str()),
            (Some("image"), Some("image/png"))
        );
        assert_eq!(fact["path"].as_str(), media.path.as_deref());
        if let Some(hex) = injected
            .media
            .as_ref()
            .and_then(|m| m.aes_key_hex.as_deref())
        {
            let raw = turn.inbound.raw.to_string();
            assert!(
                !raw.contains(hex),
                "the key stays out of the raw frame: {raw}"
            );
        }
    }

    let report = noise(100_003, 1);
    let injected = wx.sim.inject_media(
        &bot,
        &owner,
        MediaSpec::file("Quarterly Report.pdf", report.clone()).with_caption("see attached"),
    );
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(stored_bytes(&turn), report);
    let media = &turn.inbound.media[0];
    assert_eq!(media.kind, "file");
    assert_eq!(media.file_name.as_deref(), Some("Quarterly Report.pdf"));
    assert_eq!(media.mime.as_deref(), Some("application/pdf"));
    assert_eq!(turn.inbound.text, "see attached");

    let clip = noise(70_001, 2);
    let injected = wx.sim.inject_media(
        &bot,
        &owner,
        MediaSpec::video(clip.clone())
            .with_key(KeyEncoding::Base64Raw)
            .without_full_url(),
    );
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(stored_bytes(&turn), clip);
    assert_eq!(turn.inbound.media[0].mime.as_deref(), Some("video/mp4"));
    assert_eq!(turn.inbound.text, "[视频]");

    let silk = [b"\x02#!SILK_V3".as_slice(), &noise(5_000, 3)].concat();
    let injected = wx.sim.inject_media(
        &bot,
        &owner,
        MediaSpec::voice(silk.clone()).with_transcript("明天下午三点开会"),
    );
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(
        turn.inbound.text, "明天下午三点开会",
        "the transcript is the body"
    );
    assert_eq!(stored_bytes(&turn), silk, "the raw audio is still attached");
    assert_eq!(turn.inbound.media[0].kind, "voice");
    assert_eq!(turn.inbound.media[0].mime.as_deref(), Some("audio/silk"));

    let injected = wx
        .sim
        .inject_media(&bot, &owner, MediaSpec::voice(silk.clone()));
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(turn.inbound.text, "[语音]");
    assert_eq!(stored_bytes(&turn), silk);

    // Nothing is left in the channel's temporary directory.
    let tmp = state.path().join("openclaw-weixin/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    running.stop().await;
}

#[tokio::test]
async fn undecryptable_or_unavailable_media_still_make_a_turn() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = start(&wx, section(&wx, json!({}))).await;
    let (bot, owner) = (wx.bot.bot_id.clone(), wx.bot.owner.clone());

    // The CDN-dedupe "bad decrypt" of #193.
    let injected = wx.sim.inject_media(
        &bot,
        &owner,
        MediaSpec::file("a.txt", noise(3_000, 4)).with_key(KeyEncoding::Wrong),
    );
    let turn = turn_for(&running, injected.message_id).await;
    let media = &turn.inbound.media[0];
    assert_eq!(media.path, None);
    let error = media.error.as_deref().expect("an error");
    assert!(
        error.contains("file: the aes_key does not decrypt the CDN file (bad padding)"),
        "{error}"
    );
    assert!(
        turn.inbound.text.contains("[file could not be downloaded:"),
        "{}",
        turn.inbound.text
    );

    // A CDN failure is named as such.
    wx.sim.cdn_fault(CdnFault::DownloadError(500));
    let injected = wx
        .sim
        .inject_media(&bot, &owner, MediaSpec::image(png(100)));
    let turn = turn_for(&running, injected.message_id).await;
    let error = turn.inbound.media[0].error.clone().expect("an error");
    assert!(
        error.starts_with("image: CDN download: downloading http://"),
        "{error}"
    );
    assert!(error.ends_with(": HTTP 500"), "{error}");

    // The account carries on.
    let injected = wx.sim.inject_text(&bot, &owner, "still here");
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(turn.inbound.text, "still here");
    running.stop().await;
}

#[tokio::test]
async fn downloads_stop_at_the_size_cap() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = start(&wx, section(&wx, json!({"mediaMaxMb": 1}))).await;
    let big = noise(1024 * 1024 + 100, 5);
    let injected = wx.sim.inject_media(
        &wx.bot.bot_id,
        &wx.bot.owner,
        MediaSpec::file("big.bin", big),
    );
    let turn = turn_for(&running, injected.message_id).await;
    let error = turn.inbound.media[0].error.clone().expect("an error");
    assert!(error.contains("mediaMaxMb = 1 (1048576 bytes)"), "{error}");
    // Just under the cap is fine.
    let fits = noise(1024 * 1024 - 1, 6);
    let injected = wx.sim.inject_media(
        &wx.bot.bot_id,
        &wx.bot.owner,
        MediaSpec::file("fits.bin", fits.clone()),
    );
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(stored_bytes(&turn), fits);
    running.stop().await;
}

#[tokio::test]
async fn images_videos_and_files_are_uploaded_and_sent() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = section(&wx, json!({}));
    let running = start(&wx, section.clone()).await;
    open_conversation(&wx).await;
    let bot = wx.bot.bot_id.clone();

    let picture = png(33_333);
    let path = media_file(state.path(), "chart.png", &picture);
    let receipt = send(
        &wx,
        &section,
        media_message("here is the chart", &[path.to_str().expect("utf-8")]),
    )
    .await
    .expect("send image");
    assert!(
        matches!(receipt, Receipt::Sent { parts: 2, .. }),
        "{receipt:?}"
    );
    let sent = wx.sim.wait_sent(&bot, 3, WAIT).await;
    assert_eq!(
        sent[1].text.as_deref(),
        Some("here is the chart"),
        "caption first"
    );
    let uploads = wx.sim.uploaded();
    let upload = uploads.last().expect("an upload");
    assert_eq!(upload.plaintext, picture, "byte-exact");
    assert!(upload.md5_ok && upload.accepted, "{upload:?}");
    assert_eq!(upload.media_type, 1);
    assert_eq!(upload.to_user_id, wx.bot.owner);
    assert!(!upload.thumb);
    assert_eq!(upload.headers["content-type"], "application/octet-stream");
    assert!(
        !upload.headers.contains_key("authorization"),
        "no iLink credentials on the CDN"
    );
    assert_eq!(sent[2].items[0]["type"], 2);
    let image = payload(&sent[2], "image_item");
    assert_points_at(&image["media"], upload);
    assert_eq!(image["mid_size"], upload.ciphertext_len);
    assert_eq!(upload.ciphertext_len, (picture.len() / 16 + 1) * 16);
    assert_eq!(sent[2].context_token, sent[1].context_token);

    // A video from a file:// URL, without caption.
    let clip = noise(50_000, 7);
    let path = media_file(state.path(), "clip.mp4", &clip);
    let url = url::Url::from_file_path(&path).expect("file url");
    send(&wx, &section, media_message("", &[url.as_str()]))
        .await
        .expect("send video");
    let sent = wx.sim.wait_sent(&bot, 4, WAIT).await;
    let upload = wx.sim.uploaded().pop().expect("upload");
    assert_eq!(
        (upload.media_type, upload.plaintext == clip, upload.md5_ok),
        (2, true, true)
    );
    assert_eq!(sent[3].items[0]["type"], 5);
    let video = payload(&sent[3], "video_item");
    assert_points_at(&video["media"], &upload);
    assert_eq!(video["video_size"], upload.ciphertext_len);

    // Anything else goes as a file, and so does audio that does not decode (see the voice test).
    let notes = b"minutes of the meeting\n".repeat(100);
    let song = noise(20_000, 8);
    let receipt = send(
        &wx,
        &section,
        media_message(
            "",
            &[
                media_file(state.path(), "notes.txt", &notes)
                    .to_str()
                    .expect("utf-8"),
                media_file(state.path(), "song.mp3", &song)
                    .to_str()
                    .expect("utf-8"),
            ],
        ),
    )
    .await
    .expect("send files");
    assert!(
        matches!(receipt, Receipt::Sent { parts: 2, .. }),
        "{receipt:?}"
    );
    let sent = wx.sim.wait_sent(&bot, 6, WAIT).await;
    let uploads = wx.sim.uploaded();
    for (n, (name, bytes)) in [("notes.txt", &notes), ("song.mp3", &song)]
        .into_iter()
        .enumerate()
    {
        let upload = &uploads[uploads.len() - 2 + n];
        assert_eq!((upload.media_type, upload.md5_ok), (3, true), "{name}");
        assert_eq!(&upload.plaintext, bytes, "{name}");
        let message = &sent[4 + n];
        assert_eq!(message.items[0]["type"], 4);
        let file = payload(message, "file_item");
        assert_points_at(&file["media"], upload);
        assert_eq!(file["file_name"], name);
        assert_eq!(file["len"], bytes.len().to_string());
    }
    let ids: Vec<&str> = sent[4..6].iter().map(|s| s.client_id.as_str()).collect();
    assert_ne!(ids[0], ids[1], "each part has its own wire id");

    // The simulator can serve what we uploaded: the reference in the message is real.
    let upload = wx.sim.uploaded().pop().expect("upload");
    assert_eq!(upload.plaintext, song);
    running.stop().await;
}

/// A voice note from an independent encoder (npm's silk-wasm), 1.5 s.
const VOICE_NOTE: &[u8] = include_bytes!("../../silk/tests/fixtures/voice-1500ms.silk");
/// 2.0 s of a voiced tone, mp3, 44.1 kHz stereo (lamejs).
const MP3: &[u8] = include_bytes!("../../channel-core/src/media/fixtures/reply-2000ms.mp3");

/// The samples of a 16-bit mono WAV, and its rate.
fn wav_samples(wav: &[u8]) -> (Vec<i16>, u32) {
    assert_eq!(&wav[..4], b"RIFF");
    let rate = u32::from_le_bytes(wav[24..28].try_into().expect("rate"));
    let samples = wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (samples, rate)
}

#[tokio::test]
async fn a_voice_note_arrives_as_wav_and_an_audio_reply_leaves_as_a_voice_note() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = section(&wx, json!({}));
    let running = start(&wx, section.clone()).await;
    open_conversation(&wx).await;
    let (bot, owner) = (wx.bot.bot_id.clone(), wx.bot.owner.clone());

    // In: SILK becomes WAV at 24 kHz, with the note's length.
    let injected = wx.sim.inject_media(
        &bot,
        &owner,
        MediaSpec::voice(VOICE_NOTE.to_vec()).with_playtime(1_500),
    );
    let turn = turn_for(&running, injected.message_id).await;
    assert_eq!(turn.inbound.text, "[语音]");
    assert_eq!(turn.inbound.media[0].mime.as_deref(), Some("audio/wav"));
    let (samples, rate) = wav_samples(&stored_bytes(&turn));
    assert_eq!((samples.len(), rate), (36_000, 24_000));

    // Out: an mp3 becomes a SILK voice item with its playtime; the upload is a voice upload.
    let reply = media_file(state.path(), "answer.mp3", MP3);
    let receipt = send(
        &wx,
        &section,
        media_message("", &[reply.to_str().expect("utf-8")]),
    )
    .await
    .expect("send the voice reply");
    assert!(
        matches!(receipt, Receipt::Sent { parts: 1, .. }),
        "{receipt:?}"
    );
    let sent = wx.sim.wait_sent(&bot, 2, WAIT).await;
    let upload = wx.sim.uploaded().pop().expect("upload");
    assert_eq!((upload.media_type, upload.md5_ok), (4, true));
    assert!(upload.plaintext.starts_with(b"\x02#!SILK_V3"));
    let message = sent.last().expect("sent");
    assert_eq!(message.items[0]["type"], 3);
    let voice = payload(message, "voice_item");
    assert_points_at(&voice["media"], &upload);
    assert_eq!(voice["encode_type"], 6);
    assert_eq!(voice["sample_rate"], 24_000);
    let playtime = voice["playtime"].as_u64().expect("playtime");
    assert!((1_900..=2_100).contains(&playtime), "playtime {playtime}");
    let decoded = silk::decode(&upload.plaintext, 24_000, 60_000).expect("our SILK decodes");
    // The last 20 ms frame is padded with silence.
    let played = silk::duration_ms(decoded.len(), 24_000);
    assert!(
        played >= playtime && played < playtime + 20,
        "{played} ms for playtime {playtime}"
    );
    running.stop().await;
}

#[tokio::test]
async fn the_upload_url_is_built_from_the_cdn_base_when_only_a_param_comes_back() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = section(&wx, json!({}));
    let running = start(&wx, section.clone()).await;
    open_conversation(&wx).await;
    wx.sim.set_upload_full_url(false);
    let picture = png(1_000);
    let path = media_file(state.path(), "a.png", &picture);
    send(
        &wx,
        &section,
        media_message("", &[path.to_str().expect("utf-8")]),
    )
    .await
    .expect("send");
    let upload = wx.sim.uploaded().pop().expect("upload");
    assert!(upload.accepted && upload.md5_ok);
    assert_eq!(upload.plaintext, picture);
    let request = cdn_uploads(&wx).pop().expect("an upload request");
    let query = request.query.expect("query");
    assert!(query.starts_with("encrypted_query_param="), "{query}");
    assert!(
        query.contains(&format!("&filekey={}", upload.filekey)),
        "{query}"
    );
    assert!(!query.contains("taskid"), "built by the client: {query}");
    running.stop().await;
}

#[tokio::test]
async fn cdn_failures_are_retried_or_reported_as_the_spec_says() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = section(&wx, json!({}));
    let running = start(&wx, section.clone()).await;
    open_conversation(&wx).await;
    let bot = wx.bot.bot_id.clone();
    let picture = png(2_000);
    let path = media_file(state.path(), "p.png", &picture);
    let message = media_message("caption", &[path.to_str().expect("utf-8")]);
    let sent_count = || wx.sim.sent(&bot).len();

    // 4xx: no retry, the server's message.
    wx.sim.cdn_fault(CdnFault::UploadRejected {
        status: 400,
        message: "file type not allowed".into(),
    });
    let (before, uploads_before) = (sent_count(), cdn_uploads(&wx).len());
    let err = send(&wx, &section, message.clone()).await.expect_err("4xx");
    assert!(
        err.message
            .contains("CDN upload: HTTP 400: file type not allowed"),
        "{err}"
    );
    assert!(err.message.contains("p.png"), "{err}");
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert_eq!(
        cdn_uploads(&wx).len(),
        uploads_before + 1,
        "a 4xx is not retried"
    );
    assert_eq!(sent_count(), before, "nothing sent, not even the caption");

    // 5xx and a 200 without x-encrypted-param: tried again, then fine.
    for fault in [
        CdnFault::UploadServerError(503),
        CdnFault::UploadWithoutParam,
    ] {
        wx.sim.cdn_fault(fault.clone());
        let uploads_before = cdn_uploads(&wx).len();
        let receipt = send(&wx, &section, message.clone()).await.expect("retried");
        assert!(
            matches!(receipt, Receipt::Sent { parts: 2, .. }),
            "{fault:?}: {receipt:?}"
        );
        assert_eq!(cdn_uploads(&wx).len(), uploads_before + 2, "{fault:?}");
        assert_eq!(wx.sim.uploaded().pop().expect("upload").plaintext, picture);
    }

    // Three failures in a row: given up after three attempts.
    for _ in 0..3 {
        wx.sim.cdn_fault(CdnFault::UploadServerError(502));
    }
    let (before, uploads_before) = (sent_count(), cdn_uploads(&wx).len());
    let err = send(&wx, &section, message.clone()).await.expect_err("5xx");
    assert!(err.message.contains("CDN upload: HTTP 502"), "{err}");
    assert!(err.message.contains("after 3 attempts"), "{err}");
    assert_eq!(err.kind, ErrorKind::Transient);
    assert_eq!(cdn_uploads(&wx).len(), uploads_before + 3);
    assert_eq!(sent_count(), before);

    // getuploadurl without any URL (#213).
    wx.sim.cdn_fault(CdnFault::UploadUrlRefused);
    let err = send(&wx, &section, message.clone())
        .await
        .expect_err("refused");
    assert!(
        err.message.contains("getuploadurl returned no upload URL"),
        "{err}"
    );
    assert!(err.message.contains("code -1"), "{err}");
    assert_eq!(sent_count(), before);
    running.stop().await;
}

#[tokio::test]
async fn local_files_outside_the_allowed_roots_are_refused() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = section(&wx, json!({}));
    let running = start(&wx, section.clone()).await;
    open_conversation(&wx).await;
    let elsewhere = state.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let secret = elsewhere.join("secret.png");
    std::fs::write(&secret, png(10)).expect("write");
    media_file(state.path(), "ok.png", &png(10));

    let escape = state.path().join("media/../elsewhere/secret.png");
    for entry in [secret.clone(), escape] {
        let entry = entry.to_str().expect("utf-8").to_owned();
        let err = send(&wx, &section, media_message("", &[&entry]))
            .await
            .expect_err("outside");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(err.message.contains(&entry), "{err}");
        assert!(
            err.message.contains("outside the allowed media roots"),
            "{err}"
        );
    }
    #[cfg(unix)]
    {
        let link = state.path().join("media/link.png");
        std::os::unix::fs::symlink(&secret, &link).expect("symlink");
        let err = send(
            &wx,
            &section,
            media_message("", &[link.to_str().expect("utf-8")]),
        )
        .await
        .expect_err("symlink out of the root");
        assert!(
            err.message.contains("outside the allowed media roots"),
            "{err}"
        );
    }
    for (entry, expected) in [
        ("media/ok.png", "must be absolute"),
        ("ftp://example.com/a.png", "unsupported scheme `ftp`"),
    ] {
        let err = send(&wx, &section, media_message("", &[entry]))
            .await
            .expect_err("refused");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(err.message.contains(expected), "{err}");
    }

    // The host's roots and mediaLocalRoots widen what is allowed.
    let mut with_roots = media_message("", &[secret.to_str().expect("utf-8")]);
    with_roots.media_roots = vec![elsewhere.to_string_lossy().into_owned()];
    send(&wx, &section, with_roots).await.expect("host root");
    let configured = {
        let mut s = section.clone();
        s["mediaLocalRoots"] = json!([elsewhere]);
        s
    };
    send(
        &wx,
        &configured,
        media_message("", &[secret.to_str().expect("utf-8")]),
    )
    .await
    .expect("configured root");
    assert_eq!(wx.sim.uploaded().len(), 2);
    running.stop().await;
}

/// One canned answer: `(path, status, headers, body)`.
type Route = (&'static str, u16, Vec<(&'static str, String)>, Vec<u8>);

/// A one-route-per-path HTTP server on 127.0.0.2: another address of this machine than the
/// simulator's, so not one of the account's own servers.
async fn serve(routes: Vec<Route>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, headers, body) = routes
                    .iter()
                    .find(|(p, ..)| *p == path)
                    .map(|(_, s, h, b)| (*s, h.clone(), b.clone()))
                    .unwrap_or((404, vec![], b"not found".to_vec()));
                // `x-no-length` makes the body run until the connection closes.
                let mut head = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n");
                if !headers.iter().any(|(name, _)| *name == "x-no-length") {
                    head.push_str(&format!("content-length: {}\r\n", body.len()));
                }
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn remote_media_on_private_addresses_need_an_explicit_opt_in() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let guarded = section(&wx, json!({}));
    let running = start(&wx, guarded.clone()).await;
    open_conversation(&wx).await;
    let picture = png(4_321);
    let port = serve(vec![
        (
            "/pic.png",
            200,
            vec![("content-type", "image/png".into())],
            picture.clone(),
        ),
        (
            "/photo",
            200,
            vec![("content-type", "image/png".into())],
            picture.clone(),
        ),
        ("/hop", 302, vec![("location", "/pic.png".into())], vec![]),
        ("/missing.png", 404, vec![], vec![]),
        (
            "/stream.png",
            200,
            vec![("x-no-length", "1".into())],
            picture.clone(),
        ),
    ])
    .await;
    let url = |path: &str| format!("http://127.0.0.2:{port}{path}");

    for entry in [
        url("/pic.png"),
        format!("http://[::ffff:127.0.0.2]:{port}/pic.png"),
    ] {
        let err = send(&wx, &guarded, media_message("", &[&entry]))
            .await
            .expect_err("loopback refused");
        assert_eq!(err.kind, ErrorKind::BadInput);
        assert!(err.message.contains("mediaAllowPrivateNetwork"), "{err}");
        assert!(err.message.contains("non-public address"), "{err}");
    }
    assert!(wx.sim.uploaded().is_empty());

    let open = {
        let mut s = guarded.clone();
        s["mediaAllowPrivateNetwork"] = true.into();
        s
    };
    for path in ["/pic.png", "/photo", "/hop"] {
        send(&wx, &open, media_message("", &[&url(path)]))
            .await
            .expect("allowed");
        let upload = wx.sim.uploaded().pop().expect("upload");
        assert_eq!((upload.media_type, upload.md5_ok), (1, true), "{path}");
        assert_eq!(upload.plaintext, picture, "{path}");
    }
    let err = send(&wx, &open, media_message("", &[&url("/missing.png")]))
        .await
        .expect_err("404");
    assert!(err.message.contains("HTTP 404"), "{err}");

    // The cap applies to downloads too.
    let capped = {
        let mut s = open.clone();
        s["mediaMaxMb"] = json!(0.001);
        s
    };
    let err = send(&wx, &capped, media_message("", &[&url("/pic.png")]))
        .await
        .expect_err("too big");
    assert!(
        err.message.contains("mediaMaxMb = 0.001 (1049 bytes)"),
        "{err}"
    );
    assert!(err.message.contains("4329 bytes announced"), "{err}");
    let err = send(&wx, &capped, media_message("", &[&url("/stream.png")]))
        .await
        .expect_err("too big, unannounced");
    assert!(err.message.contains("mediaMaxMb = 0.001"), "{err}");
    assert!(
        err.message.contains("stopped reading past the cap"),
        "{err}"
    );
    assert_eq!(err.kind, ErrorKind::BadInput);
    // Unannounced but small enough is fine.
    send(&wx, &open, media_message("", &[&url("/stream.png")]))
        .await
        .expect("streamed");
    assert_eq!(wx.sim.uploaded().pop().expect("upload").plaintext, picture);
    running.stop().await;
}

#[tokio::test]
async fn media_beyond_the_window_wait_as_media_and_go_out_when_the_peer_writes() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = section(&wx, json!({"contextTokenMaxSends": 2}));
    let running = start(&wx, section.clone()).await;
    open_conversation(&wx).await;
    let bot = wx.bot.bot_id.clone();
    let picture = png(5_000);
    let path = media_file(state.path(), "later.png", &picture);
    // The echo used one send; the caption takes the second, the image has to wait.
    let receipt = send(
        &wx,
        &section,
        media_message("caption", &[path.to_str().expect("utf-8")]),
    )
    .await
    .expect("queued, not failed");
    let Receipt::Queued { reason, .. } = receipt else {
        panic!("not queued: {receipt:?}")
    };
    assert!(reason.contains("1 of 2 parts sent"), "{reason}");
    let outbox = state.path().join(format!(
        "openclaw-weixin/accounts/{}.outbox.json",
        wx.account()
    ));
    let queued: Value =
        serde_json::from_slice(&std::fs::read(&outbox).expect("outbox")).expect("json");
    assert_eq!(queued[0]["pieces"], json!([]));
    assert_eq!(queued[0]["media"][0]["kind"], "image");
    let upload = wx.sim.uploaded().pop().expect("uploaded before queueing");

    wx.sim.inject_text(&bot, &wx.bot.owner, "back");
    let sent = wx.sim.wait_sent(&bot, 4, WAIT).await;
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(
        sent[2].items[0]["type"], 2,
        "the image goes out first, as an image"
    );
    assert_points_at(&payload(&sent[2], "image_item")["media"], &upload);
    assert_eq!(sent[3].text.as_deref(), Some("echo: back"));
    assert_eq!(wx.sim.uploaded().len(), 1, "not uploaded twice");
    running.stop().await;
}

#[tokio::test]
async fn media_settings_resolve_per_account_and_bad_values_name_the_field() {
    use channel_core::Channel as _;
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let id = wx.account();
    let section = json!({
        "cdnBaseUrl": "http://cdn.example/c2c",
        "mediaMaxMb": 5,
        "mediaLocalRoots": ["/srv/shared"],
        "accounts": { id.clone(): { "mediaMaxMb": 0.5, "mediaAllowPrivateNetwork": true } },
    });
    let account = wx.channel.account(&section, &id).expect("account");
    assert_eq!(
        account.media.policy.max_bytes,
        512 * 1024,
        "the account's cap wins"
    );
    assert!(account.media.policy.allow_private_network);
    assert_eq!(
        account.media.cdn_base_url.as_ref().expect("url").as_str(),
        "http://cdn.example/c2c/"
    );
    let roots: Vec<PathBuf> = ["media", "workspace"]
        .iter()
        .map(|d| state.path().join(d))
        .chain([PathBuf::from("/srv/shared")])
        .collect();
    assert_eq!(account.media.local_roots, roots);
    assert_eq!(
        account.media.policy.tmp_dir,
        state.path().join("openclaw-weixin/tmp")
    );

    let defaults = wx.channel.account(&json!({}), &id).expect("account");
    assert_eq!(defaults.media.policy.max_bytes, 100 * 1024 * 1024);
    assert!(!defaults.media.policy.allow_private_network);
    assert_eq!(
        defaults.media.cdn_base_url.as_ref().expect("url").as_str(),
        "https://novac2c.cdn.weixin.qq.com/c2c/"
    );

    let bad_cap = json!({"accounts": { id.clone(): { "mediaMaxMb": 0 } }});
    let err = wx.channel.account(&bad_cap, &id).expect_err("zero cap");
    assert!(
        err.message.contains(&format!(
            "channels.openclaw-weixin.accounts.{id}.mediaMaxMb"
        )),
        "{err}"
    );
    let err = wx
        .channel
        .account(&json!({"mediaLocalRoots": ["relative/dir"]}), &id)
        .expect_err("relative root");
    assert!(
        err.message
            .contains("channels.openclaw-weixin.mediaLocalRoots"),
        "{err}"
    );
    // A bad CDN URL breaks media only, with the field named when media are used.
    let account = wx
        .channel
        .account(&json!({"cdnBaseUrl": "not a url"}), &id)
        .expect("account still resolves");
    let err = account.media.cdn_base_url.expect_err("bad url");
    assert!(
        err.message.contains("channels.openclaw-weixin.cdnBaseUrl"),
        "{err}"
    );
    assert!(wx.channel.descriptor().capabilities.media);
}
