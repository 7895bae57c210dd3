//! Transport `server-api` over real loopback sockets, against `imsim::nim::NimSim`: the channel
//! logs in with the account probe, receives through the signed webhook and replies through
//! signed V2 sends (and uploads for media).

use std::sync::Arc;
use std::time::Duration;

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, ChannelError, ErrorKind, Outbound, StateDir};
use imsim::nim::{NimFault, NimOptions, NimSim, Via};
use serde_json::{Value, json};
use yunxin::YunxinChannel;
use yunxin::config::YunxinConfig;
use yunxin::nim::{MessageType, NimEvent, Opened};

const T: Duration = Duration::from_secs(10);
const PATH: &str = "/nim/webhook";

/// A port nothing listens on right now, for the webhook listener to bind.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn sim_with(opts: NimOptions) -> NimSim {
    let sim = NimSim::start(opts).await.expect("nim simulator");
    sim.add_account("bot", "unused-token");
    sim.add_account("alice", "alice-token");
    sim.add_account("carol", "carol-token");
    sim
}

struct Rig {
    sim: NimSim,
    channel: Arc<YunxinChannel>,
    host: Arc<StandaloneHost>,
    port: u16,
    _state: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Rig {
        Rig::with(NimOptions::default()).await
    }

    async fn with(opts: NimOptions) -> Rig {
        let sim = sim_with(opts).await;
        let port = free_port();
        sim.set_webhook(&format!("http://127.0.0.1:{port}{PATH}"));
        let state = tempfile::tempdir().unwrap();
        Rig {
            channel: Arc::new(YunxinChannel::new(&StateDir::new(state.path()))),
            host: Arc::new(StandaloneHost::default()),
            sim,
            port,
            _state: state,
        }
    }

    fn section(&self, secret: &str, account: &str) -> Value {
        json!({
            "appKey": self.sim.app_key(), "accountId": account, "transport": "server-api",
            "dmPolicy": "open", "allowFrom": ["*"],
            // Teams are closed by default; team 42 is opened, with mentions required.
            "groups": {"42": {"requireMention": true}},
            "serverApi": {
                "appSecret": secret, "baseUrl": self.sim.base_url(),
                "webhookListen": format!("127.0.0.1:{}", self.port), "webhookPath": PATH,
            }
        })
    }

    fn good(&self) -> Value {
        self.section(self.sim.app_secret(), "bot")
    }

    fn run(
        &self,
        section: Value,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<Result<(), ChannelError>>,
    ) {
        let cancel = CancellationToken::new();
        let task = tokio::spawn({
            let channel = Arc::clone(&self.channel);
            let host = Arc::clone(&self.host);
            let cancel = cancel.clone();
            async move { channel.run(&section, "default", host, cancel).await }
        });
        (cancel, task)
    }

    async fn connected(&self) -> bool {
        self.host.wait_for(T, |h| h.is_connected("default")).await
    }

    async fn turns(&self, count: usize) -> Vec<channel_core::Turn> {
        self.host.wait_for(T, |h| h.turns().len() >= count).await;
        self.host.turns()
    }
}

#[tokio::test]
async fn a_push_becomes_a_turn_and_the_reply_is_a_signed_v2_send() {
    let rig = Rig::new().await;
    let (cancel, task) = rig.run(rig.good());
    assert!(rig.connected().await);

    // Login was the account probe, signed.
    let probe = &rig.sim.calls()[0];
    assert_eq!(
        (probe.method.as_str(), probe.path.as_str()),
        ("GET", "/im/v2/accounts/bot")
    );
    assert_eq!(probe.code, Some(200));

    let pushed = rig.sim.push_text("alice", "bot", "hello").await.unwrap();
    assert_eq!(pushed.status, 200);
    let turns = rig.turns(1).await;
    assert_eq!(turns.len(), 1);
    let inbound = &turns[0].inbound;
    assert_eq!(inbound.text, "hello");
    assert_eq!(inbound.sender.id, "alice");
    assert_eq!(inbound.server_id, pushed.msgid_server.unwrap());

    let sent = rig.sim.wait_sent(1, T).await;
    assert_eq!(sent.len(), 1);
    let reply = &sent[0];
    assert_eq!(reply.via, Via::V2);
    assert_eq!(
        (reply.sender.as_str(), reply.receiver.as_str()),
        ("bot", "alice")
    );
    assert_eq!(reply.text.as_deref(), Some("echo: hello"));
    assert!(reply.client_id.as_deref().is_some_and(|c| !c.is_empty()));
    let call = rig
        .sim
        .calls()
        .into_iter()
        .find(|c| c.method == "POST")
        .unwrap();
    assert_eq!(call.code, Some(200));
    assert_eq!(call.header("AppKey"), Some(rig.sim.app_key()));
    for name in ["Nonce", "CurTime", "CheckSum"] {
        assert!(call.header(name).is_some(), "{name}");
    }
    assert!(!call.body.contains(rig.sim.app_secret()));

    cancel.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn forged_and_tampered_pushes_get_401_and_no_turn() {
    let rig = Rig::new().await;
    let (cancel, _task) = rig.run(rig.good());
    assert!(rig.connected().await);
    let forged = rig.sim.push_forged("alice", "bot", "forged").await.unwrap();
    let tampered = rig
        .sim
        .push_tampered("alice", "bot", "tampered")
        .await
        .unwrap();
    assert_eq!((forged.status, tampered.status), (401, 401));
    // Unsigned and wrong-app requests too.
    let unsigned = rig.sim.push_raw(r#"{"eventType":"1"}"#, &[]).await.unwrap();
    assert_eq!(unsigned.status, 401);

    // A good push afterwards is the only turn.
    rig.sim.push_text("alice", "bot", "genuine").await.unwrap();
    let turns = rig.turns(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let texts: Vec<_> = rig
        .host
        .turns()
        .iter()
        .map(|t| t.inbound.text.clone())
        .collect();
    assert_eq!(texts, ["genuine"], "{turns:?}");
    cancel.cancel();
}

/// Before: a correctly signed copy was refused when it had no `AppKey` header (NetEase's
/// samples show none) or a `CurTime` over 5 minutes old (a redelivery may keep its first
/// signature). Both are taken now; the journal stops repeats. `maxSkewSeconds` still lets an
/// operator refuse old copies.
#[tokio::test]
async fn a_copy_without_app_key_or_signed_long_ago_is_taken_unless_max_skew_is_set() {
    let rig = Rig::new().await;
    let (cancel, task) = rig.run(rig.good());
    assert!(rig.connected().await);
    let keyless = rig
        .sim
        .push_without_app_key("alice", "bot", "keyless")
        .await
        .unwrap();
    let stale = rig.sim.push_stale("alice", "bot", "stale").await.unwrap();
    assert_eq!((keyless.status, stale.status), (200, 200));
    let again = rig.sim.redeliver(&stale).await.unwrap();
    assert_eq!(again.status, 200, "a repeat is acknowledged");
    rig.sim.push_text("alice", "bot", "last").await.unwrap();
    let turns = rig.turns(3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let texts: Vec<_> = rig
        .host
        .turns()
        .iter()
        .map(|t| t.inbound.text.clone())
        .collect();
    assert_eq!(texts, ["keyless", "stale", "last"], "{turns:?}");
    cancel.cancel();
    task.await.unwrap().unwrap();

    let mut strict = rig.good();
    strict["serverApi"]["maxSkewSeconds"] = json!(300);
    let (cancel, _task) = rig.run(strict);
    assert!(rig.connected().await);
    let stale = rig.sim.push_stale("alice", "bot", "too old").await.unwrap();
    assert_eq!(stale.status, 401);
    cancel.cancel();
}

#[tokio::test]
async fn a_redelivered_push_is_one_turn() {
    let rig = Rig::new().await;
    let (cancel, _task) = rig.run(rig.good());
    assert!(rig.connected().await);
    let first = rig.sim.push_text("alice", "bot", "once").await.unwrap();
    let again = rig.sim.redeliver(&first).await.unwrap();
    assert_eq!((first.status, again.status), (200, 200));
    // A later message proves the redelivery was handled before it.
    rig.sim.push_text("alice", "bot", "next").await.unwrap();
    let turns = rig.turns(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let texts: Vec<_> = rig
        .host
        .turns()
        .iter()
        .map(|t| t.inbound.text.clone())
        .collect();
    assert_eq!(texts, ["once", "next"], "{turns:?}");
    cancel.cancel();
}

#[tokio::test]
async fn copies_for_other_accounts_own_messages_and_bad_bodies_make_no_turn() {
    let rig = Rig::new().await;
    let (cancel, _task) = rig.run(rig.good());
    assert!(rig.connected().await);
    // The webhook carries the whole app's traffic.
    assert_eq!(
        rig.sim
            .push_text("alice", "carol", "not for the bot")
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        rig.sim
            .push_text("bot", "alice", "the bot's own")
            .await
            .unwrap()
            .status,
        200
    );
    rig.sim.add_team("77", &["alice", "carol"]);
    assert_eq!(
        rig.sim
            .push_team_text("alice", "77", "a team without the bot", &[])
            .await
            .unwrap()
            .status,
        200
    );
    // Other event types are acknowledged.
    let login_event = json!({"eventType": "2", "accid": "alice", "code": "200"}).to_string();
    assert_eq!(rig.sim.push_signed(&login_event).await.unwrap().status, 200);
    // Signed but not a copy: 400.
    assert_eq!(rig.sim.push_signed("not json").await.unwrap().status, 400);
    let missing = json!({"eventType": "1", "convType": "PERSON", "to": "bot"}).to_string();
    assert_eq!(rig.sim.push_signed(&missing).await.unwrap().status, 400);

    // A team the bot is in, but not on the allowlist.
    rig.sim.add_team("43", &["alice", "bot"]);
    rig.sim
        .push_team_text("alice", "43", "@bot not here", &["bot"])
        .await
        .unwrap();
    rig.sim.add_team("42", &["alice", "bot"]);
    rig.sim
        .push_team_text("alice", "42", "@bot hi", &["bot"])
        .await
        .unwrap();
    let turns = rig.turns(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rig.host.turns().len(), 1, "{turns:?}");
    let inbound = &turns[0].inbound;
    assert_eq!(inbound.chat.id, "42");
    assert!(inbound.was_mentioned);
    // The reply goes to the team.
    let sent = rig.sim.wait_sent(1, T).await;
    assert_eq!(sent[0].receiver, "42");
    cancel.cancel();
}

#[tokio::test]
async fn a_wrong_app_secret_stops_the_account_naming_the_key() {
    let rig = Rig::new().await;
    let (_cancel, task) = rig.run(rig.section("sec-9f8e7d6c5b", "bot"));
    let err = tokio::time::timeout(T, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NeedsLogin, "{err}");
    assert!(err.message.contains("serverApi.appSecret"), "{err}");
    assert!(
        !err.message.contains("sec-9f8e7d6c5b"),
        "the secret stays out: {err}"
    );
    assert_eq!(rig.sim.calls().len(), 1, "no retry storm");
    assert_eq!(rig.sim.calls()[0].code, Some(414));
    // Nothing listens for webhooks.
    assert!(rig.sim.push_text("alice", "bot", "x").await.is_err());
}

#[tokio::test]
async fn an_unknown_account_stops_the_account() {
    let rig = Rig::new().await;
    let (_cancel, task) = rig.run(rig.section(rig.sim.app_secret(), "ghost"));
    let err = tokio::time::timeout(T, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NeedsLogin, "{err}");
    assert!(
        err.message.contains("102404") && err.message.contains("accountId"),
        "{err}"
    );
}

#[tokio::test]
async fn rate_limits_surface_and_a_resent_delivery_is_stored_once() {
    let rig = Rig::with(NimOptions {
        server_id_as_string: true,
        ..NimOptions::default()
    })
    .await;
    let section = rig.good();
    let (cancel, _task) = rig.run(section.clone());
    assert!(rig.connected().await);
    let message = Outbound {
        text: "hello".into(),
        client_id: Some("delivery-1".into()),
        ..Outbound::default()
    };
    rig.sim.set_fault(NimFault::RateLimit { calls: 1 });
    let err = rig
        .channel
        .send(&section, "default", "alice", &message)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::RateLimited, "{err}");
    assert!(err.message.contains("416"), "{err}");

    let first = rig
        .channel
        .send(&section, "default", "alice", &message)
        .await
        .unwrap();
    let again = rig
        .channel
        .send(&section, "default", "alice", &message)
        .await
        .unwrap();
    assert_eq!(
        first, again,
        "the simulator answered the resend from its first answer"
    );
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 1);
    // String server ids are read as well as numbers.
    assert_eq!(first.message_id(), sent[0].server_id.to_string());
    cancel.cancel();
}

#[tokio::test]
async fn media_is_uploaded_then_sent_with_its_url() {
    let rig = Rig::new().await;
    let section = rig.good();
    let (cancel, _task) = rig.run(section.clone());
    assert!(rig.connected().await);
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("chart.png");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    std::fs::write(&png, &bytes).unwrap();
    let report = dir.path().join("report.pdf");
    std::fs::write(&report, b"%PDF-1.4").unwrap();
    let message = Outbound {
        text: "two files".into(),
        media: vec![
            png.to_string_lossy().into_owned(),
            report.to_string_lossy().into_owned(),
        ],
        media_roots: vec![dir.path().to_string_lossy().into_owned()],
        client_id: Some("with-media".into()),
        ..Outbound::default()
    };
    let receipt = rig
        .channel
        .send(&section, "default", "alice", &message)
        .await
        .unwrap();
    assert!(matches!(
        receipt,
        channel_core::Receipt::Sent { parts: 3, .. }
    ));
    let sent = rig.sim.sent();
    let types: Vec<i64> = sent.iter().map(|s| s.message_type).collect();
    assert_eq!(types, [1, 6, 0]);
    let uploads = rig.sim.uploads();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].content, bytes);

    let image = sent[0].attachment.as_ref().unwrap();
    assert_eq!(image["url"], uploads[0].url.as_str());
    assert_eq!(image["name"], "chart.png");
    assert_eq!(image["ext"], "png");
    assert_eq!(image["size"], 5000);
    let file = sent[1].attachment.as_ref().unwrap();
    assert_eq!(
        (file["name"].as_str(), file["ext"].as_str()),
        (Some("report.pdf"), Some("pdf"))
    );
    // The URL serves the bytes back.
    let served = reqwest_get(image["url"].as_str().unwrap()).await;
    assert_eq!(served, bytes);

    // Larger than upload.action takes (15 MB of base64): refused before any call, not retried.
    let big = dir.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(12 * 1024 * 1024)
        .unwrap();
    let calls = rig.sim.calls().len();
    let err = rig
        .channel
        .send(
            &section,
            "default",
            "alice",
            &Outbound {
                media: vec![big.to_string_lossy().into_owned()],
                media_roots: vec![dir.path().to_string_lossy().into_owned()],
                ..Outbound::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
    assert!(err.message.contains("transport sdk"), "{err}");
    assert_eq!(rig.sim.calls().len(), calls);
    cancel.cancel();
}

async fn reqwest_get(url: &str) -> Vec<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn stopping_frees_the_port_and_a_new_run_listens_again() {
    let rig = Rig::new().await;
    let (cancel, task) = rig.run(rig.good());
    assert!(rig.connected().await);
    cancel.cancel();
    task.await.unwrap().unwrap();
    assert!(
        rig.sim
            .push_text("alice", "bot", "while stopped")
            .await
            .is_err()
    );

    let before = rig.host.statuses().len();
    let (cancel, _task) = rig.run(rig.good());
    let connected_again = rig
        .host
        .wait_for(T, |h| {
            h.statuses()[before..]
                .iter()
                .any(|(_, p)| p.connected == Some(true))
        })
        .await;
    assert!(connected_again);
    assert_eq!(
        rig.sim
            .push_text("alice", "bot", "back")
            .await
            .unwrap()
            .status,
        200
    );
    let turns = rig.turns(1).await;
    assert_eq!(turns[0].inbound.text, "back");
    cancel.cancel();
}

/// The transport alone: events as the channel sees them. A copy is answered 200 only once the
/// channel says it is durable, 503 when the channel drops it untold (NetEase then delivers it
/// again). Before, the webhook answered 200 as soon as the copy was on an in-memory queue.
#[tokio::test]
async fn the_webhook_answers_200_only_once_a_copy_is_durable() {
    let sim = sim_with(NimOptions::default()).await;
    let port = free_port();
    sim.set_webhook(&format!("http://127.0.0.1:{port}{PATH}"));
    let section = json!({
        "appKey": sim.app_key(), "accountId": "bot", "transport": "server-api",
        "serverApi": {
            "appSecret": sim.app_secret(), "baseUrl": sim.base_url(),
            "webhookListen": format!("127.0.0.1:{port}"), "webhookPath": PATH,
        }
    });
    let settings = YunxinConfig::parse(&section)
        .unwrap()
        .account("default", &|_| None)
        .unwrap();
    let Opened {
        transport,
        mut events,
    } = yunxin::server_api::open(&settings).unwrap();
    let login = yunxin::nim::Login {
        app_key: sim.app_key().to_owned(),
        account_id: "bot".into(),
        token: String::new(),
        ai_bot: 2,
    };
    transport.login(&login).await.unwrap();

    // The channel: drops the first copy untold (a crash before the journal), keeps the rest
    // after a pause (a slow disk).
    let channel = tokio::spawn(async move {
        let mut received = Vec::new();
        while received.len() < 3 {
            match tokio::time::timeout(T, events.recv())
                .await
                .unwrap()
                .unwrap()
            {
                NimEvent::Copied(message, durable) => {
                    if !received.is_empty() {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        durable.done(true);
                    }
                    received.push(*message);
                }
                NimEvent::LoginStatus(_) | NimEvent::ConnectStatus(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        received
    });
    let pushed = sim
        .push_image("alice", "bot", "http://127.0.0.1:1/cat.png", 64, 32)
        .await
        .unwrap();
    assert_eq!(pushed.status, 503, "dropped before it was durable");
    let started = std::time::Instant::now();
    let again = sim.redeliver(&pushed).await.unwrap();
    assert_eq!(again.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered before the channel kept it"
    );
    sim.push_text("alice", "bot", "after").await.unwrap();

    let received = channel.await.unwrap();
    assert_eq!(received[0].message_type, MessageType::Image);
    assert_eq!(received[0].conversation_id, "bot|1|alice");
    assert_eq!(
        received[1].message_server_id, received[0].message_server_id,
        "the redelivery reaches the channel, whose journal tells repeats"
    );
    let attachment = received[0].attachment.clone().unwrap();
    assert_eq!((attachment.width, attachment.height), (Some(64), Some(32)));
    assert_eq!(received[2].text.as_deref(), Some("after"));

    transport.logout().await.unwrap();
    transport.close().await;
    transport.close().await;
    assert!(sim.push_text("alice", "bot", "gone").await.is_err());
}

/// Over the server API, a team reply mentions its asker (`push_config` and the `yxAitMsg`
/// extension, which the simulator checks against the team), and with `sendReadReceipts` a
/// handled direct message gets a V2 P2P read receipt.
#[tokio::test]
async fn team_replies_mention_the_asker_and_dms_get_read_receipts() {
    let rig = Rig::new().await;
    let mut section = rig.good();
    section["sendReadReceipts"] = json!(true);
    let (cancel, _task) = rig.run(section);
    assert!(rig.connected().await);
    rig.sim.add_team("42", &["alice", "bot"]);
    rig.sim
        .push_team_text("alice", "42", "@bot hi", &["bot"])
        .await
        .unwrap();
    let dm = rig.sim.push_text("carol", "bot", "hello").await.unwrap();
    let sent = rig.sim.wait_sent(2, T).await;
    let team = sent.iter().find(|s| s.receiver == "42").unwrap();
    assert!(
        team.text.as_deref().unwrap().starts_with("@alice echo: "),
        "{team:?}"
    );
    assert_eq!(
        team.request["push_config"],
        json!({"push_forcepush_enable": true, "push_forcepush_ids": ["alice"]})
    );
    let ext: Value = serde_json::from_str(team.request["extension"].as_str().unwrap()).unwrap();
    assert_eq!(ext["yxAitMsg"]["alice"]["text"], "@alice");
    let direct = sent.iter().find(|s| s.receiver == "carol").unwrap();
    assert_eq!(direct.request.get("push_config"), None);
    // The receipt follows the turn's end, which the host does not see: polled.
    let deadline = tokio::time::Instant::now() + T;
    while rig.sim.receipts().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let receipts = rig.sim.receipts();
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(
        (receipts[0].from.as_str(), receipts[0].to.as_str()),
        ("bot", "carol")
    );
    assert_eq!(receipts[0].server_id.to_string(), dm.msgid_server.unwrap());
    cancel.cancel();
}
