//! QR login (spec §5): the full status machine, and saving the result where Tencent's plugin
//! keeps it so either plugin can use the account.

use std::sync::Arc;
use std::time::Duration;

use channel_core::locale::pick;
use channel_core::{CancellationToken, ChannelError, LoginResult, LoginUi};
use url::Url;

use crate::client::{self, Endpoint, IlinkClient};
use crate::store::{AccountFile, Store, normalize_account_id};

/// How long a login may take, all QR codes together.
pub const DEADLINE: Duration = Duration::from_secs(8 * 60);
/// QR codes per login before giving up.
pub const MAX_QR_CODES: u32 = 3;
/// Pause between status polls that came back without news.
pub const POLL_PAUSE: Duration = Duration::from_secs(1);

/// Where to log in.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    pub base_url: Url,
    pub route_tag: Option<String>,
    pub deadline: Duration,
    pub poll_pause: Duration,
}

/// What a successful scan produced.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub bot_id: String,
    pub token: String,
    pub base_url: Option<String>,
    pub user_id: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("bot_id", &self.bot_id)
            .field("base_url", &self.base_url)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Confirmed(Credentials),
    /// The server says this OpenClaw is already bound to the scanning user: nothing to save.
    AlreadyBound,
}

/// Runs one login to its end: confirmed, already bound, or an error that says why not.
pub async fn run(
    options: &LoginOptions,
    local_tokens: &[String],
    ui: &dyn LoginUi,
    cancel: &CancellationToken,
) -> Result<Outcome, ChannelError> {
    let client = IlinkClient::new(Endpoint {
        base_url: options.base_url.clone(),
        token: String::new(),
        route_tag: options.route_tag.clone(),
        bot_agent: String::new(),
    })?;
    let deadline = tokio::time::Instant::now() + options.deadline;
    let mut codes = 0;
    loop {
        if codes == MAX_QR_CODES {
            return Err(ChannelError::permanent(format!(
                "login failed: {MAX_QR_CODES} QR codes expired without a confirmed scan; run the login again"
            )));
        }
        let (qrcode, url) = tokio::select! {
            () = cancel.cancelled() => return Err(ChannelError::permanent("login cancelled")),
            qr = client.get_bot_qrcode(local_tokens) => qr?,
        };
        codes += 1;
        ui.show_qr(&url).await;
        ui.status(pick(
            "Scan the QR code with WeChat on your phone, then confirm the login there.",
            "请用手机微信扫描二维码，然后在手机上确认登录。",
        ))
        .await;
        match poll(&client, options, &qrcode, ui, cancel, deadline).await? {
            Poll::Done(outcome) => return Ok(outcome),
            Poll::NewCode(why) => ui.status(&why).await,
        }
    }
}

enum Poll {
    Done(Outcome),
    /// This QR code is used up; show a fresh one.
    NewCode(String),
}

async fn poll(
    client: &IlinkClient,
    options: &LoginOptions,
    qrcode: &str,
    ui: &dyn LoginUi,
    cancel: &CancellationToken,
    deadline: tokio::time::Instant,
) -> Result<Poll, ChannelError> {
    let mut base = options.base_url.clone();
    let mut verify_code: Option<String> = None;
    let mut told_scanned = false;
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Err(ChannelError::permanent(format!(
                "login timed out after {} minutes; run the login again",
                options.deadline.as_secs() / 60
            )));
        }
        let answer = tokio::select! {
            () = cancel.cancelled() => return Err(ChannelError::permanent("login cancelled")),
            answer = client.get_qrcode_status(&base, qrcode, verify_code.as_deref()) => answer,
        };
        match answer.status.as_deref().unwrap_or("wait") {
            "scaned" => {
                // A pending verify code was accepted, if there was one.
                verify_code = None;
                if !told_scanned {
                    told_scanned = true;
                    ui.status(pick(
                        "Scanned. Confirm the login on your phone.",
                        "已扫码，请在手机上确认登录。",
                    ))
                    .await;
                }
            }
            "need_verifycode" => {
                let question = if verify_code.is_some() {
                    pick(
                        "That code did not match. Enter the number WeChat shows on your phone:",
                        "验证码不正确。请输入手机微信上显示的数字：",
                    )
                } else {
                    pick(
                        "Enter the number WeChat shows on your phone:",
                        "请输入手机微信上显示的数字：",
                    )
                };
                let code = ui.prompt(question).await?;
                let code = code.trim();
                if code.is_empty() {
                    return Err(ChannelError::bad_input(
                        "login cancelled: no verify code entered",
                    ));
                }
                verify_code = Some(code.to_owned());
                // Answered at once, without the usual pause.
                continue;
            }
            "verify_code_blocked" => {
                return Ok(Poll::NewCode(
                    pick(
                        "Too many wrong verify codes; here is a new QR code.",
                        "验证码错误次数过多，已生成新的二维码。",
                    )
                    .into(),
                ));
            }
            "expired" => {
                return Ok(Poll::NewCode(
                    pick(
                        "The QR code expired; here is a new one.",
                        "二维码已过期，已生成新的二维码。",
                    )
                    .into(),
                ));
            }
            "scaned_but_redirect" => {
                if let Some(host) = answer
                    .redirect_host
                    .as_deref()
                    .filter(|h| !h.trim().is_empty())
                {
                    base = redirected(&options.base_url, host)?;
                }
            }
            "binded_redirect" => return Ok(Poll::Done(Outcome::AlreadyBound)),
            "confirmed" => {
                let bot_id = answer
                    .ilink_bot_id
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| {
                        ChannelError::permanent(
                            "login failed: the server confirmed without `ilink_bot_id`",
                        )
                    })?;
                let token = answer.bot_token.filter(|t| !t.is_empty()).ok_or_else(|| {
                    ChannelError::permanent(
                        "login failed: the server confirmed without `bot_token`",
                    )
                })?;
                return Ok(Poll::Done(Outcome::Confirmed(Credentials {
                    bot_id,
                    token,
                    base_url: answer.baseurl.filter(|b| !b.is_empty()),
                    user_id: answer.ilink_user_id.filter(|u| !u.is_empty()),
                })));
            }
            // `wait` and anything unknown: keep polling.
            _ => {}
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(ChannelError::permanent("login cancelled")),
            () = tokio::time::sleep(options.poll_pause) => {}
        }
    }
}

/// The poll host after a `scaned_but_redirect`: the bare host the server named, with the login
/// URL's scheme (https in production; the official client always uses https). A redirect from
/// https to plain http is refused: the rest of the login, bot token included, would travel in
/// the clear. Plain http stays possible when the login itself started on it (a loopback
/// simulator, a private deployment).
pub(crate) fn redirected(login: &Url, host: &str) -> Result<Url, ChannelError> {
    let host = host.trim().trim_end_matches('/');
    let text = if host.contains("://") {
        host.to_owned()
    } else {
        format!("{}://{host}", login.scheme())
    };
    let url = client::parse_base_url("redirect_host", &text)?;
    if login.scheme() == "https" && url.scheme() != "https" {
        return Err(ChannelError::permanent(format!(
            "login failed: the server's redirect_host {host:?} would move the login from https to {}; refusing it",
            url.scheme()
        )));
    }
    Ok(url)
}

/// Where a confirmed login was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub id: String,
    /// The account the host asked for, when the login could not go there because another
    /// WeChat user's bot holds it.
    pub refused: Option<String>,
}

/// Picks the account a confirmed login goes to. OpenClaw's CLI names an account before the
/// scan (`--account`, else its default: the first account, else `default`) and reports on that
/// one afterwards, so that is where the login goes when it is free or already this WeChat
/// user's. Otherwise this user's existing account is reused, else a new one is named after the
/// bot as Tencent's plugin names it. One WeChat user never takes over another user's account.
fn choose(store: &Store, creds: &Credentials, asked: Option<&str>) -> Result<Saved, ChannelError> {
    let io = |e: std::io::Error| ChannelError::from(e).context("reading the saved accounts");
    let owner_of = |id: &str| -> Result<Option<Option<String>>, ChannelError> {
        Ok(store.load_account(id).map_err(io)?.map(|file| file.user_id))
    };
    let mine = |owner: &Option<String>| owner.is_some() && *owner == creds.user_id;
    let asked = asked.map(normalize_account_id).filter(|id| !id.is_empty());
    let mut refused = None;
    if let Some(asked) = asked {
        match owner_of(&asked)? {
            None => return Ok(Saved { id: asked, refused }),
            Some(owner) if mine(&owner) => return Ok(Saved { id: asked, refused }),
            Some(_) => refused = Some(asked),
        }
    }
    for id in store.account_ids().map_err(io)? {
        if mine(&owner_of(&id)?.flatten()) {
            return Ok(Saved { id, refused });
        }
    }
    let id = normalize_account_id(&creds.bot_id);
    if id.is_empty() {
        return Err(ChannelError::permanent(format!(
            "login failed: unusable bot id {:?}",
            creds.bot_id
        )));
    }
    Ok(Saved { id, refused })
}

/// Saves a confirmed login in Tencent's layout under the account [`choose`] picks, and removes
/// the user's other bots (one bot per WeChat user: the server has already unbound them).
///
/// When the scan bound a different bot than the account had, what belonged to the old bot
/// (cursor, context tokens, windows) is cleared; messages still queued for the account stay and
/// go out through the new bot once a peer writes again.
pub fn save(
    store: &Store,
    creds: &Credentials,
    asked: Option<&str>,
) -> Result<Saved, ChannelError> {
    let saved = choose(store, creds, asked)?;
    let id = saved.id.as_str();
    let file = AccountFile {
        token: creds.token.clone(),
        saved_at: Some(iso_now()),
        base_url: creds.base_url.clone(),
        user_id: creds.user_id.clone(),
        bot_id: Some(creds.bot_id.clone()),
    };
    let io = |what: &'static str| move |e: std::io::Error| ChannelError::from(e).context(what);
    let previous = store.load_account(id).map_err(io("reading the account"))?;
    let same_bot = previous.is_some_and(|old| match old.bot_id {
        Some(bot) => bot == creds.bot_id,
        // Saved by Tencent's plugin, or before bots were recorded: named after its bot.
        None => normalize_account_id(&creds.bot_id) == id,
    });
    if !same_bot {
        store
            .forget_session(id)
            .map_err(io("clearing the previous bot's session"))?;
    }
    store
        .save_account(id, &file)
        .map_err(io("saving the account"))?;
    if let Some(user) = &creds.user_id {
        for other in store.account_ids().map_err(io("reading accounts.json"))? {
            if other == id {
                continue;
            }
            let owner = store
                .load_account(&other)
                .map_err(io("reading an account"))?
                .and_then(|f| f.user_id);
            if owner.as_deref() == Some(user.as_str()) {
                tracing::info!(account = %other, replaced_by = %id, "removing the previous bot of the same WeChat user");
                store
                    .remove_account(&other)
                    .map_err(io("removing the replaced account"))?;
            }
        }
    }
    Ok(saved)
}

use channel_core::iso_now;

/// Logs in and saves; what the channel's `login` does. `asked` is the account the host named.
pub async fn login_and_save(
    store: &Store,
    options: &LoginOptions,
    asked: Option<&str>,
    ui: Arc<dyn LoginUi>,
    cancel: CancellationToken,
) -> Result<LoginResult, ChannelError> {
    // Newest first, at most ten, as the official client sends them.
    let mut tokens = Vec::new();
    for id in store.account_ids().unwrap_or_default().iter().rev() {
        if let Ok(Some(file)) = store.load_account(id)
            && !file.token.is_empty()
        {
            tokens.push(file.token);
        }
        if tokens.len() == 10 {
            break;
        }
    }
    match run(options, &tokens, ui.as_ref(), &cancel).await? {
        Outcome::AlreadyBound => Ok(LoginResult {
            account_id: None,
            message: pick(
                "This OpenClaw is already connected to that WeChat user; nothing to do.",
                "此 OpenClaw 已连接该微信用户，无需操作。",
            )
            .into(),
            changed: false,
        }),
        Outcome::Confirmed(creds) => {
            let Saved { id, refused } = save(store, &creds, asked)?;
            let chinese = channel_core::locale::chinese();
            let mut message = if chinese {
                format!("登录成功：微信账号 {id} 已就绪。")
            } else {
                format!("Logged in: WeChat account {id} is ready.")
            };
            if let Some(asked) = refused {
                // The host's own closing line names the account it asked for; say why not.
                message.push_str(&if chinese {
                    format!(
                        " 账号 {asked} 属于另一位微信用户，未被改动；下一行 OpenClaw 提到的 {asked} 不是本次登录的账号。如需指定账号，请使用 --account {id}。"
                    )
                } else {
                    format!(
                        " Account {asked} belongs to another WeChat user and was left as it was, so OpenClaw's next line, which names {asked}, is not about this login. To pick the account yourself, pass --account {id}."
                    )
                });
            }
            Ok(LoginResult {
                message,
                account_id: Some(id),
                changed: true,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_time_looks_like_javascripts() {
        let now = iso_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(
            now.starts_with("20") && now.ends_with('Z') && now.as_bytes()[10] == b'T',
            "{now}"
        );
    }

    #[test]
    fn redirects_keep_the_login_scheme() {
        let https = Url::parse("https://ilinkai.weixin.qq.com/").expect("url");
        assert_eq!(
            redirected(&https, "sh.ilinkai.weixin.qq.com")
                .expect("ok")
                .as_str(),
            "https://sh.ilinkai.weixin.qq.com/"
        );
        let http = Url::parse("http://127.0.0.1:1/").expect("url");
        assert_eq!(
            redirected(&http, "127.0.0.1:2").expect("ok").as_str(),
            "http://127.0.0.1:2/"
        );
        assert_eq!(
            redirected(&http, "https://127.0.0.1:2")
                .expect("ok")
                .as_str(),
            "https://127.0.0.1:2/",
            "an upgrade is fine"
        );
    }

    #[test]
    fn a_redirect_from_https_to_http_is_refused_naming_redirect_host() {
        let https = Url::parse("https://ilinkai.weixin.qq.com/").expect("url");
        for host in ["http://sh.ilinkai.weixin.qq.com", "HTTP://evil.example:80/"] {
            let err = redirected(&https, host).expect_err("downgrade");
            assert!(
                err.message.contains("redirect_host") && err.message.contains("https to http"),
                "{err}"
            );
        }
    }
}
