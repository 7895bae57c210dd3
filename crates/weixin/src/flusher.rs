//! Sends what waited in the outbox when its peer writes again, beside the long poll: a slow send
//! must not hold up the next poll. One task per running account takes the peers one at a time;
//! a peer asked for again while it waits is flushed once. The task ends with the account.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use channel_core::{CancellationToken, lock};
use tokio::sync::mpsc;

use crate::{Account, send};

pub(crate) struct Flusher {
    tx: mpsc::UnboundedSender<String>,
    /// Peers asked for and not yet taken: the channel holds each at most once.
    waiting: Arc<Mutex<HashSet<String>>>,
}

impl Flusher {
    pub(crate) fn start(account: Account, cancel: CancellationToken) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(HashSet::new()));
        tokio::spawn(run(account, rx, Arc::clone(&waiting), cancel));
        Self { tx, waiting }
    }

    /// `peer` wrote: what waited for it may go now.
    pub(crate) fn request(&self, peer: &str) {
        if lock(&self.waiting).insert(peer.to_owned()) {
            let _ = self.tx.send(peer.to_owned());
        }
    }
}

async fn run(
    account: Account,
    mut rx: mpsc::UnboundedReceiver<String>,
    waiting: Arc<Mutex<HashSet<String>>>,
    cancel: CancellationToken,
) {
    loop {
        let peer = tokio::select! {
            () = cancel.cancelled() => return,
            peer = rx.recv() => match peer {
                Some(peer) => peer,
                None => return,
            },
        };
        // Taken off before the flush: the peer writing again meanwhile asks for one more pass.
        lock(&waiting).remove(&peer);
        // Stopping mid-flush is safe: an item leaves the outbox only once delivered.
        let flushed = tokio::select! {
            () = cancel.cancelled() => return,
            flushed = send::flush(&account, &peer) => flushed,
        };
        match flushed {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(account = %account.base.id, flushed = n, "sent messages that waited for the peer")
            }
            Err(err) => {
                tracing::warn!(account = %account.base.id, %err, "could not flush queued messages; they stay queued")
            }
        }
    }
}
