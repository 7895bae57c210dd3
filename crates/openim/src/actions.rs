//! What `multi-openim` offers besides messaging: the agent tools `multi_openim_send_*`, the
//! operator's `multi-openim.friend` gateway method, and `openclaw multi-openim setup`.
//!
//! Every tool names its account: with several bots on several servers, "the first connected
//! account" would send from whichever happened to log in first.

use std::sync::Arc;

use channel_core::action::{
    self, ActionSpec, CommandOutcome, CommandSpec, ConfigEdit, OptionSpec, Prompter, Question,
    SubcommandSpec, parse_args,
};
use channel_core::{ChannelError, Host, Outbound};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::CHANNEL_ID;
use crate::channel::OpenimChannel;
use crate::config::OpenimConfig;
use crate::outbound::{Attach, parse_target};
use crate::rest::{FriendMethod, RestClient, RestConfig};

pub const SEND_TEXT: &str = "multi_openim_send_text";
pub const SEND_IMAGE: &str = "multi_openim_send_image";
pub const SEND_VIDEO: &str = "multi_openim_send_video";
pub const SEND_FILE: &str = "multi_openim_send_file";
/// `openclaw gateway call multi-openim.friend --params '{"accountId":…,"method":…,"params":…}'`.
pub const FRIEND: &str = "friend";

/// `multi_openim_send_text`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendText {
    /// The account that sends: a key of `channels.multi-openim.accounts` (e.g. `primary`).
    account_id: String,
    /// `<userID>` for a direct message, `group:<groupID>` for a group.
    to: String,
    /// The message. Long text is sent as several messages of at most 4,000 characters.
    text: String,
}

/// `multi_openim_send_image`, `_video` and `_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendMedia {
    /// The account that sends: a key of `channels.multi-openim.accounts` (e.g. `primary`).
    account_id: String,
    /// `<userID>` for a direct message, `group:<groupID>` for a group.
    to: String,
    /// What to send: an `http(s)://` URL, or a local file in the agent's workspace or the
    /// host's media directory. It is uploaded to the account's OpenIM server first.
    media: String,
    /// Text sent as a separate message after the attachment.
    caption: Option<String>,
}

/// `multi-openim.friend`: one friend operation, refused while the friend guard is on.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Friend {
    /// The account whose friends are meant.
    account_id: String,
    /// The SDK method name, e.g. `addFriend`, `getFriendList`, `addBlack`.
    method: String,
    /// The method's argument: the REST body, or the other user's id as a string.
    #[serde(default)]
    params: Value,
}

/// `openclaw multi-openim setup [--account <id>]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetupOptions {
    account: Option<String>,
}

pub fn specs() -> Vec<ActionSpec> {
    vec![
        ActionSpec::tool::<SendText>(
            SEND_TEXT,
            "Send a text message from a multi-openim account to an OpenIM user or group.",
        ),
        ActionSpec::tool::<SendMedia>(
            SEND_IMAGE,
            "Send an image (PNG, JPEG, GIF or WebP) from a multi-openim account to an OpenIM \
             user or group.",
        ),
        ActionSpec::tool::<SendMedia>(
            SEND_VIDEO,
            "Send a video from a multi-openim account to an OpenIM user or group.",
        ),
        ActionSpec::tool::<SendMedia>(
            SEND_FILE,
            "Send a file from a multi-openim account to an OpenIM user or group.",
        ),
        ActionSpec::gateway_method::<Friend>(
            FRIEND,
            "Run one OpenIM friend operation (addFriend, getFriendList, addBlack, …) as an \
             account; refused with MULTI_OPENIM_FRIEND_API_DISABLED while disableFriendSdk is on.",
        ),
    ]
}

pub fn commands() -> Vec<CommandSpec> {
    vec![CommandSpec {
        command: CHANNEL_ID.into(),
        description: "OpenIM accounts of the multi-openim channel".into(),
        subcommands: vec![SubcommandSpec {
            name: "setup".into(),
            description: "Add or change an account (writes channels.multi-openim.accounts.<id>)"
                .into(),
            options: vec![OptionSpec::new(
                "--account <id>",
                "The account to set up (default: primary)",
            )],
        }],
    }]
}

pub async fn call(
    channel: &OpenimChannel,
    section: &Value,
    name: &str,
    args: Value,
    host: Arc<dyn Host>,
) -> Result<Value, ChannelError> {
    match name {
        SEND_TEXT => {
            let args: SendText = parse_args(name, &args)?;
            known_account(section, name, &args.account_id)?;
            let target = parse_target(&args.to)?;
            let message = Outbound::text(args.text);
            let ids = channel
                .send_as(&args.account_id, &target, &message, None)
                .await?;
            Ok(sent(&args.account_id, &target.to_string(), ids))
        }
        SEND_IMAGE | SEND_VIDEO | SEND_FILE => {
            let args: SendMedia = parse_args(name, &args)?;
            known_account(section, name, &args.account_id)?;
            let target = parse_target(&args.to)?;
            if args.media.trim().is_empty() {
                return Err(ChannelError::bad_input(format!("{name}.media: empty")));
            }
            let attach = match name {
                SEND_IMAGE => Attach::Image,
                SEND_VIDEO => Attach::Video,
                _ => Attach::File,
            };
            let message = Outbound {
                text: args.caption.unwrap_or_default(),
                media: vec![args.media.trim().to_owned()],
                media_roots: host.media_roots().await?,
                ..Outbound::default()
            };
            let ids = channel
                .send_as(&args.account_id, &target, &message, Some(attach))
                .await?;
            Ok(sent(&args.account_id, &target.to_string(), ids))
        }
        FRIEND => {
            let what = format!("{CHANNEL_ID}.{FRIEND}");
            let args: Friend = parse_args(&what, &args)?;
            let method: FriendMethod = args
                .method
                .parse()
                .map_err(|e: ChannelError| e.context(format!("{what}.method")))?;
            let rest = match channel.live_rest(&args.account_id) {
                Some(rest) => rest,
                None => {
                    let settings = OpenimConfig::parse(section)?.account(&args.account_id)?;
                    RestClient::new(RestConfig::from_account(&settings)?)?
                }
            };
            let data = rest.friend(method, args.params).await?;
            Ok(json!({ "accountId": args.account_id, "method": method.name(), "data": data }))
        }
        other => {
            action::find(CHANNEL_ID, &specs(), other)?;
            Err(ChannelError::permanent(format!(
                "{CHANNEL_ID}: action {other} is declared but has no handler"
            )))
        }
    }
}

/// An account the config does not name is a mistake of the caller, not a passing failure.
fn known_account(section: &Value, tool: &str, account: &str) -> Result<(), ChannelError> {
    if account.trim().is_empty() {
        return Err(ChannelError::bad_input(format!(
            "{tool}.accountId: empty (name one of channels.multi-openim.accounts)"
        )));
    }
    let ids = OpenimConfig::parse(section)?.account_ids();
    if ids.iter().any(|id| id == account) {
        return Ok(());
    }
    Err(ChannelError::bad_input(format!(
        "{tool}.accountId: unknown account {account:?} (configured: {})",
        if ids.is_empty() {
            "none".to_owned()
        } else {
            ids.join(", ")
        }
    )))
}

fn sent(account: &str, to: &str, ids: Vec<String>) -> Value {
    json!({ "accountId": account, "to": to, "messageIds": ids })
}

pub async fn run_command(
    section: &Value,
    command: &str,
    subcommand: &str,
    options: Value,
    ui: Arc<dyn Prompter>,
) -> Result<CommandOutcome, ChannelError> {
    let what = format!("{command} {subcommand}");
    if command != CHANNEL_ID || subcommand != "setup" {
        return Err(ChannelError::bad_input(format!(
            "{CHANNEL_ID}: unknown command {what}"
        )));
    }
    let options: SetupOptions = parse_args(&what, &options)?;
    setup(section, &what, options, ui.as_ref()).await
}

/// Asks for one account's server and token, checks them with the same rules the gateway uses,
/// and returns the edit; settings the questions do not cover stay as they are.
async fn setup(
    section: &Value,
    what: &str,
    options: SetupOptions,
    ui: &dyn Prompter,
) -> Result<CommandOutcome, ChannelError> {
    let account = match options.account {
        Some(id) => id.trim().to_owned(),
        None => {
            ui.ask(&Question::new("Account id").with_default("primary"))
                .await?
        }
    };
    if account.is_empty() || account.contains(['/', '\\', '.']) {
        return Err(ChannelError::bad_input(format!(
            "{what}: account id {account:?}: use letters, digits, '-' or '_'"
        )));
    }
    let current = section
        .get("accounts")
        .and_then(|a| a.get(&account))
        .cloned()
        .unwrap_or(Value::Null);
    let existing = |key: &str| current.get(key).and_then(Value::as_str).map(str::to_owned);
    if current.is_object() {
        ui.say(&format!(
            "Changing account {account}; an empty answer keeps the current value."
        ))
        .await;
    }

    let ws_addr = ui
        .ask(
            &Question::new("Message gateway URL (wsAddr)")
                .with_default(existing("wsAddr").unwrap_or_else(|| "ws://127.0.0.1:10001".into())),
        )
        .await?;
    let api_default = existing("apiAddr").unwrap_or_else(|| api_from_ws(&ws_addr));
    let api_addr = ui
        .ask(&Question::new("REST API URL (apiAddr)").with_default(api_default))
        .await?;
    let mut token_question = Question::new("User token (JWT)").secret();
    if let Some(token) = existing("token") {
        token_question = token_question.with_default(token);
    }
    let token = ui.ask(&token_question).await?;
    if token.is_empty() {
        return Err(ChannelError::bad_input(format!("{what}: token: required")));
    }
    let mention_default = match current.get("requireMention").and_then(Value::as_bool) {
        Some(true) => "y",
        _ => "n",
    };
    let require_mention = ui
        .ask(
            &Question::new("In groups, answer only when the bot is @-mentioned? (y/n)")
                .with_default(mention_default),
        )
        .await?;
    let require_mention = match require_mention.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" => true,
        "n" | "no" | "false" => false,
        other => {
            return Err(ChannelError::bad_input(format!(
                "{what}: requireMention: answer y or n, not {other:?}"
            )));
        }
    };

    let patch = json!({
        "enabled": true,
        "wsAddr": ws_addr,
        "apiAddr": api_addr,
        "token": token,
        "requireMention": require_mention,
    });
    // Check the result exactly as the gateway will read it.
    let mut merged = section.clone();
    ConfigEdit::merge(["accounts", account.as_str()], patch.clone()).apply(&mut merged)?;
    let settings = OpenimConfig::parse(&merged)?.account(&account)?;
    let credentials = settings.base.credentials.clone()?;
    ui.say(&format!(
        "Token for user {} on platform {}.",
        credentials.user_id, credentials.platform_id
    ))
    .await;
    match RestClient::new(RestConfig::from_account(&settings)?)?
        .server_time()
        .await
    {
        Ok(_) => ui.say("The server accepted the token.").await,
        Err(err) => {
            ui.say(&format!(
                "Could not check the token with the server ({err}); saving anyway."
            ))
            .await
        }
    }
    Ok(CommandOutcome {
        text: format!(
            "Saved channels.{CHANNEL_ID}.accounts.{account}. A running gateway picks it up; \
             otherwise run `openclaw gateway restart`."
        ),
        config_edits: vec![ConfigEdit::merge(
            ["channels", CHANNEL_ID, "accounts", account.as_str()],
            patch,
        )],
    })
}

/// `ws://host:10001` → `http://host:10002`, the ports of a default OpenIM deployment.
fn api_from_ws(ws: &str) -> String {
    let Ok(mut url) = url::Url::parse(ws) else {
        return "http://127.0.0.1:10002".into();
    };
    let scheme = if url.scheme() == "wss" {
        "https"
    } else {
        "http"
    };
    if url.set_scheme(scheme).is_err() {
        return "http://127.0.0.1:10002".into();
    }
    if url.port() == Some(10001) {
        let _ = url.set_port(Some(10002));
    }
    url.set_path("");
    url.to_string().trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_address_follows_the_gateway_address() {
        assert_eq!(
            api_from_ws("ws://im.example.com:10001"),
            "http://im.example.com:10002"
        );
        assert_eq!(
            api_from_ws("wss://im.example.com/msg_gateway"),
            "https://im.example.com"
        );
        assert_eq!(api_from_ws("not a url"), "http://127.0.0.1:10002");
    }

    #[test]
    fn every_spec_is_valid_and_tools_require_the_account() {
        action::validate(CHANNEL_ID, &specs(), &commands()).unwrap();
        for spec in specs() {
            let required: Vec<&str> = spec.parameters["required"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                required.contains(&"accountId"),
                "{}: {required:?}",
                spec.name
            );
        }
    }
}
