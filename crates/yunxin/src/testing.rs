//! [`FakeNim`]: a scripted NIM for tests, behind the same [`NimTransport`] the real transports
//! implement. It knows accounts and tokens, delivers injected messages to logged-in accounts
//! (and keeps them for offline ones, as the server does), records sends, refuses a reused
//! `messageClientId` as the JS SDK does (191004), and can fail logins and sends, kick, and
//! break the link.
//!
//! ```
//! # async fn demo() {
//! use yunxin::testing::FakeNim;
//! let nim = FakeNim::new();
//! nim.add_account("bot", "token");
//! // A channel built with `YunxinChannel::with_transports(state, Arc::new(nim.clone()))`
//! // logs in against it; then:
//! nim.inject_text("alice", "bot", "hello");
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use channel_core::{ChannelError, Host, lock};
use tokio::sync::mpsc;

use crate::channel::Transports;
use crate::config::AccountSettings;
use crate::nim::{
    ConnectStatus, ConversationId, ConversationType, KickReason, Kicked, Login, LoginStatus,
    Mention, Message, MessageType, NimError, NimEvent, NimTransport, Opened, ReadReceipt, SendBody,
    SendRequest, Sent,
};

/// One accepted send.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSent {
    pub from: String,
    pub conversation_id: String,
    pub body: SendBody,
    pub mention: Option<Mention>,
    pub message_client_id: String,
    pub message_server_id: String,
}

impl FakeSent {
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            SendBody::Text { text } => Some(text),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<String, String>,
    online: HashMap<String, mpsc::UnboundedSender<NimEvent>>,
    offline: HashMap<String, Vec<Message>>,
    sent: Vec<FakeSent>,
    receipts: Vec<ReadReceipt>,
    by_client_id: HashMap<(String, String), Sent>,
    login_error: Option<NimError>,
    send_errors: Vec<NimError>,
    logins: usize,
    logouts: usize,
    next_server_id: u64,
}

/// The scripted server. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct FakeNim {
    state: Arc<Mutex<State>>,
}

impl FakeNim {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_account(&self, accid: &str, token: &str) {
        lock(&self.state)
            .tokens
            .insert(accid.to_owned(), token.to_owned());
    }

    /// Every login from now on fails with `error` (until cleared with `None`).
    pub fn fail_logins(&self, error: Option<NimError>) {
        lock(&self.state).login_error = error;
    }

    /// The next send fails with `error`.
    pub fn fail_next_send(&self, error: NimError) {
        lock(&self.state).send_errors.push(error);
    }

    /// The read receipts sent so far.
    pub fn receipts(&self) -> Vec<ReadReceipt> {
        lock(&self.state).receipts.clone()
    }

    /// A P2P text from `from` to `to`; returns the stored message.
    pub fn inject_text(&self, from: &str, to: &str, text: &str) -> Message {
        let msg = {
            let mut st = lock(&self.state);
            st.next_server_id += 1;
            Message {
                message_client_id: format!("fake-c{}", st.next_server_id),
                message_server_id: format!("{}", 7_000_000 + st.next_server_id),
                create_time: channel_core::now_ms(),
                sender_id: from.to_owned(),
                receiver_id: to.to_owned(),
                conversation_type: ConversationType::P2p,
                conversation_id: ConversationId::p2p(to, from).to_string(),
                message_type: MessageType::Text,
                text: Some(text.to_owned()),
                ..Message::default()
            }
        };
        self.deliver(to, msg.clone());
        msg
    }

    /// Delivers `msg` to `to` (now if logged in, else at its next login).
    pub fn deliver(&self, to: &str, msg: Message) {
        let mut st = lock(&self.state);
        let sent = st.online.get(to).is_some_and(|tx| {
            tx.send(NimEvent::ReceiveMessages(vec![msg.clone()]))
                .is_ok()
        });
        if !sent {
            st.offline.entry(to.to_owned()).or_default().push(msg);
        }
    }

    /// Kicks `accid` offline as another device's login would, with the SDK's events in the
    /// SDK's order: logged out and link down first, the kick and its reason last.
    pub fn kick(&self, accid: &str, reason: KickReason) {
        if let Some(tx) = lock(&self.state).online.remove(accid) {
            let _ = tx.send(NimEvent::LoginStatus(LoginStatus::Logout));
            let _ = tx.send(NimEvent::ConnectStatus(ConnectStatus::Disconnected));
            let _ = tx.send(NimEvent::Disconnected(Some(NimError::new(
                192003,
                "disconnect",
            ))));
            let _ = tx.send(NimEvent::KickedOffline(Kicked {
                reason,
                reason_desc: "logged in on another device".into(),
                client_type: 16,
                custom_client_type: 0,
            }));
        }
    }

    /// The link drops and the SDK reconnects on its own.
    pub fn blip(&self, accid: &str) {
        if let Some(tx) = lock(&self.state).online.get(accid) {
            let _ = tx.send(NimEvent::ConnectStatus(ConnectStatus::Waiting));
            let _ = tx.send(NimEvent::ConnectStatus(ConnectStatus::Connected));
        }
    }

    /// The transport dies (`Closed`): the channel must open a new one and log in again.
    pub fn break_link(&self, accid: &str) {
        if let Some(tx) = lock(&self.state).online.remove(accid) {
            let _ = tx.send(NimEvent::Closed(Some(NimError::new(
                192003,
                "disconnected",
            ))));
        }
    }

    pub fn is_online(&self, accid: &str) -> bool {
        lock(&self.state).online.contains_key(accid)
    }

    pub fn sent(&self) -> Vec<FakeSent> {
        lock(&self.state).sent.clone()
    }

    /// (logins attempted, logouts).
    pub fn counts(&self) -> (usize, usize) {
        let st = lock(&self.state);
        (st.logins, st.logouts)
    }
}

#[async_trait::async_trait]
impl Transports for FakeNim {
    async fn open(
        &self,
        _settings: &AccountSettings,
        _host: Arc<dyn Host>,
    ) -> Result<Opened, ChannelError> {
        let (tx, events) = mpsc::unbounded_channel();
        Ok(Opened {
            transport: Arc::new(FakeTransport {
                nim: self.clone(),
                tx,
                account: Mutex::new(None),
            }),
            events,
        })
    }
}

#[derive(Debug)]
struct FakeTransport {
    nim: FakeNim,
    tx: mpsc::UnboundedSender<NimEvent>,
    account: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl NimTransport for FakeTransport {
    async fn login(&self, login: &Login) -> Result<(), NimError> {
        let mut st = lock(&self.nim.state);
        st.logins += 1;
        let _ = self.tx.send(NimEvent::LoginStatus(LoginStatus::Logining));
        if let Some(error) = st.login_error.clone() {
            let _ = self.tx.send(NimEvent::LoginStatus(LoginStatus::Unlogin));
            return Err(error);
        }
        if st.tokens.get(&login.account_id) != Some(&login.token) {
            return Err(NimError::new(302, "wrong account or token"));
        }
        st.online.insert(login.account_id.clone(), self.tx.clone());
        let _ = self
            .tx
            .send(NimEvent::ConnectStatus(ConnectStatus::Connected));
        let _ = self.tx.send(NimEvent::LoginStatus(LoginStatus::Logined));
        if let Some(queued) = st.offline.remove(&login.account_id) {
            let _ = self.tx.send(NimEvent::ReceiveMessages(queued));
        }
        *lock(&self.account) = Some(login.account_id.clone());
        Ok(())
    }

    async fn logout(&self) -> Result<(), NimError> {
        let mut st = lock(&self.nim.state);
        st.logouts += 1;
        if let Some(account) = lock(&self.account).take() {
            st.online.remove(&account);
        }
        Ok(())
    }

    async fn send(&self, request: &SendRequest) -> Result<Sent, NimError> {
        let from = lock(&self.account)
            .clone()
            .ok_or_else(|| NimError::new(20001, "not logged in"))?;
        let mut st = lock(&self.nim.state);
        if !st.send_errors.is_empty() {
            return Err(st.send_errors.remove(0));
        }
        let key = (from.clone(), request.message_client_id.clone());
        // As the JS SDK does: an id it already sent is refused, not answered again.
        if st.by_client_id.contains_key(&key) {
            return Err(NimError::new(191004, "message has already been sent"));
        }
        st.next_server_id += 1;
        let sent = Sent {
            message_client_id: request.message_client_id.clone(),
            message_server_id: format!("{}", 9_000_000 + st.next_server_id),
            create_time: channel_core::now_ms(),
        };
        st.sent.push(FakeSent {
            from,
            conversation_id: request.conversation_id.clone(),
            body: request.body.clone(),
            mention: request.mention.clone(),
            message_client_id: sent.message_client_id.clone(),
            message_server_id: sent.message_server_id.clone(),
        });
        st.by_client_id.insert(key, sent.clone());
        Ok(sent)
    }

    async fn send_read_receipt(&self, receipt: &ReadReceipt) -> Result<(), NimError> {
        let me = lock(&self.account)
            .clone()
            .ok_or_else(|| NimError::new(20001, "not logged in"))?;
        if receipt.sender_id == me {
            return Err(NimError::new(191004, "cannot mark one's own message read"));
        }
        lock(&self.nim.state).receipts.push(receipt.clone());
        Ok(())
    }

    async fn close(&self) {
        if let Some(account) = lock(&self.account).take() {
            lock(&self.nim.state).online.remove(&account);
        }
    }
}
