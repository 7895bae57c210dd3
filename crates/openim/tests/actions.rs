//! The agent tools, the friend gateway method and `multi-openim setup`, against the simulator
//! over loopback.

use std::sync::Arc;
use std::time::Duration;

use channel_core::action::ConfigEdit;
use channel_core::testing::{ScriptedPrompter, StandaloneHost};
use channel_core::{AnyChannel, CancellationToken, ChannelError, ErrorKind, StateDir};
use imsim::openim::{OpenImOptions, OpenImSim};
use openim::OpenimChannel;
use serde_json::{Value, json};

const BOT: &str = "bot1";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x08\x08\x02\0\0\0";

struct Rig {
    sim: OpenImSim,
    channel: Arc<OpenimChannel>,
    section: Value,
    media: tempfile::TempDir,
    _state: tempfile::TempDir,
}

async fn rig(disable_friend_sdk: bool) -> Rig {
    let sim = OpenImSim::start(OpenImOptions::default()).await.unwrap();
    sim.add_user(BOT);
    sim.add_user("alice");
    sim.add_group("team", &["alice", BOT]);
    let state = tempfile::tempdir().unwrap();
    let section = json!({
        "disableFriendSdk": disable_friend_sdk,
        "accounts": {
            "primary": {
                "token": sim.issue_token(BOT, 7),
                "wsAddr": sim.ws_url(),
                "apiAddr": sim.api_url(),
            },
            "idle": {
                "enabled": false,
                "token": sim.issue_token("idle-bot", 7),
                "wsAddr": sim.ws_url(),
                "apiAddr": sim.api_url(),
            },
        },
    });
    Rig {
        channel: Arc::new(OpenimChannel::new(&StateDir::new(state.path()))),
        sim,
        section,
        media: tempfile::tempdir().unwrap(),
        _state: state,
    }
}

impl Rig {
    /// Runs account `primary` until the returned token is cancelled.
    async fn run_primary(&self) -> CancellationToken {
        let cancel = CancellationToken::new();
        let host = Arc::new(StandaloneHost::default());
        tokio::spawn({
            let channel = Arc::clone(&self.channel);
            let section = self.section.clone();
            let cancel = cancel.clone();
            let host = Arc::clone(&host);
            async move { channel.run(&section, "primary", host, cancel).await }
        });
        assert!(
            host.wait_for(Duration::from_secs(10), |h| h.is_connected("primary"))
                .await
        );
        cancel
    }

    async fn call(&self, name: &str, args: Value) -> Result<Value, ChannelError> {
        let host = Arc::new(
            StandaloneHost::default().with_media_roots([self.media.path().to_string_lossy()]),
        );
        self.channel
            .call_action(&self.section, name, args, host)
            .await
    }
}

#[tokio::test]
async fn tools_send_text_and_each_media_kind_from_the_named_account() {
    let rig = rig(true).await;
    let cancel = rig.run_primary().await;

    let text = rig
        .call(
            "multi_openim_send_text",
            json!({"accountId": "primary", "to": "group:team", "text": "hello team"}),
        )
        .await
        .unwrap();
    assert_eq!(text["messageIds"].as_array().unwrap().len(), 1);
    let sent = rig.sim.sent();
    let last = sent.last().unwrap();
    assert_eq!(
        (last.group_id.as_str(), last.text.as_deref()),
        ("team", Some("hello team"))
    );

    // An image without an extension is recognised by its bytes.
    let image = rig.media.path().join("screenshot");
    std::fs::write(&image, PNG).unwrap();
    let mut video = b"\0\0\0\x18ftypmp42\0\0\0\0".to_vec();
    video.resize(2048, 1);
    let video_url = rig
        .sim
        .put_object("src/clip.mp4", video.clone(), "video/mp4");
    let file = rig.media.path().join("notes.txt");
    std::fs::write(&file, "meeting notes").unwrap();
    for (tool, media, content_type, bytes) in [
        (
            "multi_openim_send_image",
            image.to_string_lossy().into_owned(),
            102,
            PNG.to_vec(),
        ),
        ("multi_openim_send_video", video_url, 104, video),
        (
            "multi_openim_send_file",
            file.to_string_lossy().into_owned(),
            105,
            b"meeting notes".to_vec(),
        ),
    ] {
        let result = rig
            .call(tool, json!({"accountId": "primary", "to": "alice", "media": media, "caption": "see this"}))
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        // The attachment, then the caption.
        assert_eq!(result["messageIds"].as_array().unwrap().len(), 2, "{tool}");
        let sent = rig.sim.sent();
        let [attachment, caption] = &sent[sent.len() - 2..] else {
            unreachable!()
        };
        assert_eq!(attachment.content_type, content_type, "{tool}");
        assert_eq!(attachment.recv_id, "alice");
        assert_eq!(caption.text.as_deref(), Some("see this"));
        let upload = rig
            .sim
            .uploads()
            .into_iter()
            .find(|u| attachment.content.contains(&u.url))
            .unwrap_or_else(|| panic!("{tool}: no object URL in {}", attachment.content));
        assert_eq!(rig.sim.object(&upload.name).unwrap(), bytes, "{tool}");
    }
    cancel.cancel();
}

#[tokio::test]
async fn tool_calls_name_what_is_wrong() {
    let rig = rig(true).await;
    let cancel = rig.run_primary().await;
    let sent_before = rig.sim.sent().len();
    let cases = [
        (
            json!({"to": "alice", "text": "x"}),
            "missing field `accountId`",
        ),
        (
            json!({"accountId": "nope", "to": "alice", "text": "x"}),
            "unknown account \"nope\" (configured: idle, primary)",
        ),
        (
            json!({"accountId": "", "to": "alice", "text": "x"}),
            "accountId: empty",
        ),
        (
            json!({"accountId": "primary", "to": "group:", "text": "x"}),
            "empty target",
        ),
        (
            json!({"accountId": "primary", "to": "alice", "text": "x", "extra": 1}),
            "unknown field `extra`",
        ),
    ];
    for (args, expected) in cases {
        let err = rig.call("multi_openim_send_text", args).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
        assert!(err.message.contains(expected), "{err} lacks {expected:?}");
    }
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), PNG).unwrap();
    let err = rig
        .call(
            "multi_openim_send_image",
            json!({"accountId": "primary", "to": "alice", "media": outside.path()}),
        )
        .await
        .unwrap_err();
    assert!(
        err.message.contains("not under an allowed media directory"),
        "{err}"
    );
    let not_image = rig.media.path().join("a.txt");
    std::fs::write(&not_image, "text").unwrap();
    let err = rig
        .call(
            "multi_openim_send_image",
            json!({"accountId": "primary", "to": "alice", "media": not_image}),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("not an image"), "{err}");
    // Configured but not running here: the caller hears so, and may retry later.
    let err = rig
        .call(
            "multi_openim_send_text",
            json!({"accountId": "idle", "to": "alice", "text": "x"}),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("not running"), "{err}");
    assert_eq!(rig.sim.sent().len(), sent_before, "nothing was sent");
    cancel.cancel();
}

#[tokio::test]
async fn the_friend_method_is_guarded_per_account() {
    let guarded = rig(true).await;
    let err = guarded
        .call(
            "friend",
            json!({"accountId": "primary", "method": "addFriend", "params": "alice"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with("MULTI_OPENIM_FRIEND_API_DISABLED: SDK addFriend() is disabled"),
        "{err}"
    );
    assert!(err.message.contains("account=primary"), "{err}");
    assert!(guarded.sim.friend_calls().is_empty());

    let open = rig(false).await;
    // The account need not be running: the call goes over REST with the configured token.
    let result = open
        .call(
            "friend",
            json!({"accountId": "primary", "method": "addFriend", "params": {"toUserID": "alice", "reqMsg": "hi"}}),
        )
        .await
        .unwrap();
    assert_eq!(result["method"], "addFriend");
    let calls = open.sim.friend_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/friend/add_friend");
    assert_eq!(calls[0].body["fromUserID"], BOT);
    let err = open
        .call(
            "friend",
            json!({"accountId": "primary", "method": "befriend"}),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("multi-openim.friend.method"), "{err}");
}

#[tokio::test]
async fn setup_asks_checks_and_returns_one_merge_edit() {
    let rig = rig(true).await;
    let token = rig.sim.issue_token("new-bot", 5);
    let ui = Arc::new(ScriptedPrompter::new([
        rig.sim.ws_url(),
        String::new(), // apiAddr: the default derived from wsAddr is wrong here …
        token.clone(),
        "y".into(),
    ]));
    // … so the check against the server fails, which is reported but does not block saving.
    let outcome = rig
        .channel
        .run_command(
            &rig.section,
            "multi-openim",
            "setup",
            json!({"account": "team-b"}),
            ui.clone(),
        )
        .await
        .unwrap();
    let asked: Vec<String> = ui.asked().into_iter().map(|q| q.question).collect();
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(ui.asked()[2].secret);
    let said = ui.said().join("\n");
    assert!(
        said.contains("Token for user new-bot on platform 5"),
        "{said}"
    );
    assert!(!said.contains(&token), "the token is never echoed");
    assert_eq!(outcome.config_edits.len(), 1);
    let edit = &outcome.config_edits[0];
    assert_eq!(edit.dotted(), "channels.multi-openim.accounts.team-b");
    assert!(edit.merge);
    assert_eq!(edit.value["token"], token.as_str());
    assert_eq!(edit.value["requireMention"], true);
    assert!(outcome.text.contains("accounts.team-b"));

    // Changing an existing account: empty answers keep its values, including the token.
    let ui = Arc::new(ScriptedPrompter::new([
        "",
        rig.sim.api_url().as_str(),
        "",
        "n",
    ]));
    let outcome = rig
        .channel
        .run_command(
            &rig.section,
            "multi-openim",
            "setup",
            json!({"account": "primary"}),
            ui.clone(),
        )
        .await
        .unwrap();
    assert!(
        ui.said()
            .join("\n")
            .contains("The server accepted the token.")
    );
    let mut doc = json!({"channels": {"multi-openim": rig.section.clone()}});
    for edit in &outcome.config_edits {
        ConfigEdit::apply(edit, &mut doc).unwrap();
    }
    assert_eq!(
        doc["channels"]["multi-openim"]["accounts"]["primary"]["token"],
        rig.section["accounts"]["primary"]["token"]
    );
    assert_eq!(
        doc["channels"]["multi-openim"]["accounts"]["primary"]["requireMention"],
        false
    );

    // A token that is not a JWT is refused before anything is saved.
    let ui = Arc::new(ScriptedPrompter::new([
        "ws://127.0.0.1:1",
        "",
        "not-a-jwt",
        "n",
    ]));
    let err = rig
        .channel
        .run_command(
            &rig.section,
            "multi-openim",
            "setup",
            json!({"account": "x"}),
            ui,
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("token"), "{err}");
    assert!(!err.message.contains("not-a-jwt"), "{err}");
}
