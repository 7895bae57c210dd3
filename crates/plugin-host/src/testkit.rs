//! `imbridge-testkit`: a channel for the JS tests only (Cargo feature `testkit`, refused by
//! `cargo xtask package`). It has no network. It exercises the generic machinery the way a real
//! channel does:
//!
//! * tools `imbridge_testkit_send_text` (sends through an account running in this process, so a
//!   second evaluation of the JS entry must share the native state) and
//!   `imbridge_testkit_refresh_token` (optional; calls `globalThis.__imbridgeTestkitRefresher`
//!   and saves the token with `set_config`);
//! * gateway method `imbridge-testkit.echo` (`{accountId, method, params}` back, plus whether the
//!   account runs here);
//! * command `openclaw imbridge-testkit setup [--account <id>]` (asks for a URL with a default and
//!   a secret token, returns a config edit);
//! * an account with `refreshOnStart` refreshes its token when it starts, through the pipeline's host.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use channel_core::action::{self, OptionSpec, SubcommandSpec, parse_args};
use channel_core::{
    AccountView, ActionSpec, Channel, ChannelError, ChatKind, CommandOutcome, CommandSpec,
    ConfigEdit, Connector, Descriptor, DmConfig, Host, Lifecycle, LiveAccounts, LiveEntry, Meta,
    Outbound, Probe, Prompter, Question, Receipt, RunContext, StateDir, Target,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub const ID: &str = "imbridge-testkit";
/// The operator's refresher, as `globalThis[REFRESHER]`.
const REFRESHER: &str = "__imbridgeTestkitRefresher";

#[derive(Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Section {
    #[serde(default)]
    accounts: BTreeMap<String, AccountConfig>,
}

#[derive(Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct AccountConfig {
    url: Option<String>,
    token: Option<String>,
    /// Refresh the token through the operator's global function when the account starts.
    #[serde(default)]
    refresh_on_start: bool,
}

/// One account; the token never shows in debug output.
#[derive(Clone)]
pub struct Account {
    id: String,
    config: AccountConfig,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendText {
    /// The account that sends; it must be running in this process.
    account_id: String,
    /// The peer's id.
    to: String,
    text: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Refresh {
    account_id: String,
    /// Why (shown to the refresher).
    reason: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Echo {
    account_id: String,
    method: String,
    #[serde(default)]
    params: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetupOptions {
    account: Option<String>,
}

/// The test channel; `live` holds the accounts running in this copy of the addon.
#[derive(Debug)]
pub struct TestkitChannel {
    state: PathBuf,
    /// Per running account, how many messages it sent.
    live: LiveAccounts<Arc<AtomicU64>>,
}

/// A running account: connected at once, until stopped.
struct Idle {
    _live: LiveEntry<Arc<AtomicU64>>,
}

#[async_trait::async_trait]
impl Connector for Idle {
    async fn session(&mut self, life: &Lifecycle) -> Result<(), ChannelError> {
        life.connected();
        life.cancel().cancelled().await;
        Ok(())
    }
}

fn section(value: &Value) -> Result<Section, ChannelError> {
    if value.is_null() {
        return Ok(Section::default());
    }
    channel_core::parse_config(&format!("channels.{ID}"), value)
}

fn config_path(account: &str, key: &str) -> Vec<String> {
    ["channels", ID, "accounts", account, key]
        .map(String::from)
        .into()
}

/// Asks the operator's refresher for a token and saves it into the config.
async fn refresh(host: &dyn Host, account: &str, reason: &str) -> Result<(), ChannelError> {
    let answer = host
        .call_global(REFRESHER, vec![json!(account), json!(reason)])
        .await?
        .ok_or_else(|| {
            ChannelError::needs_login(format!(
                "account {account}: globalThis.{REFRESHER} is not set or returned nothing"
            ))
        })?;
    let token = match &answer {
        Value::String(token) => token.clone(),
        other => other
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ChannelError::bad_input(format!(
                    "account {account}: globalThis.{REFRESHER} returned no token"
                ))
            })?
            .to_owned(),
    };
    host.set_config(&config_path(account, "token"), json!(token))
        .await
}

impl TestkitChannel {
    pub fn new(state: &StateDir) -> Self {
        Self {
            state: state.channel(ID),
            live: LiveAccounts::default(),
        }
    }

    fn send_live(&self, account: &str, to: &str) -> Result<Receipt, ChannelError> {
        let sent = self.live.get(account).ok_or_else(|| {
            ChannelError::permanent(format!(
                "account {account} is not running in this process; cannot send to {to}"
            ))
        })?;
        let sent = sent.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Receipt::Sent {
            message_id: format!("{account}-{sent}"),
            parts: 1,
        })
    }
}

#[async_trait::async_trait]
impl Channel for TestkitChannel {
    type Account = Account;

    fn descriptor(&self) -> Descriptor {
        let meta = Meta::new(ID, "Testkit", "Testkit (tests only)")
            .blurb("A channel without a network, for the plugin host's tests.")
            .order(999);
        let mut descriptor = Descriptor::new(
            ID,
            meta,
            vec![ChatKind::Direct],
            channel_core::schema::for_type::<Section>(),
        );
        descriptor.capabilities.media = false;
        descriptor.capabilities.block_streaming = false;
        Descriptor {
            text_chunk_limit: 1000,
            target_hint: "<peer id>".into(),
            id_label: "Your testkit id".into(),
            ..descriptor
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.state.clone()
    }

    fn account_ids(&self, value: &Value) -> Result<Vec<String>, ChannelError> {
        Ok(section(value)?.accounts.into_keys().collect())
    }

    fn account(&self, value: &Value, id: &str) -> Result<Account, ChannelError> {
        let config = section(value)?.accounts.remove(id).unwrap_or_default();
        Ok(Account {
            id: id.to_owned(),
            config,
        })
    }

    fn view(&self, account: &Account) -> AccountView {
        let configured = account
            .config
            .token
            .as_deref()
            .is_some_and(|t| !t.is_empty());
        AccountView {
            account_id: account.id.clone(),
            name: None,
            enabled: true,
            configured,
            unconfigured_reason: (!configured).then(|| {
                format!(
                    "no token: run `openclaw {ID} setup --account {}`",
                    account.id
                )
            }),
            dm: DmConfig::default(),
            group: channel_core::GroupConfig::default(),
        }
    }

    async fn connect(
        &self,
        account: Account,
        ctx: RunContext,
    ) -> Result<Box<dyn Connector>, ChannelError> {
        if account.config.refresh_on_start {
            refresh(ctx.host().as_ref(), &account.id, "start").await?;
        }
        Ok(Box::new(Idle {
            _live: self.live.register(&account.id, Arc::default()),
        }))
    }

    async fn send(
        &self,
        account: &Account,
        target: &Target,
        _message: &Outbound,
    ) -> Result<Receipt, ChannelError> {
        self.send_live(&account.id, &target.id)
    }

    async fn probe(&self, account: &Account) -> Result<Probe, ChannelError> {
        let running = self.live.is_running(&account.id);
        Ok(Probe {
            ok: running,
            detail: if running { "running" } else { "not running" }.into(),
            elapsed_ms: 0,
        })
    }

    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError> {
        let raw = raw.trim();
        let id = raw
            .strip_prefix(&format!("{ID}:"))
            .or_else(|| raw.strip_prefix("user:"))
            .unwrap_or(raw);
        if id.is_empty() {
            return Err(ChannelError::bad_input(format!("target {raw:?}: empty")));
        }
        Ok(Target {
            kind: ChatKind::Direct,
            id: id.to_owned(),
        })
    }

    fn actions(&self) -> Vec<ActionSpec> {
        vec![
            ActionSpec::tool::<SendText>(
                "imbridge_testkit_send_text",
                "Send a text message from a running testkit account.",
            ),
            ActionSpec::tool::<Refresh>(
                "imbridge_testkit_refresh_token",
                "Refresh a testkit account's token through the operator's refresher.",
            )
            .optional(),
            ActionSpec::gateway_method::<Echo>(
                "echo",
                "Echo {accountId, method, params} and whether the account runs here.",
            ),
        ]
    }

    async fn call_action(
        &self,
        _section: &Value,
        name: &str,
        args: Value,
        host: Arc<dyn Host>,
    ) -> Result<Value, ChannelError> {
        match name {
            "imbridge_testkit_send_text" => {
                let args: SendText = parse_args(name, &args)?;
                let receipt = self.send_live(&args.account_id, &args.to)?;
                // The roots show what a real channel would let this caller attach.
                Ok(json!({
                    "messageId": receipt.message_id(),
                    "chars": args.text.chars().count(),
                    "mediaRoots": host.media_roots().await?,
                }))
            }
            "imbridge_testkit_refresh_token" => {
                let args: Refresh = parse_args(name, &args)?;
                let reason = args.reason.as_deref().unwrap_or("manual");
                refresh(host.as_ref(), &args.account_id, reason).await?;
                Ok(json!({ "refreshed": true, "accountId": args.account_id }))
            }
            "echo" => {
                let args: Echo = parse_args(&format!("{ID}.echo"), &args)?;
                let running = self.live.is_running(&args.account_id);
                Ok(json!({
                    "accountId": args.account_id,
                    "method": args.method,
                    "params": args.params,
                    "running": running,
                }))
            }
            other => {
                action::find(ID, &self.actions(), other)?;
                Err(ChannelError::permanent(format!(
                    "{ID}: {other} is declared but not implemented"
                )))
            }
        }
    }

    fn commands(&self) -> Vec<CommandSpec> {
        vec![CommandSpec {
            command: ID.into(),
            description: "Testkit accounts (tests only)".into(),
            subcommands: vec![SubcommandSpec {
                name: "setup".into(),
                description: "Add or change a testkit account".into(),
                options: vec![OptionSpec::new("--account <id>", "The account to set up")],
            }],
        }]
    }

    async fn run_command(
        &self,
        value: &Value,
        command: &str,
        subcommand: &str,
        options: Value,
        ui: Arc<dyn Prompter>,
    ) -> Result<CommandOutcome, ChannelError> {
        let what = format!("{command} {subcommand}");
        let options: SetupOptions = parse_args(&what, &options)?;
        let current = section(value)?;
        let account = match options.account {
            Some(account) => account,
            None => {
                ui.ask(&Question::new("Account id").with_default("default"))
                    .await?
            }
        };
        let url_default = current
            .accounts
            .get(&account)
            .and_then(|a| a.url.clone())
            .unwrap_or_else(|| "http://127.0.0.1:10002".into());
        let url = ui
            .ask(&Question::new("Server URL").with_default(url_default))
            .await?;
        let token = ui.ask(&Question::new("Token").secret()).await?;
        if token.is_empty() {
            return Err(ChannelError::bad_input(format!("{what}: token: required")));
        }
        ui.say(&format!("Account {account} on {url}")).await;
        Ok(CommandOutcome {
            text: format!("Saved {ID} account {account}."),
            config_edits: vec![ConfigEdit::merge(
                ["channels", ID, "accounts", account.as_str()],
                json!({ "url": url, "token": token }),
            )],
        })
    }
}

#[cfg(test)]
mod tests {
    use channel_core::testing::{ScriptedPrompter, StandaloneHost};
    use channel_core::{AnyChannel, CancellationToken};

    use super::*;

    fn channel(dir: &std::path::Path) -> Arc<dyn AnyChannel> {
        Arc::new(Arc::new(TestkitChannel::new(&StateDir::new(dir))))
    }

    #[tokio::test]
    async fn a_running_account_refreshes_through_its_host_and_actions_reach_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let channel = channel(dir.path());
        let host = Arc::new(StandaloneHost::default().with_global(REFRESHER, |args| {
            Ok(json!({"token": format!("new-{}", args[1].as_str().unwrap_or(""))}))
        }));
        let section = json!({"accounts": {"a1": {"token": "old", "refreshOnStart": true}}});
        let cancel = CancellationToken::new();
        let run = {
            let (channel, host, section, cancel) = (
                channel.clone(),
                host.clone(),
                section.clone(),
                cancel.clone(),
            );
            tokio::spawn(async move { channel.run(&section, "a1", host, cancel).await })
        };
        assert!(
            host.wait_for(std::time::Duration::from_secs(5), |h| h.is_connected("a1"))
                .await
        );
        assert_eq!(
            host.config().expect("config")["channels"][ID]["accounts"]["a1"]["token"],
            "new-start"
        );
        let sent = channel
            .call_action(
                &section,
                "imbridge_testkit_send_text",
                json!({"accountId": "a1", "to": "p", "text": "hi"}),
                host.clone(),
            )
            .await
            .expect("send");
        assert_eq!(sent["messageId"], "a1-1");
        let echo = channel
            .call_action(
                &section,
                "echo",
                json!({"accountId": "a1", "method": "m"}),
                host.clone(),
            )
            .await
            .expect("echo");
        assert_eq!(echo["running"], true);
        cancel.cancel();
        run.await.expect("join").expect("run");
        let err = channel
            .call_action(
                &section,
                "imbridge_testkit_send_text",
                json!({"accountId": "a1", "to": "p", "text": "hi"}),
                host,
            )
            .await
            .expect_err("stopped");
        assert!(err.message.contains("not running"), "{err}");
    }

    #[tokio::test]
    async fn setup_asks_and_returns_a_merge_edit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ui = Arc::new(ScriptedPrompter::new(["", "t0k3n"]));
        let outcome = channel(dir.path())
            .run_command(
                &Value::Null,
                ID,
                "setup",
                json!({"account": "a2"}),
                ui.clone(),
            )
            .await
            .expect("setup");
        assert_eq!(
            outcome.config_edits[0].dotted(),
            "channels.imbridge-testkit.accounts.a2"
        );
        assert!(outcome.config_edits[0].merge);
        assert_eq!(
            outcome.config_edits[0].value["url"],
            "http://127.0.0.1:10002"
        );
        assert!(!outcome.text.contains("t0k3n"));
        assert!(ui.asked()[1].secret);
    }
}
