//! Transport `server-api`: NetEase's server REST API for sends and the message-copy webhook
//! (消息抄送) for receives (spec §4). There is no token and no long connection: every REST call
//! is signed with the app secret, and NetEase POSTs a copy of every message of the app to the
//! webhook, which keeps the ones addressed to this account.
//!
//! * `login` probes `GET /im/v2/accounts/{accountId}` (proving app key, secret and account),
//!   then starts the webhook listener on `serverApi.webhookListen` (without one the account only
//!   sends).
//! * `send` is `POST /im/v2/conversations/{id}/messages`; attachments are first stored with
//!   `POST /nimserver/msg/upload.action`, whose URL the media message carries.
//! * `logout` and `close` stop the listener; both are idempotent.
//!
//! Modules: `rest` (the signed client), `webhook` (the receiver: checks, parsing, dedup),
//! `sign` (the CheckSums).

mod rest;
mod sign;
pub(crate) mod webhook;

use std::sync::Arc;

use channel_core::ChannelError;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::{AccountSettings, ServerApi};
use crate::nim::{
    ConnectStatus, Login, LoginStatus, NimError, NimEvent, NimTransport, Opened, ReadReceipt,
    SendBody, SendRequest, Sent,
};

/// The NIM code of a local attachment the upload cannot take (parameter class: the message is
/// not retried).
const BAD_ATTACHMENT: i64 = 414;

/// Opens the transport of one `server-api` account. Nothing is contacted until `login`.
pub fn open(settings: &AccountSettings) -> Result<Opened, ChannelError> {
    let api = settings.server_api.clone().ok_or_else(|| {
        ChannelError::bad_input(format!(
            "netease-yunxin {}: transport server-api needs serverApi settings",
            settings.base.id
        ))
    })?;
    let credentials = settings.base.credentials.clone()?;
    let rest = rest::Rest::new(&api, &credentials.app_key)?;
    let (events, receiver) = mpsc::unbounded_channel();
    Ok(Opened {
        transport: Arc::new(ServerApiTransport {
            account: settings.base.id.clone(),
            app_key: credentials.app_key,
            api,
            rest,
            events,
            listener: tokio::sync::Mutex::new(None),
        }),
        events: receiver,
    })
}

#[derive(Debug)]
struct ServerApiTransport {
    /// The account's id in the config, for logs.
    account: String,
    app_key: String,
    api: ServerApi,
    rest: rest::Rest,
    events: mpsc::UnboundedSender<NimEvent>,
    /// Running while logged in with a `webhookListen`.
    listener: tokio::sync::Mutex<Option<webhook::Listener>>,
}

impl ServerApiTransport {
    fn emit(&self, event: NimEvent) {
        // The channel may already have stopped reading; nothing is owed to it then.
        let _ = self.events.send(event);
    }

    async fn stop_listener(&self) {
        let listener = self.listener.lock().await.take();
        if let Some(listener) = listener {
            listener.stop().await;
        }
    }

    /// Reads and uploads a local file; the attachment fields NetEase's messages carry.
    async fn upload(&self, path: &str, name: &str) -> Result<Value, NimError> {
        let refuse =
            |why: String| NimError::new(BAD_ATTACHMENT, format!("attachment {name}: {why}"));
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| refuse(format!("cannot read it: {e}")))?
            .len();
        if size > rest::MAX_UPLOAD_BYTES {
            return Err(refuse(format!(
                "{size} bytes is more than the server API's upload takes ({} bytes); send it \
                 with transport sdk",
                rest::MAX_UPLOAD_BYTES
            )));
        }
        let content = tokio::fs::read(path)
            .await
            .map_err(|e| refuse(format!("cannot read it: {e}")))?;
        let url = self.rest.upload(&content).await?;
        let mut attachment = json!({
            "url": url,
            "name": name,
            "size": content.len(),
            "md5": sign::md5_hex(&content),
        });
        if let Some(ext) = extension(name).or_else(|| extension(path)) {
            attachment["ext"] = json!(ext);
        }
        Ok(attachment)
    }
}

/// The lower-cased extension of a file name, if it has one.
fn extension(name: &str) -> Option<String> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => Some(ext.to_ascii_lowercase()),
        _ => None,
    }
}

/// A failed probe, told in terms of the config.
fn login_error(error: NimError, login: &Login) -> NimError {
    match error.code {
        // NetEase answers 414 for a CheckSum or AppKey it does not accept (and for a CurTime
        // more than five minutes off). No retry fixes that, so it is reported in the
        // wrong-credentials class (302), which stops the account until a person fixes it.
        414 => NimError::new(
            302,
            format!(
                "the server API refused the signed call ({}); check serverApi.appSecret and \
                 appKey, and this host's clock",
                error.desc
            ),
        ),
        102404 => NimError::new(
            102404,
            format!(
                "account {:?} does not exist in this app ({}); check accountId",
                login.account_id, error.desc
            ),
        ),
        _ => error,
    }
}

#[async_trait::async_trait]
impl NimTransport for ServerApiTransport {
    async fn login(&self, login: &Login) -> Result<(), NimError> {
        self.emit(NimEvent::LoginStatus(LoginStatus::Logining));
        if let Err(error) = self.rest.account(&login.account_id).await {
            self.emit(NimEvent::LoginStatus(LoginStatus::Unlogin));
            return Err(login_error(error, login));
        }
        match self.api.webhook_listen {
            Some(listen) => {
                let mut listener = self.listener.lock().await;
                if listener.is_none() {
                    let hook = webhook::Hook {
                        account: self.account.clone(),
                        app_key: self.app_key.clone(),
                        secret: self.api.app_secret.clone(),
                        me: login.account_id.clone(),
                        path: self.api.webhook_path.clone(),
                        max_skew: self.api.max_skew,
                        events: self.events.clone(),
                    };
                    match webhook::Listener::start(listen, hook).await {
                        Ok(started) => *listener = Some(started),
                        Err(error) => {
                            self.emit(NimEvent::LoginStatus(LoginStatus::Unlogin));
                            return Err(error);
                        }
                    }
                }
            }
            None => tracing::warn!(
                account = %self.account,
                "[netease-yunxin] serverApi.webhookListen is not set: this account sends but receives nothing"
            ),
        }
        self.emit(NimEvent::ConnectStatus(ConnectStatus::Connected));
        self.emit(NimEvent::LoginStatus(LoginStatus::Logined));
        Ok(())
    }

    async fn logout(&self) -> Result<(), NimError> {
        self.stop_listener().await;
        Ok(())
    }

    async fn send(&self, request: &SendRequest) -> Result<Sent, NimError> {
        let client_id = &request.message_client_id;
        let message = match &request.body {
            SendBody::Text { text } => {
                json!({ "message_type": 0, "text": text, "message_client_id": client_id })
            }
            SendBody::Image {
                path,
                name,
                width,
                height,
            } => {
                let mut attachment = self.upload(path, name).await?;
                // 0 means unknown; NetEase's apps measure the image themselves then.
                if *width > 0 && *height > 0 {
                    attachment["w"] = json!(width);
                    attachment["h"] = json!(height);
                }
                json!({ "message_type": 1, "attachment": attachment, "message_client_id": client_id })
            }
            SendBody::Video { path, name } => {
                let attachment = self.upload(path, name).await?;
                json!({ "message_type": 3, "attachment": attachment, "message_client_id": client_id })
            }
            SendBody::File { path, name } => {
                let attachment = self.upload(path, name).await?;
                json!({ "message_type": 6, "attachment": attachment, "message_client_id": client_id })
            }
        };
        let mut options = serde_json::Map::new();
        if let Some(mention) = &request.mention {
            options.insert(
                "push_config".into(),
                json!({ "push_forcepush_enable": true, "push_forcepush_ids": [mention.account_id] }),
            );
            options.insert("extension".into(), json!(mention.server_extension()));
        }
        self.rest
            .send(&request.conversation_id, client_id, message, options)
            .await
    }

    async fn send_read_receipt(&self, receipt: &ReadReceipt) -> Result<(), NimError> {
        self.rest
            .p2p_read_receipt(
                &receipt.receiver_id,
                &receipt.sender_id,
                &receipt.message_server_id,
            )
            .await
    }

    async fn close(&self) {
        self.stop_listener().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_come_from_the_name() {
        assert_eq!(extension("cat.PNG").as_deref(), Some("png"));
        assert_eq!(extension("/tmp/x.dir/report").as_deref(), None);
        assert_eq!(extension(".hidden"), None);
    }

    #[test]
    fn probe_failures_name_the_config() {
        let login = Login {
            app_key: "k".into(),
            account_id: "bot".into(),
            token: String::new(),
            ai_bot: 2,
        };
        let refused = login_error(
            NimError::new(414, "GET /im/v2/accounts/bot: CheckSum"),
            &login,
        );
        assert_eq!(refused.kind(), channel_core::ErrorKind::NeedsLogin);
        assert!(refused.desc.contains("serverApi.appSecret"), "{refused}");
        let missing = login_error(NimError::new(102404, "not exist"), &login);
        assert_eq!(missing.kind(), channel_core::ErrorKind::NeedsLogin);
        assert!(missing.desc.contains("accountId"), "{missing}");
        let busy = login_error(NimError::new(416, "too frequently"), &login);
        assert_eq!(busy, NimError::new(416, "too frequently"));
    }
}
