//! iLink-specific behaviour against the simulator: headers and frames, context tokens, faults,
//! session expiry, cursor persistence and targets.

mod common;

use std::sync::Arc;
use std::time::Duration;

use channel_core::conformance::Running;
use channel_core::testing::StandaloneHost;
use channel_core::{
    AccountPhase, AnyChannel, CancellationToken, DmPolicy, ErrorKind, Outbound, Receipt,
};
use common::{Wx, fast_options};
use imsim::ilink::{ExpiryVariant, Fault, IlinkOptions};

const WAIT: Duration = Duration::from_secs(15);

async fn owner_session(wx: &Wx) -> Running {
    Running::start(
        wx,
        Arc::new(StandaloneHost::default()),
        wx.section_with(DmPolicy::Pairing, &[]),
    )
    .await
}

#[tokio::test]
async fn replies_carry_the_inbound_context_token_and_exact_headers() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    // The binding owner is allowed under the default pairing policy.
    let running = owner_session(&wx).await;
    let injected = wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "ping");
    let sent = wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await;
    assert_eq!(sent.len(), 1, "one reply");
    let reply = &sent[0];
    assert_eq!(reply.text.as_deref(), Some("echo: ping"));
    assert_eq!(
        reply.context_token.as_deref(),
        Some(injected.context_token.as_str())
    );
    assert_eq!(
        reply.to_user_id, wx.bot.owner,
        "mixed-case id is byte-exact on the wire"
    );
    assert_eq!(reply.headers["ilink-app-id"], "bot");
    assert_eq!(reply.headers["ilink-app-clientversion"], "132105");
    assert_eq!(reply.headers["authorizationtype"], "ilink_bot_token");
    assert_eq!(
        reply.headers["authorization"],
        format!("Bearer {}", wx.bot.token)
    );
    insta::assert_json_snapshot!("sendmessage_text_frame", reply.body, {
        ".msg.client_id" => "[client_id]",
        ".msg.context_token" => "[context_token]",
        ".msg.to_user_id" => "[peer]",
    });
    let poll = wx
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/getupdates"))
        .and_then(|r| r.body)
        .expect("a getupdates body");
    insta::assert_json_snapshot!("getupdates_frame", poll, { ".get_updates_buf" => "[cursor]" });
    assert!(wx.sim.online(&wx.bot.bot_id), "notifystart was sent");
    // "typing…" went up while the agent worked and came down after.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !wx.sim.typing(&wx.bot.bot_id).iter().any(|(_, s)| *s == 2)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let typing = wx.sim.typing(&wx.bot.bot_id);
    assert_eq!(
        typing.first(),
        Some(&(wx.bot.owner.clone(), 1)),
        "{typing:?}"
    );
    assert_eq!(
        typing.last(),
        Some(&(wx.bot.owner.clone(), 2)),
        "{typing:?}"
    );
    running.stop().await;
    assert!(
        !wx.sim.online(&wx.bot.bot_id),
        "notifystop was sent on stop"
    );
}

#[tokio::test]
async fn bad_getupdates_answers_are_classified_retried_and_survived() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let host = Arc::new(StandaloneHost::default());
    let running = Running::start(
        &wx,
        Arc::clone(&host),
        wx.section_with(DmPolicy::Pairing, &[]),
    )
    .await;
    let cases = [
        (Fault::MalformedBody, "getupdates: malformed response at `"),
        (Fault::NonJson200, "getupdates: response is not JSON"),
        (Fault::EmptyBody200, "getupdates: empty response body"),
        (Fault::HttpStatus(503), "getupdates: HTTP 503"),
    ];
    for (n, (fault, expected)) in cases.into_iter().enumerate() {
        wx.sim.fault(&wx.bot.bot_id, fault.clone());
        wx.sim
            .inject_text(&wx.bot.bot_id, &wx.bot.owner, &format!("after fault {n}"));
        assert!(
            host.wait_for(WAIT, |h| h.turns().len() == n + 1).await,
            "{fault:?}: message lost"
        );
        let errors: Vec<String> = host
            .statuses()
            .into_iter()
            .filter(|(_, p)| p.lifecycle == Some(AccountPhase::Recovering))
            .filter_map(|(_, p)| p.last_error.flatten())
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.contains(expected) && e.starts_with("transient")),
            "{fault:?}: {errors:?}"
        );
    }
    let texts: Vec<_> = host.turns().into_iter().map(|t| t.inbound.text).collect();
    assert_eq!(
        texts,
        [
            "after fault 0",
            "after fault 1",
            "after fault 2",
            "after fault 3"
        ]
    );
    running.stop().await;
}

#[tokio::test]
async fn one_stale_answer_is_rechecked_but_a_dead_session_needs_login() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let host = Arc::new(StandaloneHost::default());
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (channel, host, cancel) = (Arc::clone(&wx.channel), Arc::clone(&host), cancel.clone());
        let (section, account) = (wx.section_with(DmPolicy::Pairing, &[]), wx.account());
        async move { channel.run(&section, &account, host, cancel).await }
    });
    let account = wx.account();
    assert!(host.wait_for(WAIT, |h| h.is_connected(&account)).await);

    // A single -14 (any shape) is re-checked and the account carries on.
    wx.sim.fault(
        &wx.bot.bot_id,
        Fault::SessionExpired(ExpiryVariant::RetOnly),
    );
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "still alive");
    assert!(
        host.wait_for(WAIT, |h| h.turns().len() == 1).await,
        "account stopped on one stale answer"
    );
    assert!(!task.is_finished());

    // A revoked token stays -14: the account stops and says a login is needed.
    wx.sim.expire_token(&wx.bot.bot_id);
    let result = tokio::time::timeout(WAIT, task)
        .await
        .expect("account stops")
        .expect("join");
    let err = result.expect_err("needs login");
    assert_eq!(err.kind, ErrorKind::NeedsLogin);
    assert!(
        err.message
            .contains("openclaw channels login --channel openclaw-weixin"),
        "{err}"
    );
    let (_, last) = host.statuses().pop().expect("a status");
    assert_eq!(last.needs_login, Some(true));
    assert_eq!(last.lifecycle, Some(AccountPhase::Blocked));
    assert!(last.last_error.flatten().is_some_and(|e| e.contains("-14")));
}

#[tokio::test]
async fn the_cursor_alone_prevents_replays_after_restart() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let first = owner_session(&wx).await;
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "before restart");
    assert!(first.host.wait_for(WAIT, |h| h.turns().len() == 1).await);
    first.stop().await;
    let sync = state.path().join(format!(
        "openclaw-weixin/accounts/{}.sync.json",
        wx.account()
    ));
    let cursor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sync).expect("cursor file")).expect("json");
    assert!(
        cursor["get_updates_buf"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{cursor}"
    );

    // Without the dedup journal, only the saved cursor can keep the old message away.
    std::fs::remove_dir_all(state.path().join("openclaw-weixin/dedup")).expect("remove journal");
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "while down");
    let second = owner_session(&wx).await;
    assert!(second.host.wait_for(WAIT, |h| !h.turns().is_empty()).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let texts: Vec<_> = second
        .host
        .turns()
        .into_iter()
        .map(|t| t.inbound.text)
        .collect();
    assert_eq!(texts, ["while down"], "nothing replayed, nothing lost");
    second.stop().await;
}

#[tokio::test]
async fn targets_match_case_insensitively_and_unknown_ones_are_refused() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = owner_session(&wx).await;
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "hello");
    wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await;
    let section = wx.section_with(DmPolicy::Pairing, &[]);
    for typed in [
        wx.bot.owner.to_lowercase(),
        format!("user:{}", wx.bot.owner.to_uppercase()),
        format!("openclaw-weixin:{}", wx.bot.owner),
    ] {
        wx.channel
            .send(&section, &wx.account(), &typed, &Outbound::text("hi"))
            .await
            .expect("send");
    }
    let sent = wx.sim.wait_sent(&wx.bot.bot_id, 4, WAIT).await;
    assert_eq!(sent.len(), 4);
    assert!(
        sent.iter().all(|s| s.to_user_id == wx.bot.owner),
        "wire ids keep their case"
    );

    let err = wx
        .channel
        .send(
            &section,
            &wx.account(),
            "nobody@im.wechat",
            &Outbound::text("hi"),
        )
        .await
        .expect_err("unknown peer");
    assert_eq!(err.kind, ErrorKind::BadInput);
    assert!(
        err.message
            .contains("no conversation with nobody@im.wechat"),
        "{err}"
    );
    running.stop().await;
}

#[tokio::test]
async fn sends_beyond_the_window_are_queued_then_delivered_when_the_peer_writes() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = owner_session(&wx).await;
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "hello");
    wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await;
    let section = wx.section_with(DmPolicy::Pairing, &[]);
    let send = |text: String| {
        let (channel, section, account, owner) = (
            Arc::clone(&wx.channel),
            section.clone(),
            wx.account(),
            wx.bot.owner.clone(),
        );
        async move {
            channel
                .send(&section, &account, &owner, &Outbound::text(text))
                .await
        }
    };
    // The reply used one of ten sends in the window; nine more go out.
    for n in 0..9 {
        let receipt = send(format!("n{n}")).await.expect("send");
        assert!(matches!(receipt, Receipt::Sent { .. }), "{receipt:?}");
    }
    let receipt = send("eleventh".into()).await.expect("queued, not failed");
    let Receipt::Queued { reason, .. } = receipt else {
        panic!("not queued: {receipt:?}")
    };
    assert!(reason.contains("10 messages"), "{reason}");
    assert!(
        wx.sim
            .sent(&wx.bot.bot_id)
            .iter()
            .all(|s| s.text.as_deref() != Some("eleventh")),
        "nothing was attempted"
    );

    // The peer writes: the queued message goes out first, then the reply.
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "I'm back");
    let sent = wx.sim.wait_sent(&wx.bot.bot_id, 12, WAIT).await;
    let texts: Vec<_> = sent
        .iter()
        .skip(10)
        .filter_map(|s| s.text.clone())
        .collect();
    assert_eq!(texts, ["eleventh", "echo: I'm back"]);
    running.stop().await;
}

#[tokio::test]
async fn a_server_refusal_queues_instead_of_failing() {
    let state = tempfile::tempdir().expect("tempdir");
    // The server's window is smaller than ours: it refuses first.
    let options = IlinkOptions {
        window_max_sends: 2,
        ..fast_options()
    };
    let wx = Wx::with(state.path(), options).await;
    let running = owner_session(&wx).await;
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "hello");
    wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await;
    let section = wx.section_with(DmPolicy::Pairing, &[]);
    let ok = wx
        .channel
        .send(
            &section,
            &wx.account(),
            &wx.bot.owner,
            &Outbound::text("second"),
        )
        .await
        .expect("send");
    assert!(matches!(ok, Receipt::Sent { .. }));
    let refused = wx
        .channel
        .send(
            &section,
            &wx.account(),
            &wx.bot.owner,
            &Outbound::text("third"),
        )
        .await
        .expect("send");
    let Receipt::Queued { reason, .. } = refused else {
        panic!("not queued: {refused:?}")
    };
    assert!(reason.contains("ret -2"), "{reason}");
    // Known closed now: the next one is queued without asking the server.
    let before = wx.sim.sent(&wx.bot.bot_id).len();
    let again = wx
        .channel
        .send(
            &section,
            &wx.account(),
            &wx.bot.owner,
            &Outbound::text("fourth"),
        )
        .await
        .expect("send");
    assert!(matches!(again, Receipt::Queued { .. }));
    assert_eq!(wx.sim.sent(&wx.bot.bot_id).len(), before);
    running.stop().await;
}

#[tokio::test]
async fn long_replies_arrive_whole_in_order_in_chunks() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let long: String = (0..100)
        .map(|n| format!("P{n:04} {}\n\n", "x".repeat(94)))
        .collect();
    let reply = long.clone();
    let host = Arc::new(StandaloneHost::new(move |_| vec![reply.clone()]));
    let running = Running::start(&wx, host, wx.section_with(DmPolicy::Pairing, &[])).await;
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "write me a lot");
    let pieces = channel_core::text::chunks(&long, weixin::text::DEFAULT_CHUNK_CHARS).len();
    assert!(pieces > 1);
    let sent = wx.sim.wait_sent(&wx.bot.bot_id, pieces, WAIT).await;
    assert_eq!(
        sent.len(),
        pieces,
        "10,000 characters in 2,000-character pieces"
    );
    assert!(
        sent.iter()
            .all(|s| s.text.as_ref().is_some_and(|t| t.chars().count() <= 2000))
    );
    let joined = sent
        .iter()
        .filter_map(|s| s.text.clone())
        .collect::<Vec<_>>()
        .join("\n\n");
    let whole = joined.split_whitespace().eq(long.split_whitespace());
    assert!(
        whole,
        "the pieces, in order, are the whole reply ({} vs {} chars)",
        joined.len(),
        long.len()
    );
    let ids: Vec<&str> = sent.iter().map(|s| s.client_id.as_str()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] != w[1]),
        "each piece has its own wire id"
    );
    running.stop().await;
}

#[tokio::test]
async fn config_errors_name_the_field() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let section = serde_json::json!({"accounts": {wx.account(): {"baseUrl": "not a url"}}});
    let err = wx.channel.describe(&section, &wx.account());
    let view = err.expect("describe works, the account is just unusable");
    assert!(!view.configured);
    let reason = view.unconfigured_reason.expect("reason");
    assert!(
        reason.contains(&format!(
            "channels.openclaw-weixin.accounts.{}.baseUrl",
            wx.account()
        )),
        "{reason}"
    );
    // A bad channel-level key: the account is still listed, and shows the error.
    let bad = serde_json::json!({"dmPolicy": 7});
    assert_eq!(wx.channel.account_ids(&bad).expect("ids"), [wx.account()]);
    let view = wx.channel.describe(&bad, &wx.account()).expect("describe");
    assert!(!view.configured);
    let reason = view.unconfigured_reason.expect("reason");
    assert!(
        reason.contains("channels.openclaw-weixin.dmPolicy"),
        "{reason}"
    );
}

#[tokio::test]
async fn accounts_run_side_by_side_and_a_new_login_leaves_the_others_alone() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    // A second bot of another WeChat user, logged in next to the first.
    let second = imsim::ilink::IlinkSim::new_bot();
    wx.sim.add_bot(second.clone());
    let store = weixin::store::Store::new(state.path().join(weixin::CHANNEL_ID));
    let second_id = weixin::store::normalize_account_id(&second.bot_id);
    let file = weixin::store::AccountFile {
        token: second.token.clone(),
        saved_at: None,
        base_url: Some(wx.sim.base_url()),
        user_id: Some(second.owner.clone()),
        bot_id: Some(second.bot_id.clone()),
    };
    store
        .save_account(&second_id, &file)
        .expect("second account");
    assert_eq!(
        wx.channel.account_ids(&serde_json::json!({})).expect("ids"),
        vec![wx.account(), second_id.clone()]
    );

    let host = Arc::new(StandaloneHost::default());
    let section = serde_json::json!({ "dmPolicy": "pairing" });
    let cancel = CancellationToken::new();
    let run = |account: String| {
        let (channel, host, cancel, section) = (
            Arc::clone(&wx.channel),
            Arc::clone(&host),
            cancel.clone(),
            section.clone(),
        );
        tokio::spawn(async move { channel.run(&section, &account, host, cancel).await })
    };
    let first_task = run(wx.account());
    let second_task = run(second_id.clone());
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "to the first");
    wx.sim
        .inject_text(&second.bot_id, &second.owner, "to the second");
    assert_eq!(
        wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await[0]
            .text
            .as_deref(),
        Some("echo: to the first")
    );
    assert_eq!(
        wx.sim.wait_sent(&second.bot_id, 1, WAIT).await[0]
            .text
            .as_deref(),
        Some("echo: to the second")
    );

    // The second account's session dies; the first one keeps answering.
    wx.sim.expire_token(&second.bot_id);
    let stopped = tokio::time::timeout(WAIT, second_task)
        .await
        .expect("second stops")
        .expect("join");
    assert_eq!(
        stopped.expect_err("needs login").kind,
        ErrorKind::NeedsLogin
    );
    wx.sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "still here?");
    assert_eq!(
        wx.sim.wait_sent(&wx.bot.bot_id, 2, WAIT).await[1]
            .text
            .as_deref(),
        Some("echo: still here?")
    );
    assert!(!first_task.is_finished());
    cancel.cancel();
    first_task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn a_retried_send_with_the_same_id_is_not_sent_or_queued_twice() {
    let state = tempfile::tempdir().expect("tempdir");
    let options = IlinkOptions {
        window_max_sends: 2,
        ..fast_options()
    };
    let wx = Wx::with(state.path(), options).await;
    let running = owner_session(&wx).await;
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "hello");
    wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await;
    let section = wx.section_with(DmPolicy::Pairing, &[]);
    let named = |id: &str, text: &str| Outbound {
        client_id: Some(id.into()),
        ..Outbound::text(text)
    };
    let send = |message: Outbound| {
        let (channel, section, account, owner) = (
            Arc::clone(&wx.channel),
            section.clone(),
            wx.account(),
            wx.bot.owner.clone(),
        );
        async move {
            channel
                .send(&section, &account, &owner, &message)
                .await
                .expect("send")
        }
    };
    assert!(matches!(
        send(named("host-1", "once")).await,
        Receipt::Sent { .. }
    ));
    assert!(
        matches!(send(named("host-1", "once")).await, Receipt::Sent { .. }),
        "a retry reports the first outcome"
    );
    let copies = wx
        .sim
        .sent(&wx.bot.bot_id)
        .iter()
        .filter(|s| s.text.as_deref() == Some("once"))
        .count();
    assert_eq!(copies, 1, "sent once");

    // The server's window (2) is now used up: queued, and a retry does not queue a second copy.
    let first = send(named("host-2", "later")).await;
    let again = send(named("host-2", "later")).await;
    assert!(
        matches!(
            (&first, &again),
            (Receipt::Queued { .. }, Receipt::Queued { .. })
        ),
        "{first:?} {again:?}"
    );
    assert_eq!(first.message_id(), again.message_id());
    wx.sim.inject_text(&wx.bot.bot_id, &wx.bot.owner, "back");
    wx.sim.wait_sent(&wx.bot.bot_id, 4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = wx
        .sim
        .sent(&wx.bot.bot_id)
        .iter()
        .filter(|s| s.accepted && s.text.as_deref() == Some("later"))
        .count();
    assert_eq!(later, 1, "the queued message went out once");
    // And once delivered, a late retry is not sent again.
    assert!(matches!(
        send(named("host-2", "later")).await,
        Receipt::Sent { .. }
    ));
    let later = wx
        .sim
        .sent(&wx.bot.bot_id)
        .iter()
        .filter(|s| s.text.as_deref() == Some("later"))
        .count();
    assert_eq!(
        later, 2,
        "the one refusal that closed the window, and the one delivery"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_quote_by_bare_id_gets_the_quoted_text_back() {
    let state = tempfile::tempdir().expect("tempdir");
    let wx = Wx::with(state.path(), fast_options()).await;
    let running = owner_session(&wx).await;
    let first = wx
        .sim
        .inject_text(&wx.bot.bot_id, &wx.bot.owner, "what is the plan?");
    let reply = wx.sim.wait_sent(&wx.bot.bot_id, 1, WAIT).await.remove(0);
    let quote = |svr_id: u64, text: &str| {
        serde_json::json!({"from_user_id": wx.bot.owner, "message_type": 1, "item_list": [
            {"type": 1, "text_item": {"text": text}, "ref_msg": {"svr_id": svr_id}}]})
    };
    // Quoting the bot's reply, then the user's own earlier message, each by id only.
    wx.sim.inject_message(
        &wx.bot.bot_id,
        quote(reply.message_id.expect("server id"), "about this"),
    );
    wx.sim
        .inject_message(&wx.bot.bot_id, quote(first.message_id, "and this"));
    assert!(running.host.wait_for(WAIT, |h| h.turns().len() == 3).await);
    let turns = running.host.turns();
    let body = |n: usize| turns[n].inbound.reply_to.clone().and_then(|r| r.body);
    assert_eq!(body(1).as_deref(), Some("echo: what is the plan?"));
    assert_eq!(body(2).as_deref(), Some("what is the plan?"));
    assert_eq!(turns[1].context["ReplyToBody"], "echo: what is the plan?");
    running.stop().await;
}
