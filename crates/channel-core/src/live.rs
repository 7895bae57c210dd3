//! The accounts running in this process, and what their sends need (a live connection, the
//! logged-in transport). A running account registers itself; its entry goes when the run ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::lock;

/// Running accounts by id, each with the handle its sends use.
#[derive(Debug)]
pub struct LiveAccounts<T> {
    inner: Arc<Mutex<Inner<T>>>,
}

#[derive(Debug)]
struct Inner<T> {
    by_account: HashMap<String, (u64, T)>,
    next: u64,
}

impl<T> Default for LiveAccounts<T> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                by_account: HashMap::new(),
                next: 0,
            })),
        }
    }
}

impl<T> Clone for LiveAccounts<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Clone + Send + 'static> LiveAccounts<T> {
    /// Registers `account` until the returned entry drops. A newer registration of the same
    /// account (a restart that overlaps the old run's shutdown) is not removed by the older.
    #[must_use = "the account is unregistered when the entry drops"]
    pub fn register(&self, account: &str, handle: T) -> LiveEntry<T> {
        let mut inner = lock(&self.inner);
        inner.next += 1;
        let generation = inner.next;
        inner
            .by_account
            .insert(account.to_owned(), (generation, handle));
        LiveEntry {
            accounts: self.clone(),
            account: account.to_owned(),
            generation,
        }
    }

    /// The handle of `account`, when it runs in this process.
    pub fn get(&self, account: &str) -> Option<T> {
        lock(&self.inner)
            .by_account
            .get(account)
            .map(|(_, handle)| handle.clone())
    }

    pub fn is_running(&self, account: &str) -> bool {
        lock(&self.inner).by_account.contains_key(account)
    }
}

/// One registration; dropping it unregisters the account.
#[derive(Debug)]
pub struct LiveEntry<T> {
    accounts: LiveAccounts<T>,
    account: String,
    generation: u64,
}

impl<T> Drop for LiveEntry<T> {
    fn drop(&mut self) {
        let mut inner = lock(&self.accounts.inner);
        if inner
            .by_account
            .get(&self.account)
            .is_some_and(|(generation, _)| *generation == self.generation)
        {
            inner.by_account.remove(&self.account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_lives_until_dropped_and_an_old_run_never_removes_a_new_one() {
        let live = LiveAccounts::<u32>::default();
        let first = live.register("a", 1);
        assert_eq!(live.get("a"), Some(1));
        assert!(!live.is_running("b"));
        let second = live.register("a", 2);
        drop(first);
        assert_eq!(
            live.get("a"),
            Some(2),
            "the older run's end left the newer one"
        );
        drop(second);
        assert_eq!(live.get("a"), None);
    }
}
