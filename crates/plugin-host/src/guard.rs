//! Every export runs behind a guard: its result or error becomes the JSON envelope of
//! [`Returned`], and a panic becomes an error too instead of aborting the gateway.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use channel_core::ChannelError;
use futures::FutureExt;
use serde::Serialize;

use crate::boundary::Returned;

fn panic_error(payload: Box<dyn Any + Send>) -> ChannelError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    tracing::error!(%message, "panic caught at the addon boundary");
    ChannelError::permanent(format!("internal error (panic): {message}"))
}

/// Runs a synchronous export: `{"ok": value}` or `{"error": …}`.
pub fn guard<T: Serialize>(f: impl FnOnce() -> Result<T, ChannelError>) -> String {
    let result =
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| Err(panic_error(payload)));
    Returned::of(result).to_json()
}

/// Runs an asynchronous export to completion: `{"ok": value}` or `{"error": …}`.
pub async fn guard_async<T: Serialize>(
    fut: impl Future<Output = Result<T, ChannelError>>,
) -> String {
    Returned::of(catch_panic(fut).await).to_json()
}

/// Runs a future to completion; a panic becomes `Err(Panicked)`, apart from the future's own
/// errors, so the caller can report what nobody else will.
pub async fn catch_panic_apart<T>(
    fut: impl Future<Output = Result<T, ChannelError>>,
) -> Result<Result<T, ChannelError>, ChannelError> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(panic_error)
}

/// Runs a future to completion, turning a panic into an error.
pub async fn catch_panic<T>(
    fut: impl Future<Output = Result<T, ChannelError>>,
) -> Result<T, ChannelError> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(panic_error(payload)),
    }
}
