//! What a channel offers besides messaging: **actions** (agent tools and gateway RPC methods)
//! and **commands** (`openclaw <command> <subcommand> [--options]`).
//!
//! Everything a host needs to register them is data: names, descriptions and the JSON Schema of
//! the arguments ([`ActionSpec`]), the command tree ([`CommandSpec`]). The packager writes the
//! manifest's `contracts.tools`, `toolMetadata` and `cliCommands` from it without running any
//! channel code, and the JS entry registers every action and command without knowing the
//! channel. Running them goes through one async entry point each: [`Channel::call_action`] and
//! [`Channel::run_command`].
//!
//! A command never writes the OpenClaw config itself: it returns [`ConfigEdit`]s in its
//! [`CommandOutcome`], and the host applies them with its own config API (so the file keeps its
//! comments, `$include`s and SecretRefs, and a running gateway reloads what changed).
//!
//! ```
//! use channel_core::action::{ActionSpec, CommandSpec, OptionSpec, SubcommandSpec, parse_args};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! #[serde(rename_all = "camelCase", deny_unknown_fields)]
//! struct SendText {
//!     /// The account that sends.
//!     account_id: String,
//!     to: String,
//!     text: String,
//! }
//!
//! let tool = ActionSpec::tool::<SendText>("multi_openim_send_text", "Send a text message.");
//! assert_eq!(tool.parameters["required"][0], "accountId");
//! let args: SendText = parse_args("multi_openim_send_text", &serde_json::json!({
//!     "accountId": "primary", "to": "u1", "text": "hi",
//! })).unwrap();
//! assert_eq!(args.to, "u1");
//!
//! let setup = CommandSpec {
//!     command: "multi-openim".into(),
//!     description: "OpenIM accounts".into(),
//!     subcommands: vec![SubcommandSpec {
//!         name: "setup".into(),
//!         description: "Add or change an account".into(),
//!         options: vec![OptionSpec::new("--account <id>", "The account to set up")],
//!     }],
//! };
//! assert_eq!(setup.subcommands[0].options[0].key().as_deref(), Some("account"));
//! ```
//!
//! [`Channel::call_action`]: crate::Channel::call_action
//! [`Channel::run_command`]: crate::Channel::run_command

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ChannelError;

/// How the host exposes an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionKind {
    /// An agent tool (`api.registerTool`), declared in the manifest's `contracts.tools`. The
    /// name is the tool's name, as the model sees it.
    Tool,
    /// A gateway RPC method (`api.registerGatewayMethod`), registered as `<channel>.<name>` and
    /// reached with `openclaw gateway call <channel>.<name> --params '{…}'`. Operator-only
    /// (`operator.admin` scope).
    GatewayMethod,
}

/// One action of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionSpec {
    /// Tools: `^[a-z][a-z0-9_]*$`, at most 64 characters, unique in the whole plugin (prefix it
    /// with the channel). Gateway methods: `^[a-z][a-zA-Z0-9_.-]*$`; the channel id is
    /// prepended by the host.
    pub name: String,
    pub kind: ActionKind,
    /// What it does, for the model (tools) or the operator (gateway methods).
    pub description: String,
    /// JSON Schema (draft-07, subschemas inlined) of the arguments; always an object schema.
    pub parameters: Value,
    /// Tools only: the operator must allowlist it (`tools.allow`) before a model sees it.
    #[serde(default)]
    pub optional: bool,
}

impl ActionSpec {
    /// An agent tool whose arguments are `P` (schema generated with schemars).
    pub fn tool<P: JsonSchema>(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new::<P>(ActionKind::Tool, name, description)
    }

    /// A gateway RPC method whose params are `P` (schema generated with schemars).
    pub fn gateway_method<P: JsonSchema>(
        name: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self::new::<P>(ActionKind::GatewayMethod, name, description)
    }

    fn new<P: JsonSchema>(
        kind: ActionKind,
        name: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            kind,
            description: description.into(),
            parameters: crate::schema::for_type::<P>(),
            optional: false,
        }
    }

    /// Marks a tool as opt-in (`toolMetadata.<name>.optional` in the manifest).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The name the host registers: the tool name, or `<channel>.<name>` for a gateway method.
    pub fn host_name(&self, channel: &str) -> String {
        match self.kind {
            ActionKind::Tool => self.name.clone(),
            ActionKind::GatewayMethod => format!("{channel}.{}", self.name),
        }
    }
}

/// Finds action `name` among `actions`; the error names it and lists the known ones.
pub fn find<'a>(
    channel: &str,
    actions: &'a [ActionSpec],
    name: &str,
) -> Result<&'a ActionSpec, ChannelError> {
    actions.iter().find(|a| a.name == name).ok_or_else(|| {
        let known: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        ChannelError::bad_input(format!(
            "{channel}: unknown action {name:?} (it has {known:?})"
        ))
    })
}

/// Parses an action's arguments (or a command's options) into `T`; errors name the field as
/// `<what>.<field>`. A missing argument object (`null`) reads as `{}`.
pub fn parse_args<T: DeserializeOwned>(what: &str, args: &Value) -> Result<T, ChannelError> {
    if args.is_null() {
        return crate::config::parse_config(what, &Value::Object(Default::default()));
    }
    crate::config::parse_config(what, args)
}

/// A root CLI command of a channel: `openclaw <command> <subcommand> [options]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSpec {
    /// The root command, e.g. `multi-openim`: letters, digits, `-` and `_`, starting with a
    /// letter or digit. Listed in the manifest's `cliCommands`.
    pub command: String,
    pub description: String,
    pub subcommands: Vec<SubcommandSpec>,
}

/// `openclaw <command> <name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubcommandSpec {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub options: Vec<OptionSpec>,
}

/// One option, in commander's notation: `--account <id>` (takes a value), `--force` (a flag),
/// `-a, --account <id>` (with a short form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionSpec {
    pub flags: String,
    pub description: String,
}

impl OptionSpec {
    pub fn new(flags: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            flags: flags.into(),
            description: description.into(),
        }
    }

    /// The key the option arrives under in `run_command`'s `options`, as commander names it:
    /// `--account <id>` → `account`, `--dry-run` → `dryRun`. `None` without a long flag.
    pub fn key(&self) -> Option<String> {
        let long = self
            .flags
            .split([',', ' ', '|'])
            .find_map(|part| part.trim().strip_prefix("--"))?;
        let long = long.strip_prefix("no-").unwrap_or(long);
        if long.is_empty() {
            return None;
        }
        let mut key = String::with_capacity(long.len());
        let mut upper = false;
        for c in long.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                key.extend(c.to_uppercase());
                upper = false;
            } else {
                key.push(c);
            }
        }
        Some(key)
    }
}

/// What a command did: text for the person who ran it, and config edits for the host to apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandOutcome {
    /// Printed once the edits are saved.
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_edits: Vec<ConfigEdit>,
}

/// One change to the OpenClaw config: put `value` at `path`
/// (`["channels", "multi-openim", "accounts", "primary"]`), creating the objects on the way.
/// A `null` value removes the key. With `merge`, an object value is merged key by key into the
/// object already there (a `null` member removes that member), so settings the command does not
/// know stay as they are.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigEdit {
    pub path: Vec<String>,
    pub value: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merge: bool,
}

/// Values often hold credentials: debug output shows the path only.
impl std::fmt::Debug for ConfigEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigEdit")
            .field("path", &self.path.join("."))
            .field("merge", &self.merge)
            .finish_non_exhaustive()
    }
}

impl ConfigEdit {
    /// Replaces whatever is at `path` with `value`.
    pub fn set<S: Into<String>>(path: impl IntoIterator<Item = S>, value: Value) -> Self {
        Self {
            path: path.into_iter().map(Into::into).collect(),
            value,
            merge: false,
        }
    }

    /// Merges the members of `value` (an object) into the object at `path`.
    pub fn merge<S: Into<String>>(path: impl IntoIterator<Item = S>, value: Value) -> Self {
        Self {
            merge: true,
            ..Self::set(path, value)
        }
    }

    /// The dotted path, for messages (never the value: it may be a secret).
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// Applies the edit to a config document. The host's JS entry does the same with the
    /// config API; this one serves standalone hosts and tests.
    pub fn apply(&self, doc: &mut Value) -> Result<(), ChannelError> {
        let Some((last, parents)) = self.path.split_last() else {
            return Err(ChannelError::bad_input("config edit: empty path"));
        };
        if let Some(empty) = self.path.iter().position(String::is_empty) {
            return Err(ChannelError::bad_input(format!(
                "config edit {}: path segment {empty} is empty",
                self.dotted()
            )));
        }
        let mut node = doc;
        for key in parents {
            if !node.is_object() {
                *node = Value::Object(Default::default());
            }
            node = node
                .as_object_mut()
                .expect("made an object above")
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Default::default()));
        }
        if !node.is_object() {
            *node = Value::Object(Default::default());
        }
        let parent = node.as_object_mut().expect("made an object above");
        match (&self.value, self.merge) {
            (Value::Null, _) => {
                parent.remove(last);
            }
            (Value::Object(members), true) => {
                let target = parent
                    .entry(last.clone())
                    .or_insert_with(|| Value::Object(Default::default()));
                if !target.is_object() {
                    *target = Value::Object(Default::default());
                }
                let target = target.as_object_mut().expect("made an object above");
                for (key, value) in members {
                    if value.is_null() {
                        target.remove(key);
                    } else {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
            (value, _) => {
                parent.insert(last.clone(), value.clone());
            }
        }
        Ok(())
    }
}

/// A question for the person running a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// What is asked, without a trailing colon ("Server URL").
    pub question: String,
    /// Taken when the answer is empty; shown unless the question is secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Typing is not echoed (tokens, passwords).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

impl Question {
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            default: None,
            secret: false,
        }
    }

    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }

    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// The terminal of the person running a command (in OpenClaw: the CLI process's).
#[async_trait::async_trait]
pub trait Prompter: Send + Sync {
    /// A line for the person (progress, hints).
    async fn say(&self, text: &str);

    /// Asks for one line and returns it as typed, without the line break. Fails when no answer
    /// can come (input closed).
    async fn prompt(&self, question: &Question) -> Result<String, ChannelError>;

    /// Asks, trims the answer, and takes the default for an empty one.
    async fn ask(&self, question: &Question) -> Result<String, ChannelError> {
        let typed = self.prompt(question).await?;
        let typed = typed.trim();
        match &question.default {
            Some(default) if typed.is_empty() => Ok(default.clone()),
            _ => Ok(typed.to_owned()),
        }
    }
}

/// Checks what a channel declares before a host registers it: name shapes, duplicates, object
/// schemas, option flags. Errors name the offending entry.
pub fn validate(
    channel: &str,
    actions: &[ActionSpec],
    commands: &[CommandSpec],
) -> Result<(), ChannelError> {
    let bad =
        |what: String, why: &str| Err(ChannelError::bad_input(format!("{channel}: {what}: {why}")));
    let mut seen = std::collections::HashSet::new();
    for (i, action) in actions.iter().enumerate() {
        let at = format!("actions[{i}] ({:?})", action.name);
        let name = action.name.as_str();
        let ok = match action.kind {
            ActionKind::Tool => {
                name.len() <= 64
                    && name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            }
            ActionKind::GatewayMethod => {
                channel.len() + 1 + name.len() <= 128
                    && name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            }
        };
        if !ok {
            return bad(
                format!("{at}.name"),
                "tools are [a-z][a-z0-9_]* (64 at most), gateway methods [a-z][a-zA-Z0-9_.-]*",
            );
        }
        if !seen.insert((action.kind, name)) {
            return bad(format!("{at}.name"), "declared twice");
        }
        if action.description.trim().is_empty() {
            return bad(format!("{at}.description"), "empty");
        }
        if action.parameters.get("type").and_then(Value::as_str) != Some("object") {
            return bad(
                format!("{at}.parameters"),
                "must be a JSON Schema of type object",
            );
        }
        if action.optional && action.kind != ActionKind::Tool {
            return bad(format!("{at}.optional"), "only tools can be optional");
        }
    }
    let word = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let mut roots = std::collections::HashSet::new();
    for (i, command) in commands.iter().enumerate() {
        let at = format!("commands[{i}] ({:?})", command.command);
        if !word(&command.command) {
            return bad(
                format!("{at}.command"),
                "letters, digits, - and _, starting with a letter or digit",
            );
        }
        if !roots.insert(command.command.as_str()) {
            return bad(format!("{at}.command"), "declared twice");
        }
        if command.description.trim().is_empty() {
            return bad(format!("{at}.description"), "empty");
        }
        let mut names = std::collections::HashSet::new();
        for (j, sub) in command.subcommands.iter().enumerate() {
            let at = format!("{at}.subcommands[{j}] ({:?})", sub.name);
            if !word(&sub.name) || !names.insert(sub.name.as_str()) {
                return bad(format!("{at}.name"), "not a word, or declared twice");
            }
            let mut keys = std::collections::HashSet::new();
            for (k, option) in sub.options.iter().enumerate() {
                match option.key() {
                    Some(key) if keys.insert(key.clone()) => {}
                    _ => {
                        return bad(
                            format!("{at}.options[{k}].flags ({:?})", option.flags),
                            "needs a --long flag of its own",
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Friend {
        account_id: String,
        method: String,
        #[serde(default)]
        params: Value,
    }

    #[test]
    fn specs_carry_an_inline_object_schema_and_host_names() {
        let method = ActionSpec::gateway_method::<Friend>("friend", "Friend operations");
        assert_eq!(method.parameters["type"], "object");
        assert_eq!(method.parameters["additionalProperties"], false);
        assert!(!method.parameters.to_string().contains("$ref"));
        assert_eq!(method.host_name("multi-openim"), "multi-openim.friend");
        let tool = ActionSpec::tool::<Friend>("multi_openim_friend", "Friends").optional();
        assert!(tool.optional);
        assert_eq!(tool.host_name("multi-openim"), "multi_openim_friend");
        assert_eq!(
            serde_json::to_value(&method).expect("json")["kind"],
            "gatewayMethod"
        );
        validate("multi-openim", &[method, tool], &[]).expect("valid");
    }

    #[test]
    fn arguments_errors_name_the_field() {
        let err = parse_args::<Friend>(
            "multi-openim.friend",
            &json!({"accountId": 5, "method": "x"}),
        )
        .expect_err("a number is no account id");
        assert!(
            err.message.starts_with("multi-openim.friend.accountId:"),
            "{err}"
        );
        let err = parse_args::<Friend>("multi-openim.friend", &Value::Null).expect_err("missing");
        assert!(err.message.contains("accountId"), "{err}");
        let err = find("c", &[], "nope").expect_err("unknown");
        assert!(err.message.contains("\"nope\""), "{err}");
    }

    #[test]
    fn option_keys_follow_commander() {
        for (flags, key) in [
            ("--account <id>", Some("account")),
            ("-a, --account <id>", Some("account")),
            ("--dry-run", Some("dryRun")),
            ("--no-verify", Some("verify")),
            ("-v", None),
        ] {
            assert_eq!(OptionSpec::new(flags, "x").key().as_deref(), key, "{flags}");
        }
    }

    #[test]
    fn validation_names_the_bad_entry() {
        let tool = |name: &str| ActionSpec::tool::<Friend>(name, "d");
        let err = validate("c", &[tool("Bad Name")], &[]).expect_err("bad");
        assert!(
            err.message.contains("actions[0] (\"Bad Name\").name"),
            "{err}"
        );
        let err = validate("c", &[tool("t"), tool("t")], &[]).expect_err("twice");
        assert!(err.message.contains("declared twice"), "{err}");
        let mut untyped = tool("t");
        untyped.parameters = json!({});
        assert!(validate("c", &[untyped], &[]).is_err());
        let optional_method = ActionSpec::gateway_method::<Friend>("m", "d").optional();
        assert!(validate("c", &[optional_method], &[]).is_err());

        let command = |options: Vec<OptionSpec>| CommandSpec {
            command: "multi-openim".into(),
            description: "d".into(),
            subcommands: vec![SubcommandSpec {
                name: "setup".into(),
                description: "d".into(),
                options,
            }],
        };
        validate(
            "c",
            &[],
            &[command(vec![OptionSpec::new("--account <id>", "d")])],
        )
        .expect("valid");
        let err = validate(
            "c",
            &[],
            &[command(vec![
                OptionSpec::new("--account <id>", "d"),
                OptionSpec::new("-a, --account <x>", "d"),
            ])],
        )
        .expect_err("same key twice");
        assert!(
            err.message
                .contains("subcommands[0] (\"setup\").options[1]"),
            "{err}"
        );
    }

    #[test]
    fn config_edits_set_merge_and_remove_leaving_the_rest() {
        let mut doc = json!({
            "gateway": {"port": 1},
            "channels": {"multi-openim": {"accounts": {"primary": {"token": "old", "dmPolicy": "open"}}}},
        });
        let path = ["channels", "multi-openim", "accounts", "primary"];
        ConfigEdit::merge(path, json!({"token": "new", "dmPolicy": null}))
            .apply(&mut doc)
            .expect("merge");
        assert_eq!(
            doc["channels"]["multi-openim"]["accounts"]["primary"],
            json!({"token": "new"})
        );
        ConfigEdit::set(["channels", "other", "x"], json!(1))
            .apply(&mut doc)
            .expect("creates the way");
        assert_eq!(doc["channels"]["other"]["x"], 1);
        ConfigEdit::set(["channels", "other"], Value::Null)
            .apply(&mut doc)
            .expect("removes");
        assert!(doc["channels"].get("other").is_none());
        assert_eq!(doc["gateway"]["port"], 1, "untouched");
        assert!(
            ConfigEdit::set(Vec::<String>::new(), json!(1))
                .apply(&mut doc)
                .is_err()
        );
        let secret = ConfigEdit::set(path, json!({"token": "s3cret"}));
        assert!(!format!("{secret:?}").contains("s3cret"));
    }

    struct Typed(&'static str);

    #[async_trait::async_trait]
    impl Prompter for Typed {
        async fn say(&self, _text: &str) {}
        async fn prompt(&self, _question: &Question) -> Result<String, ChannelError> {
            Ok(self.0.to_owned())
        }
    }

    #[tokio::test]
    async fn an_empty_answer_takes_the_default() {
        let question = Question::new("Server URL").with_default("http://127.0.0.1:10002");
        assert_eq!(
            Typed("  ").ask(&question).await.expect("answer"),
            "http://127.0.0.1:10002"
        );
        assert_eq!(
            Typed(" http://x \n").ask(&question).await.expect("answer"),
            "http://x"
        );
        assert_eq!(
            Typed("")
                .ask(&Question::new("Token").secret())
                .await
                .expect("answer"),
            ""
        );
    }
}
