//! The shared channel behaviour, on the scripted NIM transport.

use std::path::Path;
use std::sync::Arc;

use channel_core::conformance::Harness;
use channel_core::{DmPolicy, StateDir};
use serde_json::{Value, json};
use yunxin::YunxinChannel;
use yunxin::nim::{ConversationId, KickReason, Message};
use yunxin::testing::FakeNim;

const BOT: &str = "bot";
const TOKEN: &str = "bot-token";

struct Nim {
    nim: FakeNim,
    channel: Arc<YunxinChannel>,
}

#[async_trait::async_trait]
impl Harness for Nim {
    type Channel = YunxinChannel;

    async fn start(state: &Path) -> Self {
        let nim = FakeNim::new();
        nim.add_account(BOT, TOKEN);
        let channel = Arc::new(YunxinChannel::with_transports(
            &StateDir::new(state),
            Arc::new(nim.clone()),
        ));
        Self { nim, channel }
    }

    fn channel(&self) -> Arc<YunxinChannel> {
        Arc::clone(&self.channel)
    }

    fn account_id(&self) -> String {
        "default".into()
    }

    fn section(&self, policy: DmPolicy, allow_from: &[String]) -> Value {
        json!({
            "appKey": "app", "accountId": BOT, "token": TOKEN,
            "dmPolicy": policy, "allowFrom": allow_from,
        })
    }

    fn stranger(&self) -> String {
        "mallory".into()
    }

    async fn inject(&self, peer: &str, text: &str) -> String {
        self.nim.inject_text(peer, BOT, text).message_server_id
    }

    /// The same stored message, delivered again (as after a reconnect's sync).
    async fn redeliver(&self, server_id: &str) {
        let msg = Message {
            message_server_id: server_id.to_owned(),
            sender_id: "alice".into(),
            receiver_id: BOT.into(),
            conversation_id: ConversationId::p2p(BOT, "alice").to_string(),
            text: Some("again".into()),
            ..Message::default()
        };
        self.nim.deliver(BOT, msg);
    }

    async fn sent_to(&self, peer: &str) -> Vec<String> {
        let conversation = ConversationId::p2p(BOT, peer).to_string();
        self.nim
            .sent()
            .into_iter()
            .filter(|s| s.conversation_id == conversation)
            .filter_map(|s| s.text().map(str::to_owned))
            .collect()
    }

    async fn break_once(&self) {
        self.nim.break_link(BOT);
    }

    async fn revoke_login(&self) {
        self.nim.add_account(BOT, "a-token-nobody-has");
        self.nim.break_link(BOT);
    }

    async fn kick(&self) -> bool {
        self.nim.kick(BOT, KickReason::ClientExclusive);
        true
    }
}

channel_core::channel_conformance_tests!(Nim);
