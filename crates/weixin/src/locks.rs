//! One send at a time per peer: its window counter and its outbox entries are read, checked and
//! written as a unit, and what waited for the peer goes out before anything newer. Peers do not
//! wait for each other, so a slow peer does not hold up the rest.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::Account;

type Key = (PathBuf, String);

static LOCKS: LazyLock<Mutex<HashMap<Key, Arc<AsyncMutex<()>>>>> = LazyLock::new(Mutex::default);

/// Held while a send or a flush talks to one peer.
pub(crate) struct PeerTurn {
    key: Key,
    guard: Option<OwnedMutexGuard<()>>,
}

/// Waits for `peer`'s turn on `account` (`peer`: the byte-exact wire id).
pub(crate) async fn peer(account: &Account, peer: &str) -> PeerTurn {
    let key = (
        account.store.accounts_dir().join(&account.base.id),
        peer.to_owned(),
    );
    let lock = Arc::clone(channel_core::lock(&LOCKS).entry(key.clone()).or_default());
    PeerTurn {
        key,
        guard: Some(lock.lock_owned().await),
    }
}

impl Drop for PeerTurn {
    fn drop(&mut self) {
        let mut locks = channel_core::lock(&LOCKS);
        self.guard.take();
        // Nobody else holds or waits for it: forget it, so the map does not grow with peers.
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
        }
    }
}
