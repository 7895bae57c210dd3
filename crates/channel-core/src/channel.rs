//! The `Channel` trait: what a protocol crate implements.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::action::{ActionSpec, CommandOutcome, CommandSpec, Prompter};
use crate::dm::DmConfig;
use crate::error::ChannelError;
use crate::group::GroupConfig;
use crate::host::{Host, TransportModule};
use crate::login::{LoginResult, LoginUi};
use crate::message::{ChatKind, Fetched, Inbound, Media, Outbound, Receipt, Target};
use crate::pipeline::{Accepted, Pipeline};
use crate::supervisor::Connector;

/// How `openclaw message send` reaches the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// Sends run in whichever process asks (stateless HTTP plus state on disk).
    Direct,
    /// Sends run in the gateway, next to the live connection.
    Gateway,
}

/// Catalog metadata, shown by OpenClaw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub label: String,
    pub selection_label: String,
    pub docs_path: String,
    pub blurb: String,
    pub order: u32,
    /// Other names `--channel` takes (`openclaw channels add --channel openim`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl Meta {
    /// A channel's labels; its docs page is `/channels/<id>`, where OpenClaw keeps channel
    /// pages.
    pub fn new(id: &str, label: &str, selection_label: &str) -> Self {
        Self {
            label: label.into(),
            selection_label: selection_label.into(),
            docs_path: format!("/channels/{id}"),
            blurb: String::new(),
            order: 0,
            aliases: Vec::new(),
        }
    }

    /// Other names the CLI takes for the channel.
    pub fn aliases(mut self, aliases: &[&str]) -> Self {
        self.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
        self
    }

    /// One line for the channel picker.
    pub fn blurb(mut self, blurb: &str) -> Self {
        self.blurb = blurb.into();
        self
    }

    /// Where the channel sorts among the others.
    pub fn order(mut self, order: u32) -> Self {
        self.order = order;
        self
    }
}

/// What the channel can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub chat_types: Vec<ChatKind>,
    pub media: bool,
    pub block_streaming: bool,
}

/// How the host merges a streamed answer's pieces into blocks before each is sent (OpenClaw's
/// `blockStreamingCoalesceDefaults`): it waits for `min_chars`, or for `idle_ms` without new
/// text. `channels.<id>.streaming.block.coalesce` overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockCoalesce {
    pub min_chars: u32,
    pub idle_ms: u32,
}

impl BlockCoalesce {
    /// A chat bubble of a few paragraphs, or whatever came before a pause of 1.5 s: fewer,
    /// fuller messages than OpenClaw's own default of 800 characters or 1 s.
    pub const DEFAULT: BlockCoalesce = BlockCoalesce {
        min_chars: 600,
        idle_ms: 1500,
    };
}

impl Default for BlockCoalesce {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything the host needs to know about a channel without running it. Data, not code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub id: String,
    pub meta: Meta,
    pub capabilities: Capabilities,
    pub delivery_mode: DeliveryMode,
    pub text_chunk_limit: usize,
    /// JSON Schema of `channels.<id>`, generated from the Rust config type.
    pub config_schema: serde_json::Value,
    /// How targets look, for the host's "unknown target" hint.
    pub target_hint: String,
    /// What a pairing entry is called (`openclaw pairing list`).
    pub id_label: String,
    /// Lines for the agent's message tool.
    pub tool_hints: Vec<String>,
    /// Accounts log in interactively (`openclaw channels login`, a QR code).
    pub interactive_login: bool,
    /// Plugin ids of the plugins this channel replaces with the same channel id and config
    /// (the manifest's `preferOver`). The first is the plugin id of a package of this channel
    /// alone, so `plugins.entries.<id>` written for the old plugin keeps working.
    #[serde(default)]
    pub replaces: Vec<String>,
    /// How streamed replies are merged into blocks (see [`BlockCoalesce`]).
    #[serde(default)]
    pub block_coalesce: BlockCoalesce,
    /// OpenClaw's `uiHints` for `channels.<id>` (see [`crate::schema::ui_hints_for`]).
    #[serde(default)]
    pub ui_hints: serde_json::Value,
    /// The environment variables the `default` account reads its credentials from when its
    /// keys are unset (`openclaw channels add --use-env`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_account_env: Vec<String>,
}

impl Descriptor {
    /// A channel that carries media, streams replies in blocks and sends from the gateway
    /// process, which alone holds each account's live connection (and, for WeChat, each peer's
    /// window). The rest is the channel's to fill in.
    pub fn new(
        id: &str,
        meta: Meta,
        chat_types: Vec<ChatKind>,
        config_schema: serde_json::Value,
    ) -> Self {
        Self {
            id: id.into(),
            meta,
            capabilities: Capabilities {
                chat_types,
                media: true,
                block_streaming: true,
            },
            delivery_mode: DeliveryMode::Gateway,
            text_chunk_limit: 4000,
            config_schema,
            target_hint: String::new(),
            id_label: String::new(),
            tool_hints: Vec::new(),
            interactive_login: false,
            replaces: Vec::new(),
            block_coalesce: BlockCoalesce::DEFAULT,
            ui_hints: serde_json::json!({}),
            default_account_env: Vec::new(),
        }
    }
}

/// A secret-free summary of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub enabled: bool,
    pub configured: bool,
    /// Why the account cannot run, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unconfigured_reason: Option<String>,
    pub dm: DmConfig,
    /// The group gate; closed (OpenClaw's default) for channels without groups.
    #[serde(default)]
    pub group: GroupConfig,
}

/// What every account of every channel resolves to, whatever else its channel adds: who it
/// is, whether it runs, who may reach it, and its credentials `C`, or why it has none it can use
/// (the other accounts still run).
#[derive(Debug, Clone)]
pub struct AccountBase<C> {
    pub id: String,
    /// Both the channel and the account are enabled.
    pub enabled: bool,
    pub credentials: Result<C, ChannelError>,
    pub dm: DmConfig,
    pub group: GroupConfig,
}

impl<C> AccountBase<C> {
    /// The account as `openclaw channels status` shows it: configured when the credentials
    /// resolved, with their error as the reason when they did not.
    pub fn view(&self) -> AccountView {
        AccountView {
            account_id: self.id.clone(),
            name: None,
            enabled: self.enabled,
            configured: self.credentials.is_ok(),
            unconfigured_reason: self.credentials.as_ref().err().map(|e| e.message.clone()),
            dm: self.dm.clone(),
            group: self.group.clone(),
        }
    }
}

impl AccountView {
    /// An account that cannot run because its config is wrong: not configured, with the error
    /// as the reason, closed to DMs and groups.
    pub fn unusable(account_id: &str, error: &ChannelError) -> Self {
        Self {
            account_id: account_id.to_owned(),
            name: None,
            enabled: true,
            configured: false,
            unconfigured_reason: Some(error.message.clone()),
            dm: DmConfig {
                policy: crate::dm::DmPolicy::Disabled,
                ..DmConfig::default()
            },
            group: GroupConfig::default(),
        }
    }
}

/// Result of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub ok: bool,
    pub detail: String,
    pub elapsed_ms: u64,
}

/// Handed to [`Channel::connect`]: where inbound messages go, and when to stop. Status is
/// not in here: the supervisor writes it, from what the session tells its
/// [`crate::supervisor::Lifecycle`].
#[derive(Clone, Debug)]
pub struct RunContext {
    pub pipeline: Arc<Pipeline>,
    pub cancel: CancellationToken,
}

impl RunContext {
    /// Hands a normalized message on to dedup, the DM gate and the host.
    pub async fn accept(&self, inbound: Inbound) -> Result<Accepted, ChannelError> {
        self.pipeline.accept(inbound).await
    }

    /// [`RunContext::accept`] for what one read brought, in order, with one fsync for all.
    pub async fn accept_many(&self, batch: Vec<Inbound>) -> Result<Vec<Accepted>, ChannelError> {
        self.pipeline.accept_many(batch).await
    }

    /// A batch accepted one message at a time, with one fsync at its commit.
    pub fn batch(&self) -> crate::Batch {
        self.pipeline.batch()
    }

    /// The host's services beyond inbound (global functions, config writes).
    pub fn host(&self) -> Arc<dyn Host> {
        self.pipeline.host()
    }
}

/// One IM protocol. Implementations are cheap to share (`Arc`) and hold no per-account state
/// outside what `run` creates.
#[async_trait::async_trait]
pub trait Channel: Send + Sync + 'static {
    /// One account's resolved config and credentials.
    type Account: Clone + Send + Sync + 'static;

    fn descriptor(&self) -> Descriptor;

    /// Where this channel keeps its state files.
    fn state_dir(&self) -> PathBuf;

    /// Account ids, from `channels.<id>` and the channel's own state.
    fn account_ids(&self, section: &serde_json::Value) -> Result<Vec<String>, ChannelError>;

    /// Resolves one account. Bad config is a `BadInput` error naming the field.
    fn account(&self, section: &serde_json::Value, id: &str)
    -> Result<Self::Account, ChannelError>;

    fn view(&self, account: &Self::Account) -> AccountView;

    /// Prepares one account's connection. channel-core's supervisor runs it session after
    /// session (backoff, kicks, recovery, status) until `ctx.cancel` fires or a person must
    /// act; inbound messages go to `ctx`.
    async fn connect(
        &self,
        account: Self::Account,
        ctx: RunContext,
    ) -> crate::Result<Box<dyn Connector>>;

    /// Sends one logical message to `to`.
    async fn send(
        &self,
        account: &Self::Account,
        to: &Target,
        message: &Outbound,
    ) -> crate::Result<Receipt>;

    async fn probe(&self, account: &Self::Account) -> Result<Probe, ChannelError>;

    /// Downloads an inbound attachment (its `locator`) into a temporary file. Called after dedup
    /// and the DM gate, so nothing is fetched for messages that are dropped.
    async fn fetch_media(
        &self,
        _account: &Self::Account,
        media: &Media,
    ) -> Result<Fetched, ChannelError> {
        Err(ChannelError::permanent(format!(
            "{}: cannot fetch {} attachments",
            self.descriptor().id,
            media.kind
        )))
    }

    /// Shows (`active`) or clears "typing…" in the chat while the agent works. Channels without
    /// typing indicators keep the default.
    async fn typing(
        &self,
        _account: &Self::Account,
        _target: &Target,
        _active: bool,
    ) -> Result<(), ChannelError> {
        Ok(())
    }

    /// How many of one turn's streamed blocks may go to `target` one by one, asked at the
    /// turn's first block; `None` (the default) sets no limit. Blocks past it are merged and go
    /// out as one message with the answer's end. WeChat limits them so that a streamed answer
    /// never needs more of the peer's window than the whole answer would.
    async fn block_budget(&self, _account: &Self::Account, _target: &Target) -> Option<usize> {
        None
    }

    /// What waits in the channel's own queues for `account` (WeChat's outbox, windows closing
    /// soon), given the peers that have turns pending (one entry per turn). Read when the
    /// status is asked for.
    fn backlog(
        &self,
        _account: &Self::Account,
        _pending_peers: &[String],
    ) -> Result<crate::ChannelBacklog, ChannelError> {
        Ok(crate::ChannelBacklog::default())
    }

    /// The agent is done with `inbound` (its turn finished). Channels that tell the peer so
    /// (read receipts) do it here; failures are only logged.
    async fn handled(
        &self,
        _account: &Self::Account,
        _inbound: &Inbound,
    ) -> Result<(), ChannelError> {
        Ok(())
    }

    /// Logs an account in interactively (a QR scan). `account` is the one the host names
    /// (`openclaw channels login --account`, else its default), `None` when it names none; the
    /// host reports on that account afterwards, whatever the login returns.
    async fn login(
        &self,
        _section: &serde_json::Value,
        _account: Option<&str>,
        _ui: Arc<dyn LoginUi>,
        _cancel: CancellationToken,
    ) -> Result<LoginResult, ChannelError> {
        Err(ChannelError::bad_input(format!(
            "{}: interactive login is not supported",
            self.descriptor().id
        )))
    }

    /// Forgets an account's credentials and state. Returns whether there was anything to forget.
    async fn logout(
        &self,
        _section: &serde_json::Value,
        account: &str,
    ) -> Result<bool, ChannelError> {
        Err(ChannelError::bad_input(format!(
            "{}: cannot log out {account}: not supported",
            self.descriptor().id
        )))
    }

    /// Parses a user-typed target (`user:<id>`, `<channel>:<id>`, a bare id).
    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError>;

    /// Agent tools and gateway RPC methods this channel offers. Data only: the packager writes
    /// the manifest from it without running the channel.
    fn actions(&self) -> Vec<ActionSpec> {
        Vec::new()
    }

    /// Runs action `name` (one of [`Channel::actions`]) with its JSON arguments (parse them with
    /// [`crate::action::parse_args`]); the result goes back to the model or the RPC caller as
    /// JSON, so it must hold no secret. It may run in any process that loaded the plugin: a
    /// channel reaches its running accounts through its own state, never through `section`
    /// alone. `host` offers the host's global functions and config writes.
    async fn call_action(
        &self,
        _section: &serde_json::Value,
        name: &str,
        _args: serde_json::Value,
        _host: Arc<dyn Host>,
    ) -> Result<serde_json::Value, ChannelError> {
        Err(ChannelError::bad_input(format!(
            "{}: unknown action {name:?}",
            self.descriptor().id
        )))
    }

    /// Root CLI commands this channel offers (`openclaw <command> <subcommand>`).
    fn commands(&self) -> Vec<CommandSpec> {
        Vec::new()
    }

    /// The JS modules this channel's accounts open in the host ([`Host::open_transport`]).
    /// Data only: the packager ships them without running the channel.
    fn transport_modules(&self) -> Vec<TransportModule> {
        Vec::new()
    }

    /// Runs `openclaw <command> <subcommand>` in the CLI process. `options` holds the parsed
    /// options by key (see [`crate::action::OptionSpec::key`]); `ui` asks the person at the
    /// terminal. Config changes are returned as edits for the host to save, never written here.
    async fn run_command(
        &self,
        _section: &serde_json::Value,
        command: &str,
        subcommand: &str,
        _options: serde_json::Value,
        _ui: Arc<dyn Prompter>,
    ) -> Result<CommandOutcome, ChannelError> {
        Err(ChannelError::bad_input(format!(
            "{}: unknown command {command} {subcommand}",
            self.descriptor().id
        )))
    }
}
