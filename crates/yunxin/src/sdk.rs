//! Transport `sdk`: NetEase's JS SDK, run by the host as the transport module `nim-sdk`
//! (`crates/yunxin/js/nim-sdk.mjs`). Calls and events are the module's JSON; this side only
//! turns them into [`NimTransport`] calls and [`NimEvent`]s.

use std::sync::Arc;

use channel_core::{ChannelError, Host, HostTransport, TransportModule};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::AccountSettings;
use crate::nim::{
    Login, NimError, NimEvent, NimTransport, Opened, ReadReceipt, SendBody, SendRequest, Sent,
};

/// The transport module's name, as the host finds it in the package.
pub const MODULE: &str = "nim-sdk";
/// NetEase's SDK the module is written and tested against (its Node edition), pinned exactly:
/// an alpha. `js/nim-sdk.mjs` exports the same pin as `SDK_PACKAGE`/`SDK_VERSION`.
pub const SDK_PACKAGE: &str = "nim-web-sdk-ng";
pub const SDK_VERSION: &str = "10.9.77-alpha.4";

/// What the package must ship for this transport: the module and the SDK from npm.
pub const TRANSPORT_MODULES: &[TransportModule] = &[TransportModule {
    name: MODULE,
    source: "crates/yunxin/js/nim-sdk.mjs",
    npm_dependencies: &[(SDK_PACKAGE, SDK_VERSION)],
}];

#[derive(Debug)]
struct SdkTransport {
    module: Arc<dyn HostTransport>,
}

/// Starts the module for one account.
pub async fn open(host: &dyn Host, settings: &AccountSettings) -> Result<Opened, ChannelError> {
    let app_key = settings
        .base
        .credentials
        .as_ref()
        .map(|c| c.app_key.clone())
        .map_err(Clone::clone)?;
    let mut options = json!({ "appKey": app_key });
    if !settings.lbs_urls.is_empty() {
        options["lbsUrls"] = json!(settings.lbs_urls);
    }
    if let Some(link) = &settings.link_url {
        options["linkUrl"] = json!(link);
    }
    if let Some(module) = &settings.sdk_module {
        options["sdkModule"] = json!(module);
    }
    let (raw_tx, mut raw) = mpsc::unbounded_channel::<Value>();
    let module = host.open_transport(MODULE, options, raw_tx).await?;
    let (events_tx, events) = mpsc::unbounded_channel();
    let account = settings.base.id.clone();
    tokio::spawn(async move {
        while let Some(value) = raw.recv().await {
            match serde_json::from_value::<NimEvent>(value) {
                Ok(event) => {
                    if events_tx.send(event).is_err() {
                        return;
                    }
                }
                // A newer SDK's event, or a bad payload: logged, never fatal.
                Err(err) => tracing::debug!(%account, %err, "skipping an unreadable NIM event"),
            }
        }
        let _ = events_tx.send(NimEvent::Closed(None));
    });
    Ok(Opened {
        transport: Arc::new(SdkTransport { module }),
        events,
    })
}

/// The module rejects with NIM's code in `code` and its description as the message; a failure
/// that is not NIM's (a timeout of the host, a closed transport) has no code, which is NIM's 0.
fn nim_error(error: ChannelError) -> NimError {
    let code = error
        .code
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    NimError::new(code, error.message)
}

#[async_trait::async_trait]
impl NimTransport for SdkTransport {
    async fn login(&self, login: &Login) -> Result<(), NimError> {
        self.module
            .call(
                "login",
                json!({ "accountId": login.account_id, "token": login.token, "aiBot": login.ai_bot }),
            )
            .await
            .map(drop)
            .map_err(nim_error)
    }

    async fn logout(&self) -> Result<(), NimError> {
        self.module
            .call("logout", json!({}))
            .await
            .map(drop)
            .map_err(nim_error)
    }

    async fn send(&self, request: &SendRequest) -> Result<Sent, NimError> {
        let (method, params) = match &request.body {
            SendBody::Text { text } => (
                "sendText",
                json!({ "conversationId": request.conversation_id, "messageClientId": request.message_client_id, "text": text }),
            ),
            SendBody::Image {
                path,
                name,
                width,
                height,
            } => (
                "sendMedia",
                json!({ "conversationId": request.conversation_id, "messageClientId": request.message_client_id, "kind": "image", "path": path, "name": name, "width": width, "height": height }),
            ),
            SendBody::File { path, name } => (
                "sendMedia",
                json!({ "conversationId": request.conversation_id, "messageClientId": request.message_client_id, "kind": "file", "path": path, "name": name }),
            ),
            SendBody::Video { path, name } => (
                "sendMedia",
                json!({ "conversationId": request.conversation_id, "messageClientId": request.message_client_id, "kind": "video", "path": path, "name": name }),
            ),
        };
        let mut params = params;
        if let Some(mention) = &request.mention {
            params["pushConfig"] =
                json!({ "forcePush": true, "forcePushAccountIds": [mention.account_id] });
            params["serverExtension"] = json!(mention.server_extension());
        }
        let answer = self.module.call(method, params).await.map_err(nim_error)?;
        serde_json::from_value(answer)
            .map_err(|e| NimError::new(0, format!("{method}: unexpected answer: {e}")))
    }

    async fn send_read_receipt(&self, receipt: &ReadReceipt) -> Result<(), NimError> {
        let params = serde_json::to_value(receipt)
            .map_err(|e| NimError::new(0, format!("sendReadReceipt: {e}")))?;
        self.module
            .call("sendReadReceipt", params)
            .await
            .map(drop)
            .map_err(nim_error)
    }

    async fn close(&self) {
        self.module.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_module_is_the_one_in_this_crate_with_the_same_pin() {
        let [module] = TRANSPORT_MODULES else {
            panic!("one module")
        };
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let source = std::fs::read_to_string(workspace.join(module.source)).expect("source");
        assert!(
            source.contains(&format!("export const SDK_PACKAGE = \"{SDK_PACKAGE}\";")),
            "SDK_PACKAGE differs in {}",
            module.source
        );
        assert!(
            source.contains(&format!("export const SDK_VERSION = \"{SDK_VERSION}\";")),
            "SDK_VERSION differs in {}",
            module.source
        );
    }

    #[test]
    fn module_errors_keep_their_code() {
        let e = nim_error(ChannelError::transient("wrong token").with_code("302"));
        assert_eq!((e.code, e.desc.as_str()), (302, "wrong token"));
        let e = nim_error(ChannelError::transient(
            "host did not answer transport.call",
        ));
        assert_eq!(e.code, 0);
        let e = nim_error(ChannelError::transient("odd").with_code("E_ODD"));
        assert_eq!((e.code, e.desc.as_str()), (0, "odd"));
    }
}
