//! Login, kicks, reconnects and send failures, on the scripted NIM transport.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, ChannelError, ErrorKind, Outbound, StateDir};
use serde_json::json;
use yunxin::YunxinChannel;
use yunxin::nim::{KickReason, NimError};
use yunxin::testing::FakeNim;

struct Rig {
    nim: FakeNim,
    channel: Arc<YunxinChannel>,
    host: Arc<StandaloneHost>,
    _state: tempfile::TempDir,
}

fn rig() -> Rig {
    let nim = FakeNim::new();
    nim.add_account("bot", "good");
    let state = tempfile::tempdir().unwrap();
    Rig {
        channel: Arc::new(YunxinChannel::with_transports(
            &StateDir::new(state.path()),
            Arc::new(nim.clone()),
        )),
        nim,
        host: Arc::new(StandaloneHost::default()),
        _state: state,
    }
}

fn section(token: &str) -> serde_json::Value {
    // The stand-in for NetEase's object store listens on 127.0.0.1, which is listed; any other
    // private address stays refused.
    json!({"appKey": "app", "accountId": "bot", "token": token, "dmPolicy": "open", "allowFrom": ["*"],
        "mediaAllowHosts": ["127.0.0.1"]})
}

impl Rig {
    fn run(
        &self,
        token: &str,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<Result<(), ChannelError>>,
    ) {
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let channel = Arc::clone(&self.channel);
            let host = Arc::clone(&self.host);
            let cancel = cancel.clone();
            let section = section(token);
            async move { channel.run(&section, "default", host, cancel).await }
        });
        (cancel, task)
    }

    async fn connected(&self) -> bool {
        self.host
            .wait_for(Duration::from_secs(10), |h| h.is_connected("default"))
            .await
    }
}

#[tokio::test]
async fn a_bad_token_stops_the_account_after_one_attempt() {
    let rig = rig();
    let (_cancel, task) = rig.run("tok-e3b0c44298");
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NeedsLogin, "{err}");
    assert!(err.message.contains("NIM error 302"), "{err}");
    assert!(
        !err.message.contains("tok-e3b0c44298"),
        "the token stays out: {err}"
    );
    assert_eq!(rig.nim.counts().0, 1, "no retry storm");
    let (_, last) = rig.host.statuses().pop().unwrap();
    assert!(last.last_error.flatten().unwrap().contains("302"));
}

#[tokio::test]
async fn a_kick_is_shown_then_the_account_logs_in_again_and_a_kick_loop_stops_it() {
    let rig = rig();
    let (_cancel, task) = rig.run("good");
    assert!(rig.connected().await);
    rig.nim.kick("bot", KickReason::ClientExclusive);
    assert!(
        rig.host
            .wait_for(Duration::from_secs(5), |h| h.statuses().iter().any(
                |(_, p)| p
                    .last_error
                    .clone()
                    .flatten()
                    .is_some_and(|e| e.contains("kicked offline"))
            ))
            .await
    );
    // Back after the pause that follows a kick.
    assert!(
        rig.host
            .wait_for(Duration::from_secs(15), |_| rig.nim.is_online("bot"))
            .await
    );
    assert_eq!(rig.nim.counts().0, 2);
    drop(task);
}

#[tokio::test(start_paused = true)]
async fn more_than_three_kicks_in_ten_minutes_block_the_account() {
    let rig = rig();
    let (_cancel, task) = rig.run("good");
    for _ in 0..4 {
        while !rig.nim.is_online("bot") {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rig.nim.kick("bot", KickReason::ClientExclusive);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = tokio::time::timeout(Duration::from_secs(120), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Kicked);
    assert!(err.message.contains("kicked 4 times"), "{err}");
}

#[tokio::test]
async fn a_link_blip_is_recovering_then_connected_without_a_new_login() {
    let rig = rig();
    let (cancel, task) = rig.run("good");
    assert!(rig.connected().await);
    rig.nim.blip("bot");
    assert!(
        rig.host
            .wait_for(Duration::from_secs(5), |h| {
                let statuses = h.statuses();
                let recovering = statuses
                    .iter()
                    .position(|(_, p)| p.last_error.clone().flatten().is_some());
                recovering.is_some_and(|at| {
                    statuses[at..]
                        .iter()
                        .any(|(_, p)| p.connected == Some(true))
                })
            })
            .await
    );
    assert_eq!(rig.nim.counts().0, 1);
    cancel.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(rig.nim.counts().1, 1, "logged out on stop");
    assert!(!rig.nim.is_online("bot"));
}

#[tokio::test]
async fn send_failures_surface_with_their_class_and_retries_keep_the_id() {
    let rig = rig();
    let (cancel, _task) = rig.run("good");
    assert!(rig.connected().await);
    let message = Outbound {
        text: "hello".into(),
        client_id: Some("delivery-1".into()),
        ..Outbound::default()
    };
    rig.nim
        .fail_next_send(NimError::new(107451, "hit antispam"));
    let err = rig
        .channel
        .send(&section("good"), "default", "alice", &message)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(err.message.contains("107451"), "{err}");
    rig.nim.fail_next_send(NimError::new(416, "too frequent"));
    let err = rig
        .channel
        .send(&section("good"), "default", "alice", &message)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited);
    let first = rig
        .channel
        .send(&section("good"), "default", "alice", &message)
        .await
        .unwrap();
    let again = rig
        .channel
        .send(&section("good"), "default", "alice", &message)
        .await
        .unwrap();
    assert_eq!(first, again, "a retried delivery is not sent twice");
    assert_eq!(rig.nim.sent().len(), 1);
    cancel.cancel();
}

/// Serves `body` once per connection on loopback address `ip`, as a minimal HTTP server;
/// returns its URL and the number of connections it accepted.
async fn serve_bytes_on(ip: &str, body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
    });
    (format!("http://{addr}/nos/photo.png"), hits)
}

async fn serve_bytes(body: Vec<u8>) -> String {
    serve_bytes_on("127.0.0.1", body).await.0
}

fn image_from(sender: &str, server_id: &str, url: String) -> yunxin::nim::Message {
    use yunxin::nim::{Attachment, ConversationId, Message, MessageType};
    Message {
        message_client_id: format!("{server_id}-c"),
        message_server_id: server_id.into(),
        sender_id: sender.into(),
        receiver_id: "bot".into(),
        conversation_id: ConversationId::p2p("bot", sender).to_string(),
        message_type: MessageType::Image,
        attachment: Some(Attachment {
            url: Some(url),
            name: Some("photo.png".into()),
            ext: Some("png".into()),
            ..Attachment::default()
        }),
        ..Message::default()
    }
}

#[tokio::test]
async fn a_picture_on_another_private_address_is_never_fetched() {
    let rig = rig();
    let (cancel, _task) = rig.run("good");
    assert!(rig.connected().await);
    let (url, hits) = serve_bytes_on("127.0.0.2", b"\x89PNG\r\n\x1a\ncanary".to_vec()).await;
    let mut message = image_from("mallory", "canary-s1", url);
    message.text = Some("look".into());
    rig.nim.deliver("bot", message);
    assert!(
        rig.host
            .wait_for(Duration::from_secs(10), |h| !h.turns().is_empty())
            .await
    );
    let turn = rig.host.turns().remove(0);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the canary saw a request");
    let media = &turn.inbound.media[0];
    assert_eq!(media.path, None);
    assert!(
        media
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("refused to fetch http://127.0.0.2:")),
        "{media:?}"
    );
    // The turn ran, with the text and a note the agent can read.
    assert!(
        turn.inbound
            .text
            .starts_with("look\n[image could not be downloaded: refused"),
        "{}",
        turn.inbound.text
    );
    cancel.cancel();
}

#[tokio::test]
async fn images_and_files_go_both_ways() {
    use yunxin::nim::SendBody;
    let rig = rig();
    let (cancel, _task) = rig.run("good");
    assert!(rig.connected().await);

    // Inbound: an image the server stores by URL reaches the host as a downloaded attachment.
    let bytes = b"\x89PNG\r\n\x1a\nnot-really-a-png".to_vec();
    let url = serve_bytes(bytes.clone()).await;
    rig.nim.deliver("bot", image_from("alice", "img-s1", url));
    assert!(
        rig.host
            .wait_for(Duration::from_secs(10), |h| !h.turns().is_empty())
            .await
    );
    let turn = rig.host.turns().remove(0);
    let media = &turn.inbound.media[0];
    assert_eq!(media.kind, "image");
    let saved = media
        .path
        .as_deref()
        .expect("downloaded into the media store");
    assert_eq!(std::fs::read(saved).unwrap(), bytes);

    // Outbound: a local image and a file under the media roots, then the text.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("chart.png");
    let file = dir.path().join("report.pdf");
    std::fs::write(&image, b"png").unwrap();
    std::fs::write(&file, b"%PDF-1.4").unwrap();
    let message = Outbound {
        text: "see attached".into(),
        media: vec![
            image.to_string_lossy().into_owned(),
            file.to_string_lossy().into_owned(),
        ],
        media_roots: vec![dir.path().to_string_lossy().into_owned()],
        ..Outbound::default()
    };
    let before = rig.nim.sent().len();
    rig.channel
        .send(&section("good"), "default", "alice", &message)
        .await
        .unwrap();
    // What went out after the agent's own reply to the image.
    let sent = rig.nim.sent().split_off(before);
    let bodies: Vec<&SendBody> = sent.iter().map(|s| &s.body).collect();
    assert!(
        matches!(bodies[0], SendBody::Image { name, .. } if name == "chart.png"),
        "{bodies:?}"
    );
    assert!(
        matches!(bodies[1], SendBody::File { name, .. } if name == "report.pdf"),
        "{bodies:?}"
    );
    assert!(
        matches!(bodies[2], SendBody::Text { text } if text == "see attached"),
        "{bodies:?}"
    );
    assert!(sent.iter().all(|s| s.conversation_id == "bot|1|alice"));
    cancel.cancel();
}

/// A team reply starts with `@asker` and carries the mention; with `sendReadReceipts`, a
/// handled direct message is marked read for its sender, and a team message is not.
#[tokio::test]
async fn team_replies_mention_the_asker_and_handled_dms_are_marked_read() {
    use yunxin::nim::{ConversationType, Message, MessageType};
    let rig = rig();
    let mut section = section("good");
    section["groupPolicy"] = json!("open");
    section["sendReadReceipts"] = json!(true);
    let cancel = CancellationToken::new();
    let _task = tokio::spawn({
        let (channel, host, cancel) = (
            Arc::clone(&rig.channel),
            Arc::clone(&rig.host),
            cancel.clone(),
        );
        let section = section.clone();
        async move { channel.run(&section, "default", host, cancel).await }
    });
    assert!(rig.connected().await);

    rig.nim.deliver(
        "bot",
        Message {
            message_client_id: "t-c1".into(),
            message_server_id: "8001".into(),
            create_time: 1_700_000_000_000,
            sender_id: "alice".into(),
            sender_name: Some("Alice".into()),
            receiver_id: "team7".into(),
            conversation_type: ConversationType::Team,
            conversation_id: "bot|2|team7".into(),
            message_type: MessageType::Text,
            text: Some("@bot status?".into()),
            force_push_account_ids: vec!["bot".into()],
            ..Message::default()
        },
    );
    let dm = rig.nim.inject_text("carol", "bot", "hello");
    // The receipt follows the turn's end, which the host does not see: polled.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while (rig.nim.sent().len() < 2 || rig.nim.receipts().is_empty())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = rig.nim.sent();
    let team = sent
        .iter()
        .find(|s| s.conversation_id == "bot|2|team7")
        .unwrap();
    assert_eq!(team.text(), Some("@Alice echo: @bot status?"));
    assert_eq!(team.mention.as_ref().unwrap().account_id, "alice");
    let direct = sent
        .iter()
        .find(|s| s.conversation_id == "bot|1|carol")
        .unwrap();
    assert_eq!(direct.text(), Some("echo: hello"));
    assert_eq!(direct.mention, None);
    let receipts = rig.nim.receipts();
    assert_eq!(
        receipts.len(),
        1,
        "the team message gets none: {receipts:?}"
    );
    assert_eq!(
        (
            receipts[0].sender_id.as_str(),
            receipts[0].message_server_id.as_str()
        ),
        ("carol", dm.message_server_id.as_str())
    );
    cancel.cancel();
}
