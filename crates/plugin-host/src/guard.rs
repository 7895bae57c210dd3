//! Every export runs behind a guard: errors become JS errors whose message starts with the error
//! kind, and panics become errors too instead of aborting the gateway.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use channel_core::ChannelError;
use futures::FutureExt;

pub fn to_napi(err: &ChannelError) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, err.to_string())
}

fn panic_error(payload: Box<dyn Any + Send>) -> ChannelError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into());
    tracing::error!(%message, "panic caught at the addon boundary");
    ChannelError::permanent(format!("internal error (panic): {message}"))
}

pub fn guard<T>(f: impl FnOnce() -> Result<T, ChannelError>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| to_napi(&e)),
        Err(payload) => Err(to_napi(&panic_error(payload))),
    }
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

pub async fn guard_async<T>(fut: impl Future<Output = Result<T, ChannelError>>) -> napi::Result<T> {
    catch_panic(fut).await.map_err(|e| to_napi(&e))
}
