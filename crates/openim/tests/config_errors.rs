//! A config error in `channels.multi-openim` stays with the channel's accounts: they are listed,
//! each shows the error, and the host (which would otherwise fail to start) carries on.

use std::sync::Arc;

use channel_core::testing::StandaloneHost;
use channel_core::{AccountPhase, AnyChannel, CancellationToken, ErrorKind, StateDir};
use openim::OpenimChannel;
use serde_json::json;

#[tokio::test]
async fn the_seed_plugins_top_level_token_blocks_the_accounts_not_the_host() {
    let state = tempfile::tempdir().unwrap();
    let channel: Arc<dyn AnyChannel> =
        Arc::new(Arc::new(OpenimChannel::new(&StateDir::new(state.path()))));
    // The multi-openim plugin's old single-account layout.
    let legacy = json!({"token": "eyJhbGciOi.x.y", "wsAddr": "ws://127.0.0.1:1", "apiAddr": "http://127.0.0.1:2"});
    assert_eq!(channel.account_ids(&legacy).unwrap(), ["default"]);
    let view = channel.describe(&legacy, "default").unwrap();
    assert!(!view.configured);
    let reason = view.unconfigured_reason.unwrap();
    assert!(
        reason.contains("channels.multi-openim.token") && reason.contains("accounts.<id>"),
        "{reason}"
    );
    assert!(!reason.contains("eyJhbGciOi"), "the token leaked: {reason}");

    // Named accounts next to the old keys: each of them shows the error.
    let mixed = json!({
        "token": "t",
        "accounts": {"primary": {"token": "t", "wsAddr": "ws://127.0.0.1:1", "apiAddr": "http://127.0.0.1:2"}},
    });
    assert_eq!(channel.account_ids(&mixed).unwrap(), ["primary"]);
    assert!(!channel.describe(&mixed, "primary").unwrap().configured);

    // Started anyway (a host that does not look at `configured`), it stops as blocked.
    let host = Arc::new(StandaloneHost::default());
    let err = channel
        .run(&legacy, "default", host.clone(), CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadInput);
    let last = host.statuses().pop().unwrap().1;
    assert_eq!(last.lifecycle, Some(AccountPhase::Blocked));
    assert_eq!(last.running, Some(false));
}
