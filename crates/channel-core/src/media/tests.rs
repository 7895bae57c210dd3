use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::ErrorKind;

/// A one-route HTTP server on `ip` that answers every request with `response` and counts the
/// connections it accepted.
struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
}

async fn serve(ip: &str, response: Vec<u8>) -> Server {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Server { port, hits }
}

fn ok(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn redirect(to: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .into_bytes()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000000000";

fn policy(keys: serde_json::Value, tmp: &std::path::Path) -> MediaPolicy {
    let keys: MediaKeys = serde_json::from_value(keys).expect("keys");
    MediaPolicy::layered("channels.test", &keys, None, tmp.join("tmp")).expect("policy")
}

#[tokio::test]
async fn own_server_yes_other_loopback_address_no() {
    let tmp = tempfile::tempdir().expect("tmp");
    let own = serve("127.0.0.1", ok("image/png", PNG)).await;
    let canary = serve("127.0.0.2", ok("image/png", PNG)).await;
    let mut p = policy(serde_json::json!({}), tmp.path());
    // Nothing trusted yet: even the account's server is refused.
    let url = format!("http://127.0.0.1:{}/object/a.png?sig=secret", own.port);
    let err = p.fetch(&url).await.expect_err("untrusted loopback");
    assert_eq!(err.kind, ErrorKind::BadInput);
    assert!(
        err.message
            .starts_with("refused to fetch http://127.0.0.1:"),
        "{err}"
    );
    assert!(
        !err.message.contains("secret"),
        "no query in messages: {err}"
    );
    assert_eq!(own.hits.load(Ordering::SeqCst), 0);

    p.trust_url(
        &format!("http://127.0.0.1:{}", own.port + 1)
            .parse()
            .expect("url"),
    );
    let got = p.fetch(&url).await.expect("own server, any port");
    assert_eq!(got.bytes, PNG);
    assert_eq!(got.content_type.as_deref(), Some("image/png"));
    assert_eq!(got.file_name().as_deref(), Some("a.png"));

    let err = p
        .fetch(&format!("http://127.0.0.2:{}/x.png", canary.port))
        .await
        .expect_err("canary");
    assert!(err.message.contains("127.0.0.2"), "{err}");
    // A redirect from the trusted server to the canary is checked again.
    let bouncer = serve(
        "127.0.0.1",
        redirect(&format!("http://127.0.0.2:{}/x.png", canary.port)),
    )
    .await;
    let err = p
        .fetch(&format!("http://127.0.0.1:{}/r", bouncer.port))
        .await
        .expect_err("redirect to canary");
    assert!(err.message.contains("127.0.0.2"), "{err}");
    for bad in [
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "http://u:p@127.0.0.1/x",
        "nope",
    ] {
        assert!(p.fetch(bad).await.is_err(), "{bad}");
    }
    assert_eq!(
        canary.hits.load(Ordering::SeqCst),
        0,
        "the canary saw no request"
    );
}

/// The answer that was vetted is the one connected to: the HTTP client does not look the name
/// up again, so a name that answers differently the second time (DNS rebinding) cannot steer
/// the download to an address the guard never saw. Here the second lookup, the system's, would
/// find nothing at all (`.test` is reserved), so the download works only if the first is used.
#[tokio::test]
async fn the_vetted_dns_answer_is_the_one_connected_to() {
    let tmp = tempfile::tempdir().expect("tmp");
    let own = serve("127.0.0.1", ok("image/png", PNG)).await;
    let mut p = policy(
        serde_json::json!({"mediaAllowHosts": ["cdn.rebind.test"]}),
        tmp.path(),
    );
    let url = format!("http://cdn.rebind.test:{}/a.png", own.port);

    p.resolve_as("cdn.rebind.test", &["127.0.0.1".parse().expect("ip")]);
    let got = p.fetch(&url).await.expect("pinned to the vetted answer");
    assert_eq!(got.bytes, PNG);
    assert_eq!(own.hits.load(Ordering::SeqCst), 1);

    // A name that is not trusted and answers with a private address is refused before any
    // connection, whatever it would answer next.
    let mut p = policy(serde_json::json!({}), tmp.path());
    p.resolve_as("cdn.rebind.test", &["127.0.0.1".parse().expect("ip")]);
    let err = p.fetch(&url).await.expect_err("private answer");
    assert!(err.message.contains("127.0.0.1"), "{err}");
    assert_eq!(own.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn allow_hosts_and_the_global_switch() {
    let tmp = tempfile::tempdir().expect("tmp");
    let canary = serve("127.0.0.2", ok("application/octet-stream", PNG)).await;
    let url = format!("http://127.0.0.2:{}/download", canary.port);
    let listed = policy(
        serde_json::json!({"mediaAllowHosts": ["127.0.0.2:1"]}),
        tmp.path(),
    );
    let got = listed.fetch(&url).await.expect("listed host");
    assert_eq!(got.content_type, None, "octet-stream says nothing");
    let open = policy(
        serde_json::json!({"mediaAllowPrivateNetwork": true}),
        tmp.path(),
    );
    open.fetch(&url).await.expect("guard off");
    let by_name = policy(
        serde_json::json!({"mediaAllowHosts": ["LocalHost"]}),
        tmp.path(),
    );
    let own = serve("127.0.0.1", ok("image/png", PNG)).await;
    by_name
        .fetch(&format!("http://localhost:{}/a", own.port))
        .await
        .expect("trusted by name");
    assert_eq!(canary.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_cap_holds_announced_or_not() {
    let tmp = tempfile::tempdir().expect("tmp");
    let big = vec![7u8; 4096];
    let announced = serve("127.0.0.1", ok("text/plain", &big)).await;
    let mut unannounced = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
    unannounced.extend_from_slice(&big);
    let streamed = serve("127.0.0.1", unannounced).await;
    let mut p = policy(
        serde_json::json!({"mediaMaxMb": 0.001, "mediaAllowHosts": ["127.0.0.1"]}),
        tmp.path(),
    );
    assert_eq!(p.max_bytes, 1049);
    for server in [&announced, &streamed] {
        let err = p
            .fetch(&format!("http://127.0.0.1:{}/big", server.port))
            .await
            .expect_err("over the cap");
        assert!(
            err.message.contains("mediaMaxMb = 0.001 (1049 bytes)"),
            "{err}"
        );
    }
    p.max_bytes = 4096;
    p.fetch(&format!("http://127.0.0.1:{}/big", streamed.port))
        .await
        .expect("at the cap");
}

#[cfg(unix)]
#[tokio::test]
async fn inbound_files_are_private_and_typed() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let own = serve("127.0.0.1", ok("application/octet-stream", PNG)).await;
    let p = policy(
        serde_json::json!({"mediaAllowHosts": ["127.0.0.1"]}),
        tmp.path(),
    );
    let fetched = p
        .fetch_to_temp(
            &format!("http://127.0.0.1:{}/object/photo%20one", own.port),
            "image",
            None,
            None,
        )
        .await
        .expect("fetched");
    assert_eq!(fetched.mime, "image/png", "sniffed");
    assert_eq!(fetched.file_name.as_deref(), Some("photo one"));
    assert!(fetched.temp_path.starts_with(tmp.path().join("tmp")));
    assert!(fetched.temp_path.to_string_lossy().ends_with(".png"));
    let mode = std::fs::metadata(&fetched.temp_path)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read(&fetched.temp_path).expect("read"), PNG);
}

#[test]
fn layered_keys_name_their_path() {
    let channel: MediaKeys =
        serde_json::from_value(serde_json::json!({"mediaMaxMb": 5, "mediaAllowHosts": ["minio"]}))
            .expect("keys");
    let account: MediaKeys =
        serde_json::from_value(serde_json::json!({"mediaAllowHosts": ["http://10.0.0.9:9000"]}))
            .expect("keys");
    let p = MediaPolicy::layered("channels.x", &channel, Some(("b", &account)), "/t".into())
        .expect("policy");
    assert_eq!(p.max_bytes, 5 << 20);
    assert_eq!(
        p.trusted(),
        [TrustedHost::Ip("10.0.0.9".parse().expect("ip"))]
    );
    assert!(!p.allow_private_network);

    let bad: MediaKeys = serde_json::from_value(
        serde_json::json!({"mediaMaxMb": 0, "mediaAllowHosts": ["ok", " "]}),
    )
    .expect("keys");
    let err = MediaPolicy::layered("channels.x", &channel, Some(("b", &bad)), "/t".into())
        .expect_err("zero");
    assert_eq!(
        err.message,
        "channels.x.accounts.b.mediaMaxMb: must be a positive number of MiB, got 0"
    );
    let err = MediaPolicy::layered("channels.x", &bad, None, "/t".into()).expect_err("blank host");
    assert!(err.message.starts_with("channels.x.mediaMaxMb"), "{err}");
    let hosts: MediaKeys =
        serde_json::from_value(serde_json::json!({"mediaAllowHosts": ["ok", " "]})).expect("keys");
    let err =
        MediaPolicy::layered("channels.x", &hosts, None, "/t".into()).expect_err("blank host");
    assert!(
        err.message.starts_with("channels.x.mediaAllowHosts[1]"),
        "{err}"
    );
}

#[test]
fn sender_file_names_cannot_point_elsewhere() {
    assert_eq!(
        safe_file_name("../../etc/passwd").as_deref(),
        Some("passwd")
    );
    assert_eq!(safe_file_name("C:\\x\\a b.pdf").as_deref(), Some("a b.pdf"));
    assert_eq!(
        safe_file_name("ok\u{0}\nname.txt").as_deref(),
        Some("okname.txt")
    );
    assert_eq!(safe_file_name(".."), None);
    assert_eq!(safe_file_name("dir/"), None);
    assert_eq!(
        safe_file_name(&"文".repeat(100)).map(|n| n.len()),
        Some(198)
    );
}
