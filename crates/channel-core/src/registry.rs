//! Type-erased channels, so a host can hold several protocols in one list and talk to them in
//! JSON (the config section as OpenClaw has it, targets as users type them).

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::action::{self, ActionSpec, CommandOutcome, CommandSpec, Prompter};
use crate::backlog::Backlog;
use crate::backoff::Backoff;
use crate::channel::{AccountView, Channel, Descriptor, Probe, RunContext};
use crate::dedup::Window;
use crate::error::{ChannelError, ErrorKind};
use crate::host::{Host, TransportModule};
use crate::login::{LoginResult, LoginUi};
use crate::message::{Fetched, Inbound, Media, Outbound, Receipt, Target};
use crate::owner::AccountLock;
use crate::pipeline::{Outlet, Pipeline, PipelineConfig};
use crate::supervisor::{Connector, Lifecycle, supervise};

/// A channel behind a vtable.
#[async_trait::async_trait]
pub trait AnyChannel: Send + Sync {
    fn descriptor(&self) -> Descriptor;
    fn account_ids(&self, section: &Value) -> Result<Vec<String>, ChannelError>;
    fn describe(&self, section: &Value, account: &str) -> Result<AccountView, ChannelError>;
    /// Runs one account until `cancel` fires or the account cannot go on.
    async fn run(
        &self,
        section: &Value,
        account: &str,
        host: Arc<dyn Host>,
        cancel: CancellationToken,
    ) -> Result<(), ChannelError>;
    async fn send(
        &self,
        section: &Value,
        account: &str,
        target: &str,
        message: &Outbound,
    ) -> Result<Receipt, ChannelError>;
    async fn probe(&self, section: &Value, account: &str) -> Result<Probe, ChannelError>;
    /// What waits in the account, if it runs in this process.
    fn backlog(&self, section: &Value, account: &str) -> Result<Option<Backlog>, ChannelError>;
    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError>;
    async fn login(
        &self,
        section: &Value,
        account: Option<&str>,
        ui: Arc<dyn LoginUi>,
        cancel: CancellationToken,
    ) -> Result<LoginResult, ChannelError>;
    async fn logout(&self, section: &Value, account: &str) -> Result<bool, ChannelError>;

    /// See [`Channel::actions`].
    fn actions(&self) -> Vec<ActionSpec> {
        Vec::new()
    }

    /// Runs one of [`AnyChannel::actions`]; an unknown name is a `BadInput` error naming it.
    async fn call_action(
        &self,
        _section: &Value,
        name: &str,
        _args: Value,
        _host: Arc<dyn Host>,
    ) -> Result<Value, ChannelError> {
        Err(ChannelError::bad_input(format!(
            "{}: unknown action {name:?}",
            self.descriptor().id
        )))
    }

    /// See [`Channel::commands`].
    fn commands(&self) -> Vec<CommandSpec> {
        Vec::new()
    }

    /// See [`Channel::transport_modules`].
    fn transport_modules(&self) -> Vec<TransportModule> {
        Vec::new()
    }

    /// Runs one of [`AnyChannel::commands`]; an unknown one is a `BadInput` error naming it.
    async fn run_command(
        &self,
        _section: &Value,
        command: &str,
        subcommand: &str,
        _options: Value,
        _ui: Arc<dyn Prompter>,
    ) -> Result<CommandOutcome, ChannelError> {
        Err(ChannelError::bad_input(format!(
            "{}: unknown command {command} {subcommand}",
            self.descriptor().id
        )))
    }
}

/// A channel's `send`, bound to one account.
struct AccountOutlet<C: Channel> {
    channel: Arc<C>,
    account: C::Account,
}

#[async_trait::async_trait]
impl<C: Channel> Outlet for AccountOutlet<C> {
    async fn send(&self, target: &Target, message: &Outbound) -> Result<Receipt, ChannelError> {
        Channel::send(self.channel.as_ref(), &self.account, target, message).await
    }

    async fn typing(&self, target: &Target, active: bool) -> Result<(), ChannelError> {
        Channel::typing(self.channel.as_ref(), &self.account, target, active).await
    }

    async fn fetch_media(&self, media: &Media) -> Result<Fetched, ChannelError> {
        Channel::fetch_media(self.channel.as_ref(), &self.account, media).await
    }

    async fn handled(&self, inbound: &Inbound) -> Result<(), ChannelError> {
        Channel::handled(self.channel.as_ref(), &self.account, inbound).await
    }

    async fn block_budget(&self, target: &Target) -> Option<usize> {
        Channel::block_budget(self.channel.as_ref(), &self.account, target).await
    }
}

/// One account of `channel`, once its id is known to name state files safely.
fn resolve<C: Channel>(channel: &C, section: &Value, id: &str) -> Result<C::Account, ChannelError> {
    if !crate::config::account_id_is_safe(id) {
        // The descriptor (it carries the generated schema) is built only for the message.
        crate::config::check_account_id(&channel.descriptor().id, id)?;
    }
    channel.account(section, id)
}

/// Where an account's dedup journal lives: also how the outbound path finds its pipeline.
fn journal_path<C: Channel>(channel: &C, account_id: &str) -> std::path::PathBuf {
    channel
        .state_dir()
        .join("dedup")
        .join(format!("{account_id}.jsonl"))
}

/// Everything an account needs before its supervisor runs it: the account resolved, its
/// pipeline open, and the channel's connector.
async fn prepare<C: Channel>(
    channel: &Arc<C>,
    (channel_id, id_label): (&str, &str),
    section: &Value,
    account_id: &str,
    host: Arc<dyn Host>,
    cancel: &CancellationToken,
) -> Result<(Arc<Pipeline>, Box<dyn Connector>), ChannelError> {
    let account = resolve(channel.as_ref(), section, account_id)?;
    let view = channel.view(&account);
    if !view.configured {
        let reason = view
            .unconfigured_reason
            .unwrap_or_else(|| "not configured".into());
        return Err(ChannelError::needs_login(format!(
            "account {account_id}: {reason}"
        )));
    }
    let outlet = Arc::new(AccountOutlet {
        channel: Arc::clone(channel),
        account: account.clone(),
    });
    let turn =
        crate::pipeline::TurnKeys::resolve(&format!("channels.{channel_id}"), section, account_id)?;
    let config = PipelineConfig {
        channel: channel_id.to_owned(),
        account: account_id.to_owned(),
        id_label: id_label.to_owned(),
        dm: view.dm,
        group: view.group,
        journal: journal_path(channel.as_ref(), account_id),
        window: Window::default(),
        turn_timeout: turn.timeout,
        block_streaming: turn.block_streaming,
        max_pending_turns: crate::pipeline::MAX_PENDING_TURNS,
    };
    let pipeline = Pipeline::open(config, host, outlet, cancel.child_token())?;
    // Attachments live there for seconds; an hour-old one was left by a crash.
    crate::media::sweep(
        &channel.state_dir().join("tmp"),
        std::time::Duration::from_secs(3600),
    );
    let ctx = RunContext {
        pipeline: Arc::clone(&pipeline),
        cancel: cancel.clone(),
    };
    match C::connect(channel, account, ctx).await {
        Ok(connector) => Ok((pipeline, connector)),
        Err(error) => {
            pipeline.close().await;
            Err(error)
        }
    }
}

#[async_trait::async_trait]
impl<C: Channel> AnyChannel for Arc<C> {
    fn descriptor(&self) -> Descriptor {
        C::descriptor(self)
    }

    /// A config error in the channel's section is every account's problem, not the host's:
    /// the accounts are still listed (those under `accounts`, else `default`), each one shows
    /// the error in its status, and the rest of the gateway runs.
    fn account_ids(&self, section: &Value) -> Result<Vec<String>, ChannelError> {
        match C::account_ids(self, section) {
            Err(error) if error.kind == ErrorKind::BadInput => {
                tracing::warn!(channel = %C::descriptor(self).id, %error, "config error; its accounts cannot start");
                Ok(crate::config::listed_account_ids(section))
            }
            ids => ids,
        }
    }

    fn describe(&self, section: &Value, account: &str) -> Result<AccountView, ChannelError> {
        match resolve(self.as_ref(), section, account) {
            Ok(resolved) => Ok(self.view(&resolved)),
            Err(error) if error.kind == ErrorKind::BadInput => {
                Ok(AccountView::unusable(account, &error))
            }
            Err(error) => Err(error),
        }
    }

    async fn run(
        &self,
        section: &Value,
        account_id: &str,
        host: Arc<dyn Host>,
        cancel: CancellationToken,
    ) -> Result<(), ChannelError> {
        // Two names out of the descriptor: the rest of it (the config's generated schema, about
        // 28 kB for OpenIM) would be held by each running account for its whole life.
        let (channel_id, id_label) = {
            let descriptor = C::descriptor(self);
            (descriptor.id, descriptor.id_label)
        };
        // Status goes through the pipeline once there is one (its replays wait for the first
        // connection), straight to the host before.
        let opened: Arc<OnceLock<Arc<Pipeline>>> = Arc::default();
        let life = {
            let (host, opened) = (Arc::clone(&host), Arc::clone(&opened));
            let (channel_id, account_id) = (channel_id.clone(), account_id.to_owned());
            Lifecycle::new(
                cancel.clone(),
                Arc::new(move |patch| match opened.get() {
                    Some(pipeline) => pipeline.report_status(patch),
                    None => host.report_status(&channel_id, &account_id, patch),
                }),
            )
        };
        life.starting();
        // One owner per account across processes: a second gateway on this state directory
        // would keep a journal, a send log and a cursor of its own.
        let owner = match AccountLock::acquire(&self.state_dir(), account_id, &cancel).await {
            Ok(owner) => owner,
            Err(error) => return Err(life.stop_before_start(error)),
        };
        let (pipeline, mut connector) = match prepare(
            self,
            (&channel_id, &id_label),
            section,
            account_id,
            host,
            &cancel,
        )
        .await
        {
            Ok(prepared) => prepared,
            Err(error) => return Err(life.stop_before_start(error)),
        };
        let _ = opened.set(Arc::clone(&pipeline));
        let result = supervise(connector.as_mut(), &life, Backoff::default(), account_id).await;
        drop(connector);
        pipeline.close().await;
        drop(owner);
        result
    }

    async fn send(
        &self,
        section: &Value,
        account: &str,
        target: &str,
        message: &Outbound,
    ) -> Result<Receipt, ChannelError> {
        let target = self.parse_target(target)?;
        let account_id = account;
        let account = resolve(self.as_ref(), section, account_id)?;
        let journal = journal_path(self.as_ref(), account_id);
        // The host's restart recovery may repeat what the cut-off run already streamed.
        let trimmed = crate::handover::unsent_part(&journal, &target.id, &message.text);
        let receipt = match trimmed {
            Some(rest) if rest.is_empty() && message.media.is_empty() => {
                tracing::info!(account = account_id, peer = %target.id, "nothing new to send: the host's restart recovery repeats what the cut-off run already streamed (its notice waits for something new)");
                // No new message: the id says so, and no part went out.
                Receipt::Sent {
                    message_id: "already-delivered".into(),
                    parts: 0,
                }
            }
            Some(rest) => {
                let rest = Outbound {
                    text: rest,
                    ..message.clone()
                };
                C::send(self, &account, &target, &rest).await?
            }
            None => C::send(self, &account, &target, message).await?,
        };
        // May be the host's restart recovery answering a turn a replay waits on. A queued
        // message goes out from the outbox, so it counts as well.
        crate::handover::host_sent(&journal, &target.id, &message.text);
        Ok(receipt)
    }

    async fn probe(&self, section: &Value, account: &str) -> Result<Probe, ChannelError> {
        let account = resolve(self.as_ref(), section, account)?;
        C::probe(self, &account).await
    }

    fn backlog(&self, section: &Value, account_id: &str) -> Result<Option<Backlog>, ChannelError> {
        let Some(pipeline) = crate::handover::live(&journal_path(self.as_ref(), account_id)) else {
            return Ok(None);
        };
        let account = resolve(self.as_ref(), section, account_id)?;
        let peers = pipeline.pending_peers();
        let channel = C::backlog(self, &account, &peers)?;
        Ok(Some(Backlog::new(&peers, channel)))
    }

    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError> {
        C::parse_target(self, raw)
    }

    async fn login(
        &self,
        section: &Value,
        account: Option<&str>,
        ui: Arc<dyn LoginUi>,
        cancel: CancellationToken,
    ) -> Result<LoginResult, ChannelError> {
        C::login(self, section, account, ui, cancel).await
    }

    async fn logout(&self, section: &Value, account: &str) -> Result<bool, ChannelError> {
        C::logout(self, section, account).await
    }

    fn actions(&self) -> Vec<ActionSpec> {
        C::actions(self)
    }

    async fn call_action(
        &self,
        section: &Value,
        name: &str,
        args: Value,
        host: Arc<dyn Host>,
    ) -> Result<Value, ChannelError> {
        action::find(&C::descriptor(self).id, &C::actions(self), name)?;
        C::call_action(self, section, name, args, host).await
    }

    fn commands(&self) -> Vec<CommandSpec> {
        C::commands(self)
    }

    fn transport_modules(&self) -> Vec<TransportModule> {
        C::transport_modules(self)
    }

    async fn run_command(
        &self,
        section: &Value,
        command: &str,
        subcommand: &str,
        options: Value,
        ui: Arc<dyn Prompter>,
    ) -> Result<CommandOutcome, ChannelError> {
        let known = C::commands(self)
            .iter()
            .any(|c| c.command == command && c.subcommands.iter().any(|s| s.name == subcommand));
        if !known {
            return Err(ChannelError::bad_input(format!(
                "{}: unknown command {command} {subcommand}",
                C::descriptor(self).id
            )));
        }
        C::run_command(self, section, command, subcommand, options, ui).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;
    use crate::action::{ConfigEdit, OptionSpec, Question, SubcommandSpec};
    use crate::channel::{Capabilities, DeliveryMode, Meta};
    use crate::dm::DmConfig;
    use crate::message::ChatKind;
    use crate::testing::{ScriptedPrompter, StandaloneHost};

    /// Only actions and commands; the rest is the least a channel must have.
    struct Tools;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct Refresh {
        account_id: String,
    }

    #[async_trait::async_trait]
    impl Channel for Tools {
        type Account = String;

        fn descriptor(&self) -> Descriptor {
            Descriptor {
                id: "tools".into(),
                meta: Meta {
                    label: "T".into(),
                    selection_label: "T".into(),
                    docs_path: "/".into(),
                    blurb: "t".into(),
                    order: 0,
                    aliases: vec![],
                },
                capabilities: Capabilities {
                    chat_types: vec![ChatKind::Direct],
                    media: false,
                    block_streaming: false,
                },
                delivery_mode: DeliveryMode::Gateway,
                text_chunk_limit: 100,
                config_schema: json!({"type": "object"}),
                target_hint: "<id>".into(),
                id_label: "id".into(),
                tool_hints: vec![],
                interactive_login: false,
                block_coalesce: Default::default(),
                ui_hints: json!({}),
                replaces: vec![],
                default_account_env: vec![],
            }
        }
        fn state_dir(&self) -> PathBuf {
            PathBuf::from("/nonexistent")
        }
        fn account_ids(&self, _: &Value) -> Result<Vec<String>, ChannelError> {
            Ok(vec!["a".into()])
        }
        fn account(&self, _: &Value, id: &str) -> Result<String, ChannelError> {
            Ok(id.into())
        }
        fn view(&self, account: &String) -> AccountView {
            AccountView {
                account_id: account.clone(),
                name: None,
                enabled: true,
                configured: true,
                unconfigured_reason: None,
                dm: DmConfig::default(),
                group: crate::group::GroupConfig::default(),
            }
        }
        async fn connect(
            &self,
            _: String,
            _: RunContext,
        ) -> Result<Box<dyn crate::supervisor::Connector>, ChannelError> {
            Err(ChannelError::permanent("no connection"))
        }
        async fn send(
            &self,
            _: &String,
            _: &Target,
            _: &Outbound,
        ) -> Result<Receipt, ChannelError> {
            Err(ChannelError::permanent("no sends"))
        }
        async fn probe(&self, _: &String) -> Result<Probe, ChannelError> {
            Err(ChannelError::permanent("no probe"))
        }
        fn parse_target(&self, raw: &str) -> Result<Target, ChannelError> {
            Err(ChannelError::bad_input(raw.to_owned()))
        }

        fn actions(&self) -> Vec<ActionSpec> {
            vec![ActionSpec::tool::<Refresh>(
                "tools_refresh",
                "Refresh a token",
            )]
        }

        async fn call_action(
            &self,
            _section: &Value,
            name: &str,
            args: Value,
            host: Arc<dyn Host>,
        ) -> Result<Value, ChannelError> {
            let args: Refresh = action::parse_args(name, &args)?;
            let token = host
                .call_global("__refresh", vec![json!(args.account_id)])
                .await?
                .ok_or_else(|| ChannelError::permanent("no refresher"))?;
            let path =
                ["channels", "tools", "accounts", &args.account_id, "token"].map(String::from);
            host.set_config(&path, token).await?;
            Ok(json!({"refreshed": true}))
        }

        fn commands(&self) -> Vec<CommandSpec> {
            vec![CommandSpec {
                command: "tools".into(),
                description: "T".into(),
                subcommands: vec![SubcommandSpec {
                    name: "setup".into(),
                    description: "S".into(),
                    options: vec![OptionSpec::new("--account <id>", "which")],
                }],
            }]
        }

        async fn run_command(
            &self,
            _section: &Value,
            _command: &str,
            _subcommand: &str,
            options: Value,
            ui: Arc<dyn Prompter>,
        ) -> Result<CommandOutcome, ChannelError> {
            let account = options["account"].as_str().unwrap_or("default").to_owned();
            let token = ui.ask(&Question::new("Token").secret()).await?;
            Ok(CommandOutcome {
                text: format!("saved {account}"),
                config_edits: vec![ConfigEdit::merge(
                    ["channels", "tools", "accounts", &account],
                    json!({ "token": token }),
                )],
            })
        }
    }

    #[tokio::test]
    async fn actions_reach_the_host_and_unknown_names_are_refused() {
        let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(Tools));
        let host =
            Arc::new(StandaloneHost::default().with_global("__refresh", |_| Ok(json!("t2"))));
        let result = channel
            .call_action(
                &Value::Null,
                "tools_refresh",
                json!({"accountId": "a"}),
                host.clone(),
            )
            .await
            .expect("action");
        assert_eq!(result, json!({"refreshed": true}));
        assert_eq!(
            host.global_calls(),
            [("__refresh".to_owned(), vec![json!("a")])]
        );
        assert_eq!(
            host.config().expect("config")["channels"]["tools"]["accounts"]["a"]["token"],
            "t2"
        );

        let err = channel
            .call_action(&Value::Null, "tools_other", json!({}), host.clone())
            .await
            .expect_err("unknown");
        assert_eq!(err.kind, crate::ErrorKind::BadInput);
        assert!(err.message.contains("\"tools_other\""), "{err}");
        let err = channel
            .call_action(&Value::Null, "tools_refresh", json!({"accountId": 1}), host)
            .await
            .expect_err("bad args");
        assert!(err.message.starts_with("tools_refresh.accountId"), "{err}");
    }

    #[tokio::test]
    async fn commands_ask_and_return_edits() {
        let channel: Arc<dyn AnyChannel> = Arc::new(Arc::new(Tools));
        let ui = Arc::new(ScriptedPrompter::new(["s3cret"]));
        let outcome = channel
            .run_command(
                &Value::Null,
                "tools",
                "setup",
                json!({"account": "a"}),
                ui.clone(),
            )
            .await
            .expect("command");
        assert_eq!(outcome.text, "saved a");
        assert_eq!(
            outcome.config_edits[0].dotted(),
            "channels.tools.accounts.a"
        );
        assert!(ui.asked()[0].secret);
        let err = channel
            .run_command(&Value::Null, "tools", "teardown", json!({}), ui)
            .await
            .expect_err("unknown");
        assert!(err.message.contains("tools teardown"), "{err}");
    }
}
