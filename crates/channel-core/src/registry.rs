//! Type-erased channels, so a host can hold several protocols in one list and talk to them in
//! JSON (the config section as OpenClaw has it, targets as users type them).

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::channel::{AccountView, Channel, Descriptor, Probe, RunContext};
use crate::dedup::Window;
use crate::error::ChannelError;
use crate::host::{Host, StatusPatch};
use crate::login::{LoginResult, LoginUi};
use crate::message::{Fetched, Media, Outbound, Receipt, Target};
use crate::pipeline::{Outlet, Pipeline, PipelineConfig};

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
    fn parse_target(&self, raw: &str) -> Result<Target, ChannelError>;
    async fn login(
        &self,
        section: &Value,
        account: Option<&str>,
        ui: Arc<dyn LoginUi>,
        cancel: CancellationToken,
    ) -> Result<LoginResult, ChannelError>;
    async fn logout(&self, section: &Value, account: &str) -> Result<bool, ChannelError>;
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
}

#[async_trait::async_trait]
impl<C: Channel> AnyChannel for Arc<C> {
    fn descriptor(&self) -> Descriptor {
        C::descriptor(self)
    }

    fn account_ids(&self, section: &Value) -> Result<Vec<String>, ChannelError> {
        C::account_ids(self, section)
    }

    fn describe(&self, section: &Value, account: &str) -> Result<AccountView, ChannelError> {
        Ok(self.view(&self.account(section, account)?))
    }

    async fn run(
        &self,
        section: &Value,
        account_id: &str,
        host: Arc<dyn Host>,
        cancel: CancellationToken,
    ) -> Result<(), ChannelError> {
        let account = self.account(section, account_id)?;
        let view = self.view(&account);
        let descriptor = C::descriptor(self);
        if !view.configured {
            let reason = view
                .unconfigured_reason
                .unwrap_or_else(|| "not configured".into());
            return Err(ChannelError::needs_login(format!(
                "account {account_id}: {reason}"
            )));
        }
        let outlet = Arc::new(AccountOutlet {
            channel: Arc::clone(self),
            account: account.clone(),
        });
        let config = PipelineConfig {
            channel: descriptor.id.clone(),
            account: account_id.to_owned(),
            id_label: descriptor.id_label.clone(),
            dm: view.dm,
            journal: self
                .state_dir()
                .join("dedup")
                .join(format!("{account_id}.jsonl")),
            window: Window::default(),
        };
        let pipeline = Pipeline::open(config, Arc::clone(&host), outlet, cancel.child_token())?;
        let ctx = RunContext {
            pipeline: Arc::clone(&pipeline),
            cancel,
        };
        ctx.status(StatusPatch {
            running: Some(true),
            lifecycle: Some("starting".into()),
            ..StatusPatch::default()
        });
        let result = C::run(self, account, ctx.clone()).await;
        pipeline.close().await;
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
        let account = self.account(section, account)?;
        C::send(self, &account, &target, message).await
    }

    async fn probe(&self, section: &Value, account: &str) -> Result<Probe, ChannelError> {
        let account = self.account(section, account)?;
        C::probe(self, &account).await
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
}
