//! QR login against the simulator: every state of the status machine, saving in Tencent's
//! layout, and the logged-in account working right away.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::testing::StandaloneHost;
use channel_core::{AnyChannel, CancellationToken, ChannelError, LoginUi, StateDir};
use imsim::ilink::{IlinkOptions, IlinkSim, QrScript};
use weixin::WeixinChannel;
use weixin::store::Store;

/// A person at a terminal: records what was shown, answers prompts from a script.
#[derive(Default)]
struct Person {
    shown: Mutex<Vec<String>>,
    answers: Mutex<Vec<String>>,
}

impl Person {
    fn answering(answers: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(answers.iter().rev().map(|a| a.to_string()).collect()),
            ..Self::default()
        })
    }

    fn qr_count(&self) -> usize {
        self.shown
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.starts_with("QR "))
            .count()
    }
}

#[async_trait::async_trait]
impl LoginUi for Person {
    async fn show_qr(&self, url: &str) {
        self.shown.lock().expect("lock").push(format!("QR {url}"));
    }

    async fn status(&self, text: &str) {
        self.shown.lock().expect("lock").push(text.to_owned());
    }

    async fn prompt(&self, question: &str) -> Result<String, ChannelError> {
        self.shown
            .lock()
            .expect("lock")
            .push(format!("? {question}"));
        Ok(self.answers.lock().expect("lock").pop().unwrap_or_default())
    }
}

struct Setup {
    sim: IlinkSim,
    channel: Arc<WeixinChannel>,
    store: Store,
    _state: tempfile::TempDir,
}

async fn setup(script: QrScript) -> Setup {
    let state = tempfile::tempdir().expect("tempdir");
    let sim = IlinkSim::start(IlinkOptions {
        qr_hold: Duration::from_millis(200),
        ..common::fast_options()
    })
    .await
    .expect("sim");
    sim.qr_script(script);
    let dir = StateDir::new(state.path());
    let store = Store::new(dir.channel(weixin::CHANNEL_ID));
    Setup {
        channel: Arc::new(WeixinChannel::new(&dir)),
        sim,
        store,
        _state: state,
    }
}

impl Setup {
    fn section(&self) -> serde_json::Value {
        serde_json::json!({ "loginBaseUrl": self.sim.base_url() })
    }

    async fn login(&self, person: Arc<Person>) -> Result<channel_core::LoginResult, ChannelError> {
        self.login_as(person, None).await
    }

    /// A login for the account the host names (`openclaw channels login --account`).
    async fn login_as(
        &self,
        person: Arc<Person>,
        account: Option<&str>,
    ) -> Result<channel_core::LoginResult, ChannelError> {
        let section = self.section();
        let run = self
            .channel
            .login(&section, account, person, CancellationToken::new());
        tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("login finishes")
    }
}

#[tokio::test]
async fn a_confirmed_scan_saves_the_account_in_tencents_layout_and_it_works() {
    let s = setup(QrScript::Confirm).await;
    let person = Person::answering(&[]);
    let result = s.login(person.clone()).await.expect("login");
    assert!(result.changed);
    let id = result.account_id.expect("account id");
    assert_eq!(person.qr_count(), 1);
    let shown = person.shown.lock().expect("lock").clone();
    assert!(
        shown[0].starts_with("QR http://127.0.0.1:") && shown[0].contains("bot_type=3"),
        "{shown:?}"
    );

    let sessions = s.sim.qr_sessions();
    let bot = sessions[0].bot.clone().expect("bound bot");
    assert_eq!(sessions[0].method, "POST");
    assert_eq!(id, weixin::store::normalize_account_id(&bot.bot_id));
    assert_eq!(s.store.account_ids().expect("ids"), vec![id.clone()]);
    let file = s.store.load_account(&id).expect("read").expect("saved");
    assert_eq!(file.token, bot.token);
    assert_eq!(file.user_id.as_deref(), Some(bot.owner.as_str()));

    // The new account runs, and its owner is answered without any allowFrom.
    let section = serde_json::json!({ "dmPolicy": "pairing" });
    let host = Arc::new(StandaloneHost::default());
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let (channel, host, cancel, id) = (
            Arc::clone(&s.channel),
            Arc::clone(&host),
            cancel.clone(),
            id.clone(),
        );
        async move { channel.run(&section, &id, host, cancel).await }
    });
    s.sim.inject_text(&bot.bot_id, &bot.owner, "first message");
    let sent = s
        .sim
        .wait_sent(&bot.bot_id, 1, Duration::from_secs(15))
        .await;
    assert_eq!(
        sent.first().and_then(|m| m.text.clone()).as_deref(),
        Some("echo: first message")
    );
    cancel.cancel();
    task.await.expect("join").expect("clean stop");
}

#[tokio::test]
async fn expired_codes_are_replaced_but_at_most_three_are_shown() {
    let s = setup(QrScript::ExpireThenConfirm).await;
    let person = Person::answering(&[]);
    s.login(person.clone()).await.expect("second code confirms");
    assert_eq!(person.qr_count(), 2);

    let s = setup(QrScript::AlwaysExpire).await;
    let person = Person::answering(&[]);
    let err = s.login(person.clone()).await.expect_err("gives up");
    assert!(err.message.contains("3 QR codes expired"), "{err}");
    assert_eq!(person.qr_count(), 3);
    assert_eq!(s.sim.qr_sessions().len(), 3, "no fourth code was requested");
}

#[tokio::test]
async fn verify_codes_are_asked_for_and_retried() {
    let s = setup(QrScript::VerifyCode {
        code: "4321".into(),
        max_wrong: 3,
    })
    .await;
    let person = Person::answering(&["1111", "4321"]);
    s.login(person.clone())
        .await
        .expect("login with the right code");
    let shown = person.shown.lock().expect("lock").clone();
    let questions: Vec<_> = shown.iter().filter(|l| l.starts_with("? ")).collect();
    assert_eq!(questions.len(), 2, "{shown:?}");
    assert!(questions[1].contains("did not match"), "{questions:?}");

    // Too many wrong codes: this QR code is blocked and a new one shown.
    let s = setup(QrScript::VerifyCode {
        code: "4321".into(),
        max_wrong: 1,
    })
    .await;
    let person = Person::answering(&["0000", "4321"]);
    let _ = s.login(person.clone()).await;
    assert!(
        person.qr_count() >= 2,
        "a blocked code is replaced: {:?}",
        person.shown.lock().expect("lock")
    );
}

#[tokio::test]
async fn an_empty_verify_code_ends_the_login_with_a_reason() {
    let s = setup(QrScript::VerifyCode {
        code: "4321".into(),
        max_wrong: 3,
    })
    .await;
    let err = s
        .login(Person::answering(&[""]))
        .await
        .expect_err("no code");
    assert!(err.message.contains("no verify code"), "{err}");
}

#[tokio::test]
async fn a_redirect_moves_the_polls_to_the_named_host() {
    let s = setup(QrScript::Redirect).await;
    s.login(Person::answering(&[])).await.expect("login");
    let session = s.sim.qr_sessions().pop().expect("session");
    let hosts: Vec<String> = session.polls.iter().map(|p| p.host.clone()).collect();
    let redirect = s.sim.qr_redirect_host();
    assert!(
        hosts.last().is_some_and(|h| *h == redirect),
        "last poll went to {hosts:?}, not {redirect}"
    );
    assert!(hosts.first().is_some_and(|h| *h != redirect));
}

#[tokio::test]
async fn already_bound_is_success_without_a_new_account() {
    let s = setup(QrScript::AlreadyBound).await;
    let result = s.login(Person::answering(&[])).await.expect("login");
    assert!(!result.changed);
    assert!(result.account_id.is_none());
    assert!(s.store.account_ids().expect("ids").is_empty());
}

#[tokio::test]
async fn a_second_login_by_the_same_user_replaces_the_bot_under_the_same_account() {
    let s = setup(QrScript::Confirm).await;
    s.sim
        .set_qr_owner(Some("o9cq80SameUserAbCdEfGhIjKlMn@im.wechat"));
    let first = s
        .login(Person::answering(&[]))
        .await
        .expect("first")
        .account_id
        .expect("id");
    let first_bot = s.sim.qr_sessions()[0].bot.clone().expect("bot");
    assert_eq!(
        first,
        weixin::store::normalize_account_id(&first_bot.bot_id)
    );
    s.store
        .save_cursor(&first, "OLD-BOT-CURSOR")
        .expect("cursor");
    s.store
        .record_context_token(&first, "peer@im.wechat", "old-bot-token")
        .expect("token");
    // While the first bot's token is valid the server answers "already bound"; once it expired
    // (the usual reason to log in again) the scan binds a new bot.
    let again = s
        .login(Person::answering(&[]))
        .await
        .expect("already bound");
    assert!(!again.changed && again.account_id.is_none());
    s.sim.expire_token(&first_bot.bot_id);
    let second = s
        .login(Person::answering(&[]))
        .await
        .expect("second")
        .account_id
        .expect("id");
    let second_bot = s.sim.qr_sessions()[2].bot.clone().expect("bot");
    assert_ne!(first_bot.bot_id, second_bot.bot_id);
    assert_eq!(
        second, first,
        "the account keeps its name and its config overrides"
    );
    assert_eq!(s.store.account_ids().expect("ids"), vec![first.clone()]);
    let file = s.store.load_account(&first).expect("read").expect("saved");
    assert_eq!(file.token, second_bot.token);
    assert_eq!(file.bot_id.as_deref(), Some(second_bot.bot_id.as_str()));
    // What the old bot's session knew is no use to the new bot.
    assert_eq!(s.store.load_cursor(&first).expect("cursor"), "");
    assert!(
        s.store
            .context_token(&first, "peer@im.wechat")
            .expect("tokens")
            .is_none()
    );
    // The stored token was sent along so the server could see who is asking.
    assert_eq!(
        s.sim.qr_sessions()[1].local_tokens,
        vec![first_bot.token.clone()]
    );

    // A different user's login keeps both.
    s.sim.set_qr_owner(None);
    let third = s
        .login(Person::answering(&[]))
        .await
        .expect("third")
        .account_id
        .expect("id");
    assert_eq!(s.store.account_ids().expect("ids"), vec![first, third]);
}

#[tokio::test]
async fn the_login_goes_to_the_account_the_host_names_unless_another_user_holds_it() {
    let s = setup(QrScript::Confirm).await;
    s.sim
        .set_qr_owner(Some("o9cq80AliceAbCdEfGhIjKlMn@im.wechat"));
    // The CLI's default when no account exists yet.
    let first = s
        .login_as(Person::answering(&[]), Some("default"))
        .await
        .expect("first");
    assert_eq!(first.account_id.as_deref(), Some("default"));
    assert!(first.message.contains("default"), "{}", first.message);
    let alice_bot = s.sim.qr_sessions()[0].bot.clone().expect("bot");
    let file = s
        .store
        .load_account("default")
        .expect("read")
        .expect("saved");
    assert_eq!(file.bot_id.as_deref(), Some(alice_bot.bot_id.as_str()));

    // Bob's scan, with the CLI naming the first account (its default once one exists): it
    // must not take over Alice's account, and says so.
    s.sim
        .set_qr_owner(Some("o9cq80BobAbCdEfGhIjKlMnOp@im.wechat"));
    let bob = s
        .login_as(Person::answering(&[]), Some("default"))
        .await
        .expect("bob");
    let bob_bot = s.sim.qr_sessions()[1].bot.clone().expect("bot");
    let bob_id = bob.account_id.clone().expect("id");
    assert_eq!(bob_id, weixin::store::normalize_account_id(&bob_bot.bot_id));
    assert!(
        bob.message.contains("default") && bob.message.contains(&format!("--account {bob_id}")),
        "{}",
        bob.message
    );
    let alice = s
        .store
        .load_account("default")
        .expect("read")
        .expect("kept");
    assert_eq!(alice.token, alice_bot.token, "Alice's account is untouched");

    // Bob's next login names a free account: his bot goes there, and his previous account
    // goes away (one account per WeChat user).
    s.sim.expire_token(&bob_bot.bot_id);
    let renamed = s
        .login_as(Person::answering(&[]), Some("Bob's Phone"))
        .await
        .expect("renamed");
    assert_eq!(renamed.account_id.as_deref(), Some("bob-s-phone"));
    assert_eq!(
        s.store.account_ids().expect("ids"),
        vec!["default".to_owned(), "bob-s-phone".to_owned()],
        "Bob's previous bot went with the new login"
    );
}

#[tokio::test]
async fn logout_forgets_the_account() {
    let s = setup(QrScript::Confirm).await;
    let id = s
        .login(Person::answering(&[]))
        .await
        .expect("login")
        .account_id
        .expect("id");
    assert!(s.channel.logout(&s.section(), &id).await.expect("logout"));
    assert!(s.store.account_ids().expect("ids").is_empty());
    assert!(!s.channel.logout(&s.section(), &id).await.expect("again"));
    // A running account of it would now need a new login.
    let view = s
        .channel
        .describe(&serde_json::json!({}), &id)
        .expect("describe");
    assert!(!view.configured);
}

#[tokio::test]
async fn a_login_server_out_of_reach_is_named_in_the_error() {
    let s = setup(QrScript::Confirm).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let section = serde_json::json!({ "loginBaseUrl": format!("http://127.0.0.1:{port}") });
    let run = s.channel.login(
        &section,
        None,
        Person::answering(&[]),
        CancellationToken::new(),
    );
    let err = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("login finishes")
        .expect_err("nothing listens");
    assert!(
        err.message
            .contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{err}"
    );
}
