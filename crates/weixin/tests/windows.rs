//! The window's outbox and the peer files against the simulator: what a crash mid-flush leaves,
//! flushes beside the long poll, tokens of dropped messages, and quotes per conversation.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use channel_core::conformance::Running;
use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, DmPolicy, Outbound, Receipt, SendLog};
use common::{Wx, fast_options};
use weixin::window::WindowStore;

const WAIT: Duration = Duration::from_secs(15);

fn with_max_sends(wx: &Wx, policy: DmPolicy, allow: &[String], max: u32) -> serde_json::Value {
    let mut section = wx.section_with(policy, allow);
    section["contextTokenMaxSends"] = serde_json::json!(max);
    section["textChunkLimit"] = serde_json::json!(64);
    section
}

async fn run(wx: &Wx, section: &serde_json::Value) -> Running {
    Running::start(wx, Arc::new(StandaloneHost::default()), section.clone()).await
}

/// The owner writes and is answered: the window is open, the context token known.
async fn open_window(wx: &Wx) {
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "hello");
    wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await;
}

fn accounts_dir(wx: &Wx) -> PathBuf {
    wx.state.join(weixin::CHANNEL_ID).join("accounts")
}

fn outbox_ids(wx: &Wx) -> Vec<String> {
    WindowStore::new(accounts_dir(wx), &wx.account())
        .outbox()
        .expect("outbox")
        .into_iter()
        .map(|q| q.client_id)
        .collect()
}

/// Texts the server accepted for `peer`, in order.
fn accepted_to(wx: &Wx, peer: &str) -> Vec<String> {
    wx.sim
        .sent(&wx.bot.bot_id)
        .into_iter()
        .filter(|s| s.accepted && s.to_user_id == peer)
        .filter_map(|s| s.text)
        .collect()
}

async fn send(wx: &Wx, section: &serde_json::Value, id: &str, text: &str) -> Receipt {
    let message = Outbound {
        client_id: Some(id.into()),
        ..Outbound::text(text)
    };
    wx.channel
        .send(section, &wx.account(), &wx.bot.owner, &message)
        .await
        .expect("send")
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_crash_mid_flush_leaves_the_unsent_messages_queued_and_sends_each_once() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = with_max_sends(&wx, DmPolicy::Pairing, &[], 4);
    let running = run(&wx, &section).await;
    open_window(&wx).await;
    for filler in ["f1", "f2", "f3"] {
        assert!(matches!(
            send(&wx, &section, filler, filler).await,
            Receipt::Sent { .. }
        ));
    }
    for queued in ["q1", "q2", "q3"] {
        assert!(matches!(
            send(&wx, &section, queued, queued).await,
            Receipt::Queued { .. }
        ));
    }

    // The server takes q1, then stops answering while q2 is on its way.
    wx.sim.stall_sends(1);
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "back");
    until("q2 hangs", || wx.sim.stalled_sends() == 1).await;
    assert_eq!(
        outbox_ids(&wx),
        ["openclaw-weixin:q2", "openclaw-weixin:q3"],
        "only the delivered message left the outbox"
    );

    // The process dies here; what hung is never accepted.
    running.stop().await;
    wx.sim.resume_sends();
    assert_eq!(
        outbox_ids(&wx),
        ["openclaw-weixin:q2", "openclaw-weixin:q3"]
    );

    // The next run replays the cut turn, whose reply goes out behind what waited.
    let running = run(&wx, &section).await;
    wx.sim.wait_sent(&wx.bot.bot_id, 8, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        accepted_to(&wx, &wx.bot.owner),
        [
            "echo: hello",
            "f1",
            "f2",
            "f3",
            "q1",
            "q2",
            "q3",
            "echo: back"
        ]
    );
    assert!(outbox_ids(&wx).is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_flush_after_a_crash_does_not_send_again_what_the_send_log_has() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let closed = with_max_sends(&wx, DmPolicy::Pairing, &[], 1);
    let running = run(&wx, &closed).await;
    open_window(&wx).await;
    let long = [
        "The first paragraph is long enough to fill one piece alone.",
        "The second paragraph is long enough to fill one piece alone.",
        "The third paragraph is long enough to fill one piece alone too.",
    ];
    let pieces = channel_core::text::chunks(&long.join("\n\n"), 64);
    assert_eq!(pieces.len(), 3, "{pieces:?}");
    for (id, text) in [("m1", "short one".to_owned()), ("m2", long.join("\n\n"))] {
        assert!(matches!(
            send(&wx, &closed, id, &text).await,
            Receipt::Queued { .. }
        ));
    }
    running.stop().await;

    // A crash came after the server took m1 and m2's first piece, before the outbox was updated.
    let log = SendLog::for_account(&wx.state.join(weixin::CHANNEL_ID), &wx.account());
    log.record("openclaw-weixin:m1", "openclaw-weixin:m1")
        .expect("record");
    log.record("openclaw-weixin:m2:0", "openclaw-weixin:m2:0")
        .expect("record");
    assert_eq!(
        outbox_ids(&wx),
        ["openclaw-weixin:m1", "openclaw-weixin:m2"]
    );

    let open = with_max_sends(&wx, DmPolicy::Pairing, &[], 10);
    let running = run(&wx, &open).await;
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "back");
    wx.sim.wait_sent(&wx.bot.bot_id, 4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent: Vec<(String, String)> = wx
        .sim
        .sent(&wx.bot.bot_id)
        .into_iter()
        .filter(|s| s.accepted)
        .map(|s| (s.client_id, s.text.unwrap_or_default()))
        .skip(1)
        .collect();
    assert_eq!(
        sent.iter()
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>(),
        [pieces[1].as_str(), pieces[2].as_str(), "echo: back"]
    );
    assert_eq!(
        sent[0].0, "openclaw-weixin:m2:1",
        "pieces keep their wire ids"
    );
    assert!(outbox_ids(&wx).is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_slow_flush_holds_up_neither_the_long_poll_nor_the_order_of_a_peers_messages() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = with_max_sends(&wx, DmPolicy::Open, &["*".into()], 2);
    let running = run(&wx, &section).await;
    open_window(&wx).await;
    assert!(matches!(
        send(&wx, &section, "f", "f").await,
        Receipt::Sent { .. }
    ));
    assert!(matches!(
        send(&wx, &section, "waiting", "waited").await,
        Receipt::Queued { .. }
    ));

    wx.sim.stall_sends(0);
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "back");
    until("the flush hangs", || wx.sim.stalled_sends() == 1).await;
    let other = Wx::new_peer();
    let meanwhile = wx
        .sim
        .inject_text(&wx.bot.bot_id, &other, "meanwhile")
        .message_id
        .to_string();
    // Its turn starts (its reply hangs as well: the server answers no send now).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !running
        .host
        .attempts()
        .contains(&serde_json::Value::String(meanwhile.clone()))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the next poll waited for the hung flush"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The hung send is answered 503 and tried again; the reply to "back" still comes after it.
    wx.sim.resume_sends();
    until("both replies", || {
        accepted_to(&wx, &wx.bot.owner).len() == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        accepted_to(&wx, &wx.bot.owner),
        ["echo: hello", "f", "waited", "echo: back"]
    );
    assert_eq!(accepted_to(&wx, &other), ["echo: meanwhile"]);
    running.stop().await;
}

#[tokio::test]
async fn messages_the_gate_drops_leave_no_context_token_window_or_text() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = wx.section_with(DmPolicy::Allowlist, &[]);
    let running = run(&wx, &section).await;
    let stranger = Wx::new_peer();
    wx.sim
        .inject_text(&wx.bot.bot_id, &stranger, "let me in, secret words");
    open_window(&wx).await;
    running.stop().await;
    let dir = accounts_dir(&wx);
    let read = |suffix: &str| {
        std::fs::read_to_string(dir.join(format!("{}{suffix}", wx.account()))).unwrap_or_default()
    };
    for suffix in [".context-tokens.json", ".windows.json", ".recent.json"] {
        let text = read(suffix);
        assert!(text.contains(&wx.bot.owner), "{suffix}: {text}");
        assert!(!text.contains(&stranger), "{suffix}: {text}");
        assert!(!text.contains("secret words"), "{suffix}: {text}");
    }
}

#[tokio::test]
async fn a_peer_cannot_quote_another_peers_message() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = run(&wx, &wx.section_with(DmPolicy::Open, &["*".into()])).await;
    let (alice, bob) = (Wx::new_peer(), Wx::new_peer());
    let secret = wx
        .sim
        .inject_text(&wx.bot.bot_id, &alice, "alice's private plan");
    assert!(running.host.wait_for(WAIT, |h| h.turns().len() == 1).await);
    let quote = |from: &str, text: &str| {
        serde_json::json!({"from_user_id": from, "message_type": 1, "item_list": [
            {"type": 1, "text_item": {"text": text}, "ref_msg": {"svr_id": secret.message_id}}]})
    };
    wx.sim
        .inject_message(&wx.bot.bot_id, quote(&bob, "what did she say?"));
    assert!(running.host.wait_for(WAIT, |h| h.turns().len() == 2).await);
    wx.sim
        .inject_message(&wx.bot.bot_id, quote(&alice, "about my plan"));
    assert!(running.host.wait_for(WAIT, |h| h.turns().len() == 3).await);
    let turns = running.host.turns();
    let body = |n: usize| turns[n].inbound.reply_to.clone().and_then(|r| r.body);
    assert_eq!(body(1), None, "bob learns nothing of alice's message");
    assert_eq!(body(2).as_deref(), Some("alice's private plan"));
    running.stop().await;
}

#[tokio::test]
async fn a_reply_refused_for_an_older_token_goes_out_with_the_newer_one_at_once() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = wx.section_with(DmPolicy::Open, &["*".into()]);
    let running = run(&wx, &section).await;
    open_window(&wx).await;

    // The reply to "one" leaves with one's token and hangs at the server.
    wx.sim.stall_sends(0);
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "one");
    until("the reply to one hangs", || wx.sim.stalled_sends() == 1).await;
    // Meanwhile the peer writes again: the server now takes only two's token, and the
    // channel has read it.
    let two = wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "two");
    let tokens = accounts_dir(&wx).join(format!("{}.context-tokens.json", wx.account()));
    until("the channel knows two's token", || {
        std::fs::read_to_string(&tokens).is_ok_and(|t| t.contains(&two.context_token))
    })
    .await;

    // The hung send is answered 503 and tried again: with one's token the server refuses it
    // (ret -2), and nothing but two's token is known, so waiting for the peer's next message
    // would hold both replies until the peer writes a third time.
    wx.sim.resume_sends();
    until("both replies", || {
        accepted_to(&wx, &wx.bot.owner).len() == 3
    })
    .await;
    assert_eq!(
        accepted_to(&wx, &wx.bot.owner),
        ["echo: hello", "echo: one", "echo: two"]
    );
    assert!(outbox_ids(&wx).is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_message_cut_by_an_expired_session_waits_for_the_new_login_then_goes_out() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = wx.section_with(DmPolicy::Open, &["*".into()]);
    let running = run(&wx, &section).await;
    open_window(&wx).await;
    running.stop().await;

    wx.sim.expire_token(&wx.bot.bot_id);
    let message = Outbound {
        client_id: Some("late".into()),
        ..Outbound::text("after the login")
    };
    let receipt = wx
        .channel
        .send(&section, &wx.account(), &wx.bot.owner, &message)
        .await
        .expect("kept, not failed");
    assert!(matches!(receipt, Receipt::Queued { .. }), "{receipt:?}");
    assert_eq!(outbox_ids(&wx), ["openclaw-weixin:late"]);

    // The person scans the QR code again; the peer writes nothing more.
    wx.sim.add_bot(wx.bot.clone());
    let running = run(&wx, &section).await;
    until("the message that waited for the login", || {
        accepted_to(&wx, &wx.bot.owner).len() == 2
    })
    .await;
    assert_eq!(
        accepted_to(&wx, &wx.bot.owner),
        ["echo: hello", "after the login"]
    );
    assert!(outbox_ids(&wx).is_empty());
    running.stop().await;
}
