//! The NIM V2 API surface that node-nim and NetEase's JS SDKs expose, as Rust types: enums,
//! messages, conversation ids, error codes and the [`NimTransport`] trait over them.

mod conversation;
mod enums;
mod error;
mod message;
mod transport;

pub use conversation::ConversationId;
pub use enums::{
    ConnectStatus, ConversationType, KickReason, LoginStatus, MessageSource, MessageType,
};
pub use error::{NimError, NimErrorClass, code_of};
pub use message::{Attachment, Message};
pub use transport::{
    DataSync, Durable, Kicked, Login, Mention, NimEvent, NimTransport, Opened, ReadReceipt,
    SendBody, SendRequest, Sent,
};
