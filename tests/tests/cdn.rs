//! getuploadurl and the CDN over real loopback HTTP, with real AES-128-ECB on the client side.

mod common;

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyInit as _};
use imsim::ilink::{Bot, CdnFault, IlinkOptions, IlinkSim, KeyEncoding, MediaSpec};
use md5::{Digest as _, Md5};
use reqwest::StatusCode;
use serde_json::{Value, json};

const KEY: [u8; 16] = *b"0123456789abcdef";
const FILEKEY: &str = "00112233445566778899aabbccddeeff";

fn encrypt(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    ecb::Encryptor::<Aes128>::new(key.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

fn decrypt(key: &[u8; 16], cipher: &[u8]) -> Option<Vec<u8>> {
    ecb::Decryptor::<Aes128>::new(key.into())
        .decrypt_padded_vec_mut::<Pkcs7>(cipher)
        .ok()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A getuploadurl body as the official client sends it (§3.5).
fn upload_req(to: &str, plain: &[u8], media_type: u8) -> Value {
    json!({
        "filekey": FILEKEY,
        "media_type": media_type,
        "to_user_id": to,
        "rawsize": plain.len(),
        "rawfilemd5": md5_hex(plain),
        "filesize": (plain.len() / 16 + 1) * 16,
        "no_need_thumb": true,
        "aeskey": hex::encode(KEY),
        "base_info": base_info(),
    })
}

async fn cdn_post(url: &str, body: Vec<u8>) -> reqwest::Response {
    http()
        .post(url)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    let resp = http().get(url).send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn getuploadurl_answers_a_full_url_on_the_cdn() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, b"hello", 1),
    )
    .await;
    let param = resp["upload_param"].as_str().unwrap();
    assert!(
        param.contains('+') && param.contains('/') && param.ends_with('='),
        "{param}"
    );
    let full = resp["upload_full_url"].as_str().unwrap();
    let prefix = format!(
        "{}/upload?encrypted_query_param={}&filekey={FILEKEY}&taskid=",
        sim.cdn_base_url(),
        urlenc(param)
    );
    assert!(full.starts_with(&prefix), "{full}");
    assert!(sim.cdn_base_url().starts_with("http://127.0.0.1:"));
    assert!(resp.get("thumb_upload_param").is_none());

    // A thumbnail is asked for only when no_need_thumb is false, and then needs its sizes.
    let mut with_thumb = upload_req(&bot.owner, b"hello", 1);
    with_thumb["no_need_thumb"] = json!(false);
    let (status, text) = call(&sim, &bot.token, "getuploadurl", with_thumb.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("`thumb_rawsize` is required"), "{text}");
    with_thumb["thumb_rawsize"] = json!(3);
    with_thumb["thumb_filesize"] = json!(16);
    with_thumb["thumb_rawfilemd5"] = json!(md5_hex(b"abc"));
    let resp = call_json(&sim, &bot.token, "getuploadurl", with_thumb).await;
    assert!(resp["thumb_upload_param"].is_string());

    // Authenticated like every bot endpoint.
    let expired = call_json(
        &sim,
        "ffffffffffff@im.bot:00",
        "getuploadurl",
        upload_req(&bot.owner, b"x", 1),
    )
    .await;
    assert_eq!(expired["errcode"], -14);
}

#[tokio::test]
async fn getuploadurl_rejects_bad_fields_naming_them() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let valid = upload_req(&bot.owner, b"0123456789abcdef", 3);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("filekey", Value::Null, "`filekey` is required"),
        ("filekey", json!("abc"), "`filekey` must be 32 hex digits"),
        (
            "filekey",
            json!("z".repeat(32)),
            "`filekey` must be 32 hex digits",
        ),
        ("media_type", json!(5), "`media_type` must be 1 (image)"),
        (
            "media_type",
            json!("1"),
            "`media_type` must be a non-negative integer",
        ),
        ("media_type", Value::Null, "`media_type` is required"),
        ("to_user_id", Value::Null, "`to_user_id` is required"),
        ("to_user_id", json!(""), "`to_user_id` is required"),
        (
            "rawsize",
            json!(-1),
            "`rawsize` must be a non-negative integer",
        ),
        ("rawsize", Value::Null, "`rawsize` is required"),
        (
            "rawfilemd5",
            json!("abc"),
            "`rawfilemd5` must be 32 hex digits",
        ),
        (
            "filesize",
            json!(16),
            "`filesize` must be the padded ciphertext size",
        ),
        ("filesize", Value::Null, "`filesize` is required"),
        (
            "aeskey",
            json!(B64.encode(KEY)),
            "`aeskey` must be 32 hex digits",
        ),
        ("no_need_thumb", Value::Null, "`no_need_thumb` is required"),
        (
            "no_need_thumb",
            json!("true"),
            "`no_need_thumb` must be a boolean",
        ),
        ("base_info", json!("x"), "`base_info`"),
    ];
    for (field, value, needle) in cases {
        let mut body = valid.clone();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value.clone();
        }
        let (status, text) = call(&sim, &bot.token, "getuploadurl", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}={value}: {text}");
        assert!(text.contains(needle), "{field}={value}: {text}");
    }
    // 16 plaintext bytes pad to 32: the boundary case clients get wrong.
    let resp = call_json(&sim, &bot.token, "getuploadurl", valid).await;
    assert!(resp["upload_param"].is_string());
}

#[tokio::test]
async fn upload_round_trip_with_real_aes() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let plain: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, &plain, 2),
    )
    .await;
    let url = resp["upload_full_url"].as_str().unwrap();
    let cipher = encrypt(&KEY, &plain);
    assert_eq!(cipher.len(), 1008);

    let up = cdn_post(url, cipher.clone()).await;
    assert_eq!(up.status(), StatusCode::OK);
    let download_param = header(&up, "x-encrypted-param").expect("x-encrypted-param");

    let uploads = sim.uploaded();
    assert_eq!(uploads.len(), 1);
    let u = &uploads[0];
    assert_eq!(u.plaintext, plain);
    assert!(u.md5_ok && u.accepted && u.error.is_none());
    assert_eq!(u.download_param, download_param);
    assert_eq!((u.filekey.as_str(), u.media_type), (FILEKEY, 2));
    assert_eq!(
        (u.to_user_id.as_str(), u.bot_id.as_str()),
        (bot.owner.as_str(), bot.bot_id.as_str())
    );
    assert_eq!(u.ciphertext_len, 1008);
    assert_eq!(u.headers["content-type"], "application/octet-stream");
    assert!(!u.thumb);

    // Downloadable with the (URL-encoded) param, exactly as uploaded.
    let (status, got) = fetch(&format!(
        "{}/download?encrypted_query_param={}",
        sim.cdn_base_url(),
        urlenc(&download_param)
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, cipher);
    assert_eq!(decrypt(&KEY, &got).unwrap(), plain);

    // A retry of the same URL (what clients do after a 5xx) is accepted again.
    let again = cdn_post(url, cipher).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(sim.uploaded().len(), 2);
    let cdn = sim.cdn_base_url();
    let cdn_host = cdn.trim_start_matches("http://").trim_end_matches("/c2c");
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/c2c/upload" && r.host == cdn_host && r.body.is_none())
    );
}

#[tokio::test]
async fn without_full_url_the_client_builds_the_upload_url() {
    let (sim, bot) = sim_with_bot(IlinkOptions {
        upload_full_url: false,
        ..fast()
    })
    .await;
    let plain = b"client-built url".to_vec();
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, &plain, 3),
    )
    .await;
    assert!(resp.get("upload_full_url").is_none(), "{resp}");
    let param = resp["upload_param"].as_str().unwrap();

    // Forgetting to URL-encode the param (its `+` turns into a space) is a 4xx.
    let raw = format!(
        "{}/upload?encrypted_query_param={param}&filekey={FILEKEY}",
        sim.cdn_base_url()
    );
    let bad = cdn_post(&raw, encrypt(&KEY, &plain)).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        header(&bad, "x-error-message")
            .unwrap()
            .contains("unknown encrypted_query_param")
    );
    assert!(sim.uploaded().is_empty());

    let url = format!(
        "{}/upload?encrypted_query_param={}&filekey={}",
        sim.cdn_base_url(),
        urlenc(param),
        urlenc(FILEKEY)
    );
    let ok = cdn_post(&url, encrypt(&KEY, &plain)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(header(&ok, "x-encrypted-param").is_some());
    assert_eq!(sim.uploaded()[0].plaintext, plain);

    sim.set_upload_full_url(true);
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, &plain, 3),
    )
    .await;
    assert!(resp["upload_full_url"].is_string());
}

#[tokio::test]
async fn uploads_that_break_the_announcement_are_rejected() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let plain = b"the real file content".to_vec();
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, &plain, 3),
    )
    .await;
    let param = urlenc(resp["upload_param"].as_str().unwrap());
    let base = sim.cdn_base_url();
    let url = format!("{base}/upload?encrypted_query_param={param}&filekey={FILEKEY}");

    let other_key = *b"fedcba9876543210";
    let mut same_len = plain.clone();
    same_len[0] ^= 1;
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (url.clone(), encrypt(&other_key, &plain), "does not decrypt"),
        (url.clone(), plain.clone(), "announced filesize 32"),
        (
            url.clone(),
            encrypt(&KEY, &same_len),
            "md5 of the decrypted body",
        ),
        (url.clone(), encrypt(&KEY, b"short"), "announced filesize"),
        (
            format!(
                "{base}/upload?encrypted_query_param={param}&filekey={}",
                "f".repeat(32)
            ),
            encrypt(&KEY, &plain),
            "does not match the filekey",
        ),
        (
            format!("{base}/upload?encrypted_query_param={param}"),
            encrypt(&KEY, &plain),
            "`filekey` is required",
        ),
        (
            format!("{base}/upload?filekey={FILEKEY}"),
            encrypt(&KEY, &plain),
            "`encrypted_query_param` is required",
        ),
    ];
    for (url, body, needle) in &cases {
        let resp = cdn_post(url, body.clone()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{needle}");
        assert!(header(&resp, "x-encrypted-param").is_none());
        let message = header(&resp, "x-error-message").unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let uploads = sim.uploaded();
    assert_eq!(
        uploads.len(),
        cases.len() - 1,
        "all but the one without a param"
    );
    assert!(
        uploads
            .iter()
            .all(|u| !u.accepted && !u.md5_ok && u.download_param.is_empty())
    );
    assert_eq!(
        uploads[2].plaintext, same_len,
        "decrypted, so tests can see what went wrong"
    );
    assert!(uploads[0].plaintext.is_empty());
}

#[tokio::test]
async fn cdn_faults_are_one_shot_and_in_order() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let plain = b"faulty".to_vec();
    sim.cdn_fault(CdnFault::UploadUrlRefused);
    let refused = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, &plain, 1),
    )
    .await;
    assert_eq!(refused, json!({ "ret": -1, "errmsg": "" }));
    let resp = call_json(
        &sim,
        &bot.token,
        "getuploadurl",
        upload_req(&bot.owner, &plain, 1),
    )
    .await;
    let url = resp["upload_full_url"].as_str().unwrap().to_owned();
    let cipher = encrypt(&KEY, &plain);

    sim.cdn_fault(CdnFault::UploadRejected {
        status: 413,
        message: "file too large".into(),
    });
    sim.cdn_fault(CdnFault::DownloadError(500));
    sim.cdn_fault(CdnFault::UploadServerError(502));
    sim.cdn_fault(CdnFault::UploadWithoutParam);

    let r = cdn_post(&url, cipher.clone()).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        header(&r, "x-error-message").as_deref(),
        Some("file too large")
    );
    let r = cdn_post(&url, cipher.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = cdn_post(&url, cipher.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "x-encrypted-param").is_none());
    assert!(sim.uploaded().is_empty(), "faulted uploads store nothing");

    let r = cdn_post(&url, cipher.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let param = header(&r, "x-encrypted-param").unwrap();
    let download = format!(
        "{}/download?encrypted_query_param={}",
        sim.cdn_base_url(),
        urlenc(&param)
    );
    let (status, body) = fetch(&download).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.is_empty());
    assert_eq!(fetch(&download).await, (StatusCode::OK, cipher));

    // Unknown and missing params.
    let unknown = format!("{}/download?encrypted_query_param=nope", sim.cdn_base_url());
    assert_eq!(fetch(&unknown).await.0, StatusCode::NOT_FOUND);
    let missing = format!("{}/download", sim.cdn_base_url());
    assert_eq!(fetch(&missing).await.0, StatusCode::BAD_REQUEST);
}

/// The payload object of a media item (`image_item`, `file_item`, …).
fn payload(item: &Value) -> &Value {
    ["image_item", "voice_item", "file_item", "video_item"]
        .iter()
        .find_map(|k| item.get(*k))
        .unwrap_or_else(|| panic!("no media payload in {item}"))
}

/// Spec §10.2: which key the client must use, `None` for a plaintext image.
fn resolve_key(item: &Value) -> Option<[u8; 16]> {
    if let Some(hex_key) = item["image_item"]["aeskey"].as_str() {
        return Some(hex::decode(hex_key).unwrap().try_into().unwrap());
    }
    let encoded = payload(item)["media"]["aes_key"].as_str()?;
    let raw = B64.decode(encoded).unwrap();
    match raw.len() {
        16 => Some(raw.try_into().unwrap()),
        32 if raw.iter().all(u8::is_ascii_hexdigit) => {
            Some(hex::decode(raw).unwrap().try_into().unwrap())
        }
        n => panic!("aes_key decodes to {n} bytes"),
    }
}

/// Spec §10.3: download the item's file and decrypt it as a client would.
async fn download_item(sim: &IlinkSim, item: &Value) -> Option<Vec<u8>> {
    let media = &payload(item)["media"];
    assert_eq!(media["encrypt_type"], 1);
    let url = match media["full_url"].as_str() {
        Some(url) => url.to_owned(),
        None => format!(
            "{}/download?encrypted_query_param={}",
            sim.cdn_base_url(),
            urlenc(media["encrypt_query_param"].as_str().unwrap())
        ),
    };
    let (status, body) = fetch(&url).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    match resolve_key(item) {
        Some(key) => decrypt(&key, &body),
        None => Some(body),
    }
}

/// Injects `spec` and returns the media item as delivered by getupdates.
async fn deliver(sim: &IlinkSim, bot: &Bot, spec: MediaSpec) -> (Value, imsim::ilink::Injected) {
    let injected = sim.inject_media(&bot.bot_id, &bot.owner, spec);
    let resp = getupdates(sim, &bot.token, "").await;
    let msg = resp["msgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"].as_u64() == Some(injected.message_id))
        .expect("delivered")
        .clone();
    assert_eq!(msg["context_token"], injected.context_token.as_str());
    let item = msg["item_list"].as_array().unwrap().last().unwrap().clone();
    (item, injected)
}

#[tokio::test]
async fn inbound_media_decrypts_with_the_key_the_message_carries() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let png = b"\x89PNG\r\n\x1a\n fake image".to_vec();

    let (item, injected) = deliver(&sim, &bot, MediaSpec::image(png.clone())).await;
    assert_eq!(item["type"], 2);
    let image = &item["image_item"];
    assert_eq!(image["aeskey"].as_str().unwrap().len(), 32);
    assert!(
        image["media"].get("aes_key").is_none(),
        "only image_item.aeskey carries the key"
    );
    let media_ref = injected.media.as_ref().unwrap();
    assert_eq!(image["mid_size"], media_ref.stored_len);
    assert_eq!(image["media"]["full_url"], media_ref.download_url.as_str());
    assert!(media_ref.download_url.starts_with(&sim.cdn_base_url()));
    assert_eq!(download_item(&sim, &item).await.unwrap(), png);

    let doc = b"%PDF-1.4 a small document".to_vec();
    let spec = MediaSpec::file("报告 final.pdf", doc.clone()).with_key(KeyEncoding::Base64Raw);
    let (item, _) = deliver(&sim, &bot, spec).await;
    assert_eq!(item["type"], 4);
    let file = &item["file_item"];
    assert_eq!(
        B64.decode(file["media"]["aes_key"].as_str().unwrap())
            .unwrap()
            .len(),
        16
    );
    assert_eq!(file["file_name"], "报告 final.pdf");
    assert_eq!(file["len"], doc.len().to_string());
    assert_eq!(file["md5"], md5_hex(&doc));
    assert_eq!(download_item(&sim, &item).await.unwrap(), doc);

    let mp4 = vec![0u8; 4096];
    let (item, injected) = deliver(&sim, &bot, MediaSpec::video(mp4.clone())).await;
    assert_eq!(item["type"], 5);
    let video = &item["video_item"];
    let key = B64
        .decode(video["media"]["aes_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(key.len(), 32, "base64 of the hex string");
    assert_eq!(video["video_size"], 4112);
    assert_eq!(
        injected.media.unwrap().aes_key_hex.unwrap().as_bytes(),
        &key[..]
    );
    assert_eq!(download_item(&sim, &item).await.unwrap(), mp4);

    let silk = b"#!SILK_V3 voice".to_vec();
    let spec = MediaSpec::voice(silk.clone()).with_transcript("你好");
    let (item, _) = deliver(&sim, &bot, spec).await;
    assert_eq!(item["type"], 3);
    let voice = &item["voice_item"];
    assert_eq!(
        (voice["encode_type"].as_u64(), voice["playtime"].as_u64()),
        (Some(6), Some(1000))
    );
    assert_eq!(voice["text"], "你好");
    assert_eq!(download_item(&sim, &item).await.unwrap(), silk);

    // No key at all: the CDN holds the plain image.
    let spec = MediaSpec::image(png.clone()).with_key(KeyEncoding::None);
    let (item, injected) = deliver(&sim, &bot, spec).await;
    assert!(item["image_item"].get("aeskey").is_none());
    assert!(item["image_item"]["media"].get("aes_key").is_none());
    assert_eq!(injected.media.unwrap().aes_key_hex, None);
    assert_eq!(download_item(&sim, &item).await.unwrap(), png);
}

#[tokio::test]
async fn wrong_key_does_not_decrypt() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let doc = b"re-sent file, deduplicated by the CDN".to_vec();
    let spec = MediaSpec::file("a.txt", doc.clone()).with_key(KeyEncoding::Wrong);
    let (item, injected) = deliver(&sim, &bot, spec).await;
    assert_eq!(download_item(&sim, &item).await, None, "bad decrypt");
    // The real key (for the test's eyes only) does decrypt the stored file.
    let media = injected.media.unwrap();
    let real: [u8; 16] = hex::decode(media.aes_key_hex.unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let (_, stored) = fetch(&media.download_url).await;
    assert_eq!(decrypt(&real, &stored).unwrap(), doc);
}

#[tokio::test]
async fn without_full_url_clients_use_their_cdn_base() {
    let (sim, bot) = sim_with_bot(fast()).await;
    let spec = MediaSpec::image(b"img".to_vec())
        .without_full_url()
        .with_caption("看看这张图");
    let injected = sim.inject_media(&bot.bot_id, &bot.owner, spec);
    let resp = getupdates(&sim, &bot.token, "").await;
    let items = resp["msgs"][0]["item_list"].as_array().unwrap();
    assert_eq!(items[0]["text_item"]["text"], "看看这张图");
    assert!(items[0]["msg_id"].as_u64().unwrap() > 1 << 53);
    let media = &items[1]["image_item"]["media"];
    assert!(media.get("full_url").is_none());
    assert_eq!(
        media["encrypt_query_param"],
        injected.media.unwrap().encrypt_query_param.as_str()
    );
    assert_eq!(download_item(&sim, &items[1]).await.unwrap(), b"img");
    // The media message opened a fresh send window like any user message.
    let sent = send_text(
        &sim,
        &bot,
        &bot.owner,
        Some(&injected.context_token),
        "nice",
    )
    .await;
    assert_eq!(sent["ret"], 0);
}
