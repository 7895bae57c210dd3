//! The REST client against the OpenIM simulator (and a few hand-made servers for failures the
//! simulator does not produce), over real loopback sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::any;
use channel_core::{ChannelError, ErrorKind};
use imsim::openim::{OpenImOptions, OpenImSim, User, object_hash};
use md5::{Digest as _, Md5};
use openim::config::{OpenimConfig, Secret};
use openim::rest::{FriendMethod, Pagination, RestClient, RestConfig};
use serde_json::{Value, json};
use url::Url;

const BOT: &str = "bot1";

async fn sim_with(opts: OpenImOptions) -> OpenImSim {
    let sim = OpenImSim::start(opts).await.expect("start the simulator");
    sim.add_user(BOT);
    sim
}

async fn sim() -> OpenImSim {
    sim_with(OpenImOptions::default()).await
}

fn client_with(api: &str, user: &str, token: &str, guard: bool) -> RestClient {
    let mut config = RestConfig::new(
        "primary",
        Url::parse(api).expect("api url"),
        user,
        Secret::new(token),
    );
    config.friend_guard = guard;
    config.timeout = Duration::from_secs(10);
    RestClient::new(config).expect("client")
}

/// A client for `user` with a fresh token.
fn client(sim: &OpenImSim, user: &str, guard: bool) -> (RestClient, String) {
    let token = sim.issue_token(user, 7);
    (client_with(&sim.api_url(), user, &token, guard), token)
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Deterministic bytes that do not compress or repeat with a short period.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn assert_clean(err: &ChannelError, token: &str) {
    assert!(!err.message.contains(token), "token leaked: {err}");
    assert!(
        !err.message.contains("eyJ"),
        "JWT-looking text leaked: {err}"
    );
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

// ---- users, groups, the clock ---------------------------------------------------------------

#[tokio::test]
async fn users_and_groups_info() {
    let sim = sim().await;
    sim.add_user_info(User {
        nickname: "Alice".to_owned(),
        face_url: "http://faces/alice.png".to_owned(),
        ..User::new("alice")
    });
    sim.add_group("g1", &["alice", BOT, "bob"]);
    let (client, _) = client(&sim, BOT, true);

    let users = client
        .users_info(&["alice".to_owned(), "ghost".to_owned(), BOT.to_owned()])
        .await
        .expect("users");
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["alice", BOT], "unknown ids are left out");
    assert_eq!(users[0].nickname, "Alice");
    assert_eq!(users[0].face_url, "http://faces/alice.png");

    let groups = client
        .groups_info(&["g1".to_owned(), "nope".to_owned()])
        .await
        .expect("groups");
    assert_eq!(groups.len(), 1);
    let g1 = &groups[0];
    assert_eq!(
        (g1.group_id.as_str(), g1.owner_user_id.as_str()),
        ("g1", "alice")
    );
    assert_eq!((g1.member_count, g1.group_type, g1.status), (3, 2, 0));

    // Empty lists are answered without a call (the server refuses an empty groupIDs).
    let before = sim.rest_calls().len();
    assert!(client.users_info(&[]).await.expect("no users").is_empty());
    assert!(client.groups_info(&[]).await.expect("no groups").is_empty());
    assert_eq!(sim.rest_calls().len(), before);

    let calls = sim.rest_calls();
    assert_eq!(
        calls.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
        ["/user/get_users_info", "/group/get_groups_info"]
    );
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert_eq!(call.user_id.as_deref(), Some(BOT), "token accepted");
        assert_eq!(call.err_code, 0);
    }
    assert_eq!(calls[0].body, json!({"userIDs": ["alice", "ghost", BOT]}));
    let op_ids: Vec<&str> = calls
        .iter()
        .filter_map(|c| c.operation_id.as_deref())
        .collect();
    assert_eq!(op_ids.len(), 2);
    assert_ne!(op_ids[0], op_ids[1], "one operationID per call");
}

#[tokio::test]
async fn paged_members_and_joined_groups() {
    let sim = sim().await;
    sim.add_group("big", &[BOT, "m1", "m2", "m3", "m4"]);
    sim.add_group("g2", &["alice", BOT]);
    sim.add_group("other", &["alice", "bob"]);
    let (client, _) = client(&sim, BOT, true);

    let page = client
        .group_member_list("big", Pagination::new(2, 2))
        .await
        .expect("page 2");
    assert_eq!(page.total, 5);
    assert_eq!(page.items.len(), 2);
    assert!(page.items.iter().all(|m| m.group_id == "big"));

    let all = client.all_group_members("big").await.expect("all members");
    let mut ids: Vec<&str> = all.iter().map(|m| m.user_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [BOT, "m1", "m2", "m3", "m4"]);
    let owner = all.iter().find(|m| m.user_id == BOT).expect("owner");
    assert_eq!(owner.role_level, 100);

    let joined = client
        .joined_groups(Pagination::first(1))
        .await
        .expect("joined");
    assert_eq!((joined.total, joined.items.len()), (2, 1));
    let mut groups: Vec<String> = client
        .all_joined_groups()
        .await
        .expect("all joined")
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, ["big", "g2"]);
    let body = &sim
        .rest_calls()
        .into_iter()
        .find(|c| c.path == "/group/get_joined_group_list")
        .expect("joined call")
        .body;
    assert_eq!(
        body,
        &json!({"fromUserID": BOT, "pagination": {"pageNumber": 1, "showNumber": 1}})
    );

    // Not a member: the server's 1203, classified, naming the endpoint.
    let err = client
        .group_member_list("other", Pagination::default())
        .await
        .expect_err("not a member");
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(
        err.message
            .starts_with("/group/get_group_member_list: errCode 1203 NotInGroupYet"),
        "{err}"
    );
}

#[tokio::test]
async fn server_time_is_the_servers_clock() {
    let sim = sim().await;
    let (client, _) = client(&sim, BOT, true);
    let server = client.server_time().await.expect("server time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!(
        (server - now).abs() < 60_000,
        "server {server}, local {now}"
    );
    assert_eq!(sim.rest_calls()[0].path, "/msg/get_server_time");
}

// ---- errors ---------------------------------------------------------------------------------

#[tokio::test]
async fn token_errors_are_classified_and_never_echoed() {
    let sim = sim().await;
    let (client, first) = client(&sim, BOT, true);
    let who = ["alice".to_owned()];
    client.users_info(&who).await.expect("a fresh token works");

    // Another login on the same platform marks our token kicked (multi-login policy 1).
    let second = sim.issue_token(BOT, 7);
    assert_ne!(second, first);
    let err = client.server_time().await.expect_err("kicked");
    assert_eq!(err.kind, ErrorKind::Kicked, "{err}");
    assert!(
        err.message
            .starts_with("/msg/get_server_time: errCode 1506 TokenKicked"),
        "{err}"
    );
    assert!(err.message.contains("(operationID "), "{err}");
    assert_clean(&err, &first);

    // The refresh path: swap the new token in, and the same client works again.
    client.set_token(Secret::new(second.clone()));
    client.server_time().await.expect("refreshed token");

    assert!(sim.expire_token(&second));
    let err = client.users_info(&who).await.expect_err("expired");
    assert_eq!(err.kind, ErrorKind::AuthExpired, "{err}");
    assert!(
        err.message
            .starts_with("/user/get_users_info: errCode 1501 TokenExpired"),
        "{err}"
    );
    assert_clean(&err, &second);

    let third = sim.issue_token(BOT, 7);
    client.set_token(Secret::new(third.clone()));
    client.server_time().await.expect("third token");
    assert!(sim.revoke(&third));
    let err = client
        .groups_info(&["g".to_owned()])
        .await
        .expect_err("revoked");
    assert_eq!(err.kind, ErrorKind::AuthExpired, "{err}");
    assert!(
        err.message
            .starts_with("/group/get_groups_info: errCode 1507 TokenNotExist"),
        "{err}"
    );
    assert_clean(&err, &third);
}

#[tokio::test]
async fn what_goes_on_the_wire() {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let record = seen.clone();
    let api = serve(Router::new().route(
        "/api/msg/get_server_time",
        any(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().expect("lock").push(headers);
                axum::Json(
                    json!({"errCode": 0, "errMsg": "", "errDlt": "", "data": {"serverTime": 42}}),
                )
            }
        }),
    ))
    .await;
    // apiAddr with a path prefix, as behind a reverse proxy.
    let client = client_with(&format!("{api}/api/"), BOT, "tok-abcdef-123456", true);
    assert_eq!(client.server_time().await.expect("time"), 42);
    assert_eq!(client.server_time().await.expect("time"), 42);
    let seen = seen.lock().expect("lock");
    let header = |i: usize, name: &str| {
        seen[i]
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header(0, "token").as_deref(), Some("tok-abcdef-123456"));
    assert_eq!(
        header(0, "content-type").as_deref(),
        Some("application/json")
    );
    let (a, b) = (
        header(0, "operationID").expect("operationID"),
        header(1, "operationID").expect("operationID"),
    );
    assert!(!a.is_empty() && a != b, "{a} {b}");
}

#[tokio::test]
async fn transport_failures_are_classified_and_name_the_endpoint() {
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJVc2VySUQiOiJib3QxIn0.c2lnbmF0dXJl";
    let api = serve(
        Router::new()
            .route(
                "/html/msg/get_server_time",
                any(|| async { "<html>hello</html>" }),
            )
            .route(
                "/busy/msg/get_server_time",
                any(|| async {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "7")],
                        "slow down",
                    )
                }),
            )
            .route(
                "/down/msg/get_server_time",
                any(|| async { (StatusCode::BAD_GATEWAY, "bad gateway") }),
            )
            .route(
                "/echo/msg/get_server_time",
                any(|headers: HeaderMap| async move {
                    // A server that echoes the token in its detail text.
                    let token = headers
                        .get("token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    axum::Json(json!({"errCode": 1001, "errMsg": "ArgsError",
                        "errDlt": format!("token {token} rejected")}))
                }),
            )
            .route(
                "/hang/msg/get_server_time",
                any(std::future::pending::<&'static str>),
            ),
    )
    .await;
    let at = |prefix: &str| client_with(&format!("{api}/{prefix}"), BOT, token, true);

    let err = at("nowhere").server_time().await.expect_err("404");
    assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
    assert!(
        err.message
            .starts_with("/msg/get_server_time: HTTP 404: no such OpenIM route"),
        "{err}"
    );

    let err = at("html").server_time().await.expect_err("html");
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(
        err.message.starts_with(
            "/msg/get_server_time: not an OpenIM answer (HTTP 200: <html>hello</html>)"
        ),
        "{err}"
    );

    let err = at("busy").server_time().await.expect_err("429");
    assert_eq!(err.kind, ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    assert!(
        err.message.starts_with("/msg/get_server_time: HTTP 429"),
        "{err}"
    );

    let err = at("down").server_time().await.expect_err("502");
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");

    let err = at("echo").server_time().await.expect_err("1001");
    assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
    assert!(
        err.message
            .starts_with("/msg/get_server_time: errCode 1001 ArgsError"),
        "{err}"
    );
    assert!(err.message.contains("<token> rejected"), "{err}");
    assert_clean(&err, token);
    // An opaque (non-JWT) token is redacted too.
    let opaque = client_with(&format!("{api}/echo"), BOT, "opaque-credential-99", true);
    let err = opaque.server_time().await.expect_err("1001");
    assert!(!err.message.contains("opaque-credential-99"), "{err}");

    let mut config = RestConfig::new(
        "primary",
        Url::parse(&format!("{api}/hang")).expect("url"),
        BOT,
        Secret::new(token),
    );
    config.timeout = Duration::from_millis(300);
    let err = RestClient::new(config)
        .expect("client")
        .server_time()
        .await
        .expect_err("timeout");
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(
        err.message
            .starts_with("/msg/get_server_time: timed out after 300ms"),
        "{err}"
    );

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let err = client_with(&format!("http://{closed}"), BOT, token, true)
        .server_time()
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert!(
        err.message
            .starts_with("/msg/get_server_time: cannot connect"),
        "{err}"
    );
    assert_clean(&err, token);
}

// ---- objects --------------------------------------------------------------------------------

#[tokio::test]
async fn single_part_upload_and_instant_dedup() {
    let sim = sim().await;
    let (client, _) = client(&sim, BOT, true);
    let data = noise(200_000, 7);

    let first = client
        .upload(data.clone(), "Cat.PNG", "image/png")
        .await
        .expect("upload");
    assert!(
        first.name.starts_with("bot1/") && first.name.ends_with(".png"),
        "{first:?}"
    );
    assert_eq!(first.size, data.len() as u64);
    assert_eq!(first.md5_hex, md5_hex(&data));
    assert_eq!((first.parts, first.deduplicated), (1, false));
    assert_eq!(
        first.url,
        format!("{}/object/{}", sim.api_url(), first.name)
    );
    assert_eq!(sim.object(&first.name).as_deref(), Some(data.as_slice()));
    let uploads = sim.uploads();
    assert_eq!(uploads.len(), 1);
    let up = &uploads[0];
    assert_eq!(up.hash, object_hash(&data), "md5(hex(md5(file)))");
    assert_eq!((up.parts, up.dedup), (1, false));
    assert_eq!(
        (up.content_type.as_str(), up.user_id.as_str()),
        ("image/png", BOT)
    );
    assert_eq!(up.url, first.url);
    assert_eq!(up.bytes, data);

    // The same bytes again: the server answers the URL at once, nothing is PUT.
    let completes = || {
        sim.rest_calls()
            .iter()
            .filter(|c| c.path == "/object/complete_multipart_upload")
            .count()
    };
    assert_eq!(completes(), 1);
    let again = client
        .upload(data.clone(), "copy.png", "image/png")
        .await
        .expect("dedup upload");
    assert_eq!((again.parts, again.deduplicated), (0, true));
    assert_ne!(again.name, first.name);
    assert_eq!(again.md5_hex, first.md5_hex);
    assert_eq!(sim.object(&again.name).as_deref(), Some(data.as_slice()));
    assert!(sim.uploads().last().expect("dedup record").dedup);
    assert_eq!(completes(), 1, "a deduplicated upload is not completed");

    // The uploaded object downloads back byte for byte, through the 302, under the account's
    // media policy (its own API host trusted).
    let fetched = media_policy(&sim, None)
        .fetch(&first.url)
        .await
        .expect("download");
    assert_eq!(fetched.bytes, data);
    assert_eq!(fetched.content_type.as_deref(), Some("image/png"));

    let err = client
        .upload(Vec::new(), "empty.txt", "text/plain")
        .await
        .expect_err("empty");
    assert_eq!(err.kind, ErrorKind::BadInput);
    assert!(
        err.message
            .starts_with("upload \"empty.txt\": the file is empty"),
        "{err}"
    );
}

#[tokio::test]
async fn multipart_upload_is_byte_exact() {
    const PART: usize = 64 * 1024;
    let sim = sim_with(OpenImOptions {
        min_part_size: PART,
        ..OpenImOptions::default()
    })
    .await;
    let (client, _) = client(&sim, BOT, true);

    for (len, parts, seed) in [(4 * PART + 37_856, 5, 11), (2 * PART, 2, 12)] {
        let data = noise(len, seed);
        let uploaded = client
            .upload(data.clone(), "clip.mp4", "video/mp4")
            .await
            .expect("multipart upload");
        assert_eq!(
            (uploaded.parts, uploaded.deduplicated),
            (parts, false),
            "{len}"
        );
        assert!(uploaded.name.ends_with(".mp4"));
        assert_eq!(sim.object(&uploaded.name).as_deref(), Some(data.as_slice()));
        let record = sim.uploads().pop().expect("upload record");
        assert_eq!(record.parts, parts);
        let part_md5s: Vec<String> = data.chunks(PART).map(md5_hex).collect();
        assert_eq!(record.hash, md5_hex(part_md5s.join(",").as_bytes()));
        assert_eq!(record.size, len);
        assert_eq!(record.bytes, data);
        let complete = sim
            .rest_calls()
            .into_iter()
            .rfind(|c| c.path == "/object/complete_multipart_upload")
            .expect("complete call");
        assert_eq!(complete.body["parts"], json!(part_md5s));
        assert_eq!(complete.body["name"], json!(uploaded.name));
        assert_eq!(complete.err_code, 0);
    }
    let initiate = sim
        .rest_calls()
        .into_iter()
        .find(|c| c.path == "/object/initiate_multipart_upload")
        .expect("initiate call");
    assert_eq!(initiate.body["maxParts"], -1);
    assert_eq!(initiate.body["partSize"], PART);
    assert_eq!(initiate.body["contentType"], "video/mp4");
}

/// The media policy of account `primary` on `sim`, as the channel builds it.
fn media_policy(sim: &OpenImSim, max_mb: Option<f64>) -> channel_core::media::MediaPolicy {
    let mut account = json!({
        "token": sim.issue_token(BOT, 7),
        "wsAddr": sim.ws_url(),
        "apiAddr": sim.api_url(),
    });
    if let Some(mb) = max_mb {
        account["mediaMaxMb"] = json!(mb);
    }
    let config = OpenimConfig::parse(&json!({"accounts": {"primary": account}})).expect("config");
    let settings = config.account("primary").expect("account");
    config
        .media_policy(
            &settings,
            std::env::temp_dir().join("imbridge-openim-rest-test"),
        )
        .expect("policy")
}

#[tokio::test]
async fn inbound_media_follow_the_object_redirect_under_the_accounts_cap() {
    let sim = sim().await;
    let data = noise(50_000, 3);
    let url = sim.put_object("alice/photo.jpg", data.clone(), "image/jpeg");
    assert!(url.contains("/object/alice/photo.jpg"), "{url}");

    let fetched = media_policy(&sim, None)
        .fetch(&url)
        .await
        .expect("download");
    assert_eq!(fetched.bytes, data);
    assert_eq!(fetched.content_type.as_deref(), Some("image/jpeg"));

    let err = media_policy(&sim, Some(0.04))
        .fetch(&url)
        .await
        .expect_err("over the cap");
    assert_eq!(err.kind, ErrorKind::BadInput, "{err}");
    assert!(
        err.message
            .contains("larger than the media size cap mediaMaxMb = 0.04"),
        "{err}"
    );
    // Named by where it ended up, without the presigned signature.
    assert!(err.message.starts_with("downloading http://"), "{err}");
    assert!(!err.message.contains("X-Amz-Signature"), "{err}");

    let err = media_policy(&sim, None)
        .fetch(&format!("{}/object/alice/missing.jpg", sim.api_url()))
        .await
        .expect_err("missing");
    assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
    assert!(err.message.contains("HTTP 404"), "{err}");

    // The same object named through another loopback address is not the account's server.
    let elsewhere = url.replacen("127.0.0.1", "127.0.0.2", 1);
    let err = media_policy(&sim, None)
        .fetch(&elsewhere)
        .await
        .expect_err("another address");
    assert!(
        err.message
            .starts_with("refused to fetch http://127.0.0.2:"),
        "{err}"
    );
    // Downloads are not REST calls: no POST reached the sim.
    assert!(sim.rest_calls().is_empty());
}

// ---- friends --------------------------------------------------------------------------------

#[tokio::test]
async fn the_friend_guard_refuses_every_method_without_a_call() {
    let sim = sim().await;
    sim.add_user("alice");
    let token = sim.issue_token(BOT, 7);
    // The guard's default comes from config: `disableFriendSdk` is true unless set.
    let config = OpenimConfig::parse(&json!({"accounts": {"team-a": {
        "token": token, "wsAddr": sim.ws_url(), "apiAddr": sim.api_url()
    }}}))
    .expect("config");
    let settings = config.account("team-a").expect("account");
    let client =
        RestClient::new(RestConfig::from_account(&settings).expect("credentials")).expect("client");
    assert!(client.friend_guard());
    assert_eq!((client.account_id(), client.user_id()), ("team-a", BOT));

    for method in FriendMethod::ALL {
        for params in [json!({"toUserID": "alice"}), Value::Null, json!(42)] {
            let err = client
                .friend(method, params.clone())
                .await
                .expect_err(method.name());
            assert_eq!(err.kind, ErrorKind::Permanent, "{method}: {err}");
            let expected = format!(
                "MULTI_OPENIM_FRIEND_API_DISABLED: SDK {}() is disabled by multi-openim \
                 (account=team-a). Route friend operations through your own backend.",
                method.name()
            );
            assert!(
                err.message.starts_with(&expected),
                "{method} {params}: {err}"
            );
        }
        // By name, as a tool call would name it.
        let parsed: FriendMethod = method.name().parse().expect("name");
        assert!(client.friend(parsed, Value::Null).await.is_err());
    }
    assert!(sim.friend_calls().is_empty(), "{:?}", sim.friend_calls());
    assert!(sim.rest_calls().is_empty(), "{:?}", sim.rest_calls());

    // The guard does not get in the way of everything else.
    client.server_time().await.expect("other calls work");
}

#[tokio::test]
async fn friend_calls_reach_the_server_with_the_guard_off() {
    let sim = sim().await;
    for user in ["alice", "mallory"] {
        sim.add_user(user);
    }
    let (bot, _) = client(&sim, BOT, false);
    let (alice, _) = client(&sim, "alice", false);
    let (mallory, _) = client(&sim, "mallory", false);
    let last_call = || sim.friend_calls().pop().expect("a friend call");

    let answer = bot
        .friend(
            FriendMethod::AddFriend,
            json!({"toUserID": "alice", "reqMsg": "hi"}),
        )
        .await
        .expect("add friend");
    assert_eq!(answer, Value::Null);
    let call = last_call();
    assert_eq!(
        (call.path.as_str(), call.user_id.as_str()),
        ("/friend/add_friend", BOT)
    );
    assert_eq!(
        call.body,
        json!({"fromUserID": BOT, "toUserID": "alice", "reqMsg": "hi"})
    );
    assert_eq!(call.err_code, 0);

    let mine = bot
        .friend(
            FriendMethod::GetFriendApplicationListAsApplicant,
            Value::Null,
        )
        .await
        .expect("sent applications");
    assert_eq!(mine["total"], 1);
    assert_eq!(last_call().path, "/friend/get_self_friend_apply_list");
    let theirs = alice
        .friend(FriendMethod::GetRecvFriendApplicationList, Value::Null)
        .await
        .expect("received applications");
    assert_eq!(theirs["total"], 1);
    assert!(
        theirs.to_string().contains(r#""fromUserID":"bot1""#),
        "{theirs}"
    );
    let call = last_call();
    assert_eq!(call.path, "/friend/get_friend_apply_list");
    assert_eq!(
        call.body,
        json!({"userID": "alice", "pagination": {"pageNumber": 1, "showNumber": 100}})
    );

    // The SDK's shape: `toUserID` is the applicant.
    alice
        .friend(
            FriendMethod::AcceptFriendApplication,
            json!({"toUserID": BOT, "handleMsg": "welcome"}),
        )
        .await
        .expect("accept");
    let call = last_call();
    assert_eq!(call.path, "/friend/add_friend_response");
    assert_eq!(
        call.body,
        json!({"fromUserID": BOT, "toUserID": "alice", "handleResult": 1, "handleMsg": "welcome"})
    );

    let check = bot
        .friend(FriendMethod::CheckFriend, json!("alice"))
        .await
        .expect("check");
    assert_eq!(
        check,
        json!({"inUser1Friends": true, "inUser2Friends": true})
    );
    let friends = bot
        .friend(FriendMethod::GetFriendList, Value::Null)
        .await
        .expect("friends");
    assert_eq!(friends["total"], 1);
    assert_eq!(friends["friendsInfo"][0]["friendUser"]["userID"], "alice");

    bot.friend(
        FriendMethod::AddBlack,
        json!({"toUserID": "mallory", "ex": ""}),
    )
    .await
    .expect("black");
    assert_eq!(
        last_call().body,
        json!({"ownerUserID": BOT, "blackUserID": "mallory", "ex": ""})
    );
    bot.friend(FriendMethod::RemoveBlack, json!("mallory"))
        .await
        .expect("unblack");
    assert_eq!(last_call().path, "/friend/remove_black");

    mallory
        .friend(FriendMethod::ApplyFriend, json!({"toUserID": BOT}))
        .await
        .expect("mallory applies");
    bot.friend(FriendMethod::RefuseFriendApplication, json!("mallory"))
        .await
        .expect("refuse");
    let call = last_call();
    assert_eq!(
        (
            call.body["fromUserID"].clone(),
            call.body["handleResult"].clone()
        ),
        (json!("mallory"), json!(-1))
    );

    bot.friend(FriendMethod::DeleteFriend, json!("alice"))
        .await
        .expect("delete");
    assert_eq!(
        last_call().body,
        json!({"ownerUserID": BOT, "friendUserID": "alice"})
    );
    let check = bot
        .friend(FriendMethod::CheckFriend, json!({"userID2": "alice"}))
        .await
        .expect("check again");
    assert_eq!(check["inUser1Friends"], false);

    // Server refusals are classified and name the endpoint.
    let err = bot
        .friend(FriendMethod::AddFriendV2, json!({"toUserID": BOT}))
        .await
        .expect_err("self");
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(
        err.message
            .starts_with("/friend/add_friend: errCode 1301 CanNotAddYourself"),
        "{err}"
    );

    // The real server's remark route; the simulator has none and answers 404.
    let err = bot
        .friend(
            FriendMethod::SetFriendRemark,
            json!({"toUserID": "alice", "remark": "A"}),
        )
        .await
        .expect_err("the simulator lacks set_friend_remark");
    assert_eq!(err.kind, ErrorKind::BadInput);
    assert!(
        err.message
            .starts_with("/friend/set_friend_remark: HTTP 404"),
        "{err}"
    );

    // Acting as someone else is refused here, before the server's 1002.
    let before = sim.rest_calls().len();
    let err = bot
        .friend(
            FriendMethod::DeleteFriend,
            json!({"ownerUserID": "alice", "friendUserID": "mallory"}),
        )
        .await
        .expect_err("not us");
    assert_eq!(err.kind, ErrorKind::BadInput);
    assert!(err.message.contains("ownerUserID is \"alice\""), "{err}");
    assert_eq!(sim.rest_calls().len(), before);
}
