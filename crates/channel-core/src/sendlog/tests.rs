use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

fn counted(calls: &AtomicUsize, id: &str) -> impl Future<Output = Result<String, ChannelError>> {
    calls.fetch_add(1, Ordering::SeqCst);
    let id = id.to_owned();
    async move { Ok(id) }
}

#[tokio::test]
async fn a_named_piece_goes_out_once_and_the_first_id_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = SendLog::at(dir.path().join("a.jsonl"));
    let calls = AtomicUsize::new(0);
    let first = log.once(Some("k1"), || counted(&calls, "srv-1")).await;
    let again = log.once(Some("k1"), || counted(&calls, "srv-2")).await;
    assert_eq!(first.unwrap(), "srv-1");
    assert_eq!(again.unwrap(), "srv-1");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Unnamed pieces are never looked up.
    log.once(None, || counted(&calls, "x")).await.unwrap();
    log.once(None, || counted(&calls, "x")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_restarted_process_and_a_second_process_see_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sent").join("a.jsonl");
    let gateway = SendLog::at(path.clone());
    let cli = SendLog::at(path.clone());
    assert_eq!(cli.sent("k1").unwrap(), None);
    gateway
        .once(Some("k1"), || async { Ok("srv-1".to_owned()) })
        .await
        .unwrap();
    assert_eq!(cli.sent("k1").unwrap().as_deref(), Some("srv-1"));
    cli.record("k2", "srv-2").unwrap();
    assert_eq!(gateway.sent("k2").unwrap().as_deref(), Some("srv-2"));
    drop((gateway, cli));
    let restarted = SendLog::at(path.clone());
    assert_eq!(restarted.sent("k1").unwrap().as_deref(), Some("srv-1"));
    assert_eq!(restarted.sent("k2").unwrap().as_deref(), Some("srv-2"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_failed_send_records_nothing_and_the_next_try_sends() {
    let dir = tempfile::tempdir().unwrap();
    let log = SendLog::at(dir.path().join("a.jsonl"));
    let failed = log
        .once(Some("k"), || async {
            Err(ChannelError::transient("connection reset"))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(log.sent("k").unwrap(), None);
    let calls = AtomicUsize::new(0);
    log.once(Some("k"), || counted(&calls, "srv"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sends_of_one_key_at_once_send_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = SendLog::at(dir.path().join("a.jsonl"));
    let calls = Arc::new(AtomicUsize::new(0));
    let send = |log: SendLog, calls: Arc<AtomicUsize>| async move {
        log.once(Some("k"), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok("srv".to_owned())
        })
        .await
    };
    let (a, b) = tokio::join!(
        send(log.clone(), Arc::clone(&calls)),
        send(log.clone(), Arc::clone(&calls))
    );
    assert_eq!((a.unwrap(), b.unwrap()), ("srv".into(), "srv".into()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(lock(&log.inner.in_flight).is_empty(), "no gate left behind");
}

#[test]
fn a_torn_line_from_a_crash_is_skipped_and_appends_start_on_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    fs::write(
        &path,
        "{\"key\":\"k1\",\"id\":\"srv-1\",\"at\":1}\n{\"key\":\"k2\",\"id\":\"s",
    )
    .unwrap();
    let log = SendLog::at(path.clone());
    assert_eq!(log.sent("k1").unwrap().as_deref(), Some("srv-1"));
    assert_eq!(log.sent("k2").unwrap(), None, "the torn line names nothing");
    log.record("k3", "srv-3").unwrap();
    let restarted = SendLog::at(path);
    assert_eq!(restarted.sent("k1").unwrap().as_deref(), Some("srv-1"));
    assert_eq!(restarted.sent("k3").unwrap().as_deref(), Some("srv-3"));
    assert_eq!(restarted.sent("k2").unwrap(), None);
}

#[test]
fn the_file_is_compacted_to_the_newest_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    let log = SendLog::at(path.clone());
    let other = SendLog::at(path.clone());
    assert_eq!(other.sent("k0").unwrap(), None);
    for n in 0..=2 * KEPT {
        log.record(&format!("k{n}"), &format!("srv-{n}")).unwrap();
    }
    let lines = fs::read_to_string(&path).unwrap().lines().count();
    assert!(lines <= KEPT + 1, "{lines} lines after compaction");
    let newest = format!("k{}", 2 * KEPT);
    // The other process notices the replaced file and reads it again.
    assert!(other.sent(&newest).unwrap().is_some());
    assert_eq!(
        other.sent("k0").unwrap(),
        None,
        "the oldest key was dropped"
    );
    assert!(SendLog::at(path).sent(&newest).unwrap().is_some());
}

#[test]
fn one_log_per_account_in_a_process() {
    let dir = tempfile::tempdir().unwrap();
    let a = SendLog::for_account(dir.path(), "acct");
    let b = SendLog::for_account(dir.path(), "acct");
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
    assert_eq!(a.path(), dir.path().join("sent").join("acct.jsonl"));
    assert!(!Arc::ptr_eq(
        &a.inner,
        &SendLog::for_account(dir.path(), "other").inner
    ));
}
