//! A WeChat account wired to the iLink simulator, logged in by writing its state file the way
//! Tencent's plugin does after a QR login.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use channel_core::conformance::Harness;
use channel_core::{DmPolicy, StateDir};
use imsim::ilink::{Bot, Fault, IlinkOptions, IlinkSim};
use weixin::WeixinChannel;
use weixin::store::{AccountFile, Store, normalize_account_id};

pub struct Wx {
    pub sim: IlinkSim,
    pub bot: Bot,
    pub state: PathBuf,
    pub channel: Arc<WeixinChannel>,
}

/// Short server holds keep tests quick; the client follows the server's hint.
pub fn fast_options() -> IlinkOptions {
    IlinkOptions {
        hold: Duration::from_millis(300),
        longpolling_timeout_ms: 2_000,
        ..IlinkOptions::default()
    }
}

impl Wx {
    pub async fn with(state: &Path, options: IlinkOptions) -> Self {
        let sim = IlinkSim::start(options).await.expect("start simulator");
        let bot = IlinkSim::new_bot();
        sim.add_bot(bot.clone());
        let state_dir = StateDir::new(state);
        let store = Store::new(state_dir.channel(weixin::CHANNEL_ID));
        let file = AccountFile {
            token: bot.token.clone(),
            saved_at: Some("2026-11-22T00:00:00.000Z".into()),
            base_url: Some(sim.base_url()),
            user_id: Some(bot.owner.clone()),
            bot_id: Some(bot.bot_id.clone()),
        };
        store
            .save_account(&normalize_account_id(&bot.bot_id), &file)
            .expect("write account state");
        Self {
            channel: Arc::new(WeixinChannel::new(&state_dir)),
            sim,
            bot,
            state: state.to_path_buf(),
        }
    }

    pub fn account(&self) -> String {
        normalize_account_id(&self.bot.bot_id)
    }

    pub fn section_with(&self, policy: DmPolicy, allow_from: &[String]) -> serde_json::Value {
        serde_json::json!({
            "dmPolicy": policy,
            "allowFrom": allow_from,
            "accounts": { self.account(): { "baseUrl": self.sim.base_url() } },
        })
    }

    pub fn new_peer() -> String {
        IlinkSim::new_bot().owner
    }
}

#[async_trait::async_trait]
impl Harness for Wx {
    type Channel = WeixinChannel;

    async fn start(state: &Path) -> Self {
        Self::with(state, fast_options()).await
    }

    fn channel(&self) -> Arc<WeixinChannel> {
        Arc::clone(&self.channel)
    }

    fn account_id(&self) -> String {
        self.account()
    }

    fn section(&self, policy: DmPolicy, allow_from: &[String]) -> serde_json::Value {
        self.section_with(policy, allow_from)
    }

    fn stranger(&self) -> String {
        Self::new_peer()
    }

    async fn inject(&self, peer: &str, text: &str) -> String {
        self.sim
            .inject_text(&self.bot.bot_id, peer, text)
            .message_id
            .to_string()
    }

    async fn redeliver(&self, server_id: &str) {
        let id = server_id.parse().expect("numeric message id");
        assert!(
            self.sim.redeliver(&self.bot.bot_id, id),
            "simulator knows message {id}"
        );
    }

    async fn sent_to(&self, peer: &str) -> Vec<String> {
        self.sim
            .sent(&self.bot.bot_id)
            .into_iter()
            .filter(|s| s.accepted && s.to_user_id == peer)
            .filter_map(|s| s.text)
            .collect()
    }

    async fn break_once(&self) {
        self.sim.fault(&self.bot.bot_id, Fault::HttpStatus(502));
    }

    async fn revoke_login(&self) {
        self.sim.expire_token(&self.bot.bot_id);
    }
}
