//! The shared channel behaviour, checked against the OpenIM simulator over loopback.

use std::path::Path;
use std::sync::Arc;

use channel_core::conformance::Harness;
use channel_core::{DmPolicy, StateDir};
use imsim::openim::{OpenImOptions, OpenImSim, pb};
use openim::OpenimChannel;
use serde_json::{Value, json};

const BOT: &str = "bot1";

struct Oim {
    sim: OpenImSim,
    token: String,
    channel: Arc<OpenimChannel>,
}

#[async_trait::async_trait]
impl Harness for Oim {
    type Channel = OpenimChannel;

    async fn start(state: &Path) -> Self {
        let sim = OpenImSim::start(OpenImOptions::default()).await.unwrap();
        sim.add_user(BOT);
        for peer in ["alice", "mallory"] {
            sim.add_user(peer);
        }
        let token = sim.issue_token(BOT, 7);
        let channel = Arc::new(OpenimChannel::new(&StateDir::new(state)));
        Self {
            sim,
            token,
            channel,
        }
    }

    fn channel(&self) -> Arc<OpenimChannel> {
        Arc::clone(&self.channel)
    }

    fn account_id(&self) -> String {
        "primary".into()
    }

    fn section(&self, policy: DmPolicy, allow_from: &[String]) -> Value {
        json!({
            "dmPolicy": policy,
            "allowFrom": allow_from,
            "accounts": { "primary": {
                "token": self.token,
                "wsAddr": self.sim.ws_url(),
                "apiAddr": self.sim.api_url(),
            }},
        })
    }

    fn stranger(&self) -> String {
        "mallory".into()
    }

    /// The dedup id: the sender with its `clientMsgID`.
    async fn inject(&self, peer: &str, text: &str) -> String {
        let client_msg_id = self.sim.inject_text(peer, BOT, text).client_msg_id;
        format!("{peer}/{client_msg_id}")
    }

    /// A second stored copy with the same `clientMsgID` (spec §6.3: servers do duplicate).
    async fn redeliver(&self, server_id: &str) {
        let original = self
            .sim
            .messages(&openim::wire::conversation::single("alice", BOT))
            .into_iter()
            .chain(
                self.sim
                    .messages(&openim::wire::conversation::single("mallory", BOT)),
            )
            .find(|m| format!("{}/{}", m.send_id, m.client_msg_id) == server_id)
            .expect("the message to redeliver was injected");
        self.sim.inject_msg(pb::MsgData {
            seq: 0,
            server_msg_id: String::new(),
            ..original
        });
    }

    async fn sent_to(&self, peer: &str) -> Vec<String> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.recv_id == peer && s.err_code == 0 && s.send_id == BOT)
            .filter_map(|s| s.text)
            .collect()
    }

    async fn break_once(&self) {
        self.sim.drop_connections(BOT);
    }

    /// No `tokenRefresh` is configured, so nothing can renew it.
    async fn revoke_login(&self) {
        self.sim.expire_token(&self.token);
        self.sim.drop_connections(BOT);
    }

    async fn kick(&self) -> bool {
        self.sim.kick(BOT);
        true
    }
}

channel_core::channel_conformance_tests!(Oim);
