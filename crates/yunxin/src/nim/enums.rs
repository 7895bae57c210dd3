//! The V2 enums, with the numbers the SDKs use. Unknown numbers are kept, not rejected: a
//! newer SDK may add values, and a bot must not drop a message over one.

use serde::{Deserialize, Serialize};

/// Declares a `#[repr]`-like enum that (de)serializes as its number and keeps unknown ones.
macro_rules! nim_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "i64", into = "i64")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this build does not know.
            Other(i64),
        }

        impl From<i64> for $name {
            fn from(value: i64) -> Self {
                match value {
                    $($value => Self::$variant,)*
                    other => Self::Other(other),
                }
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> i64 {
                match value {
                    $($name::$variant => $value,)*
                    $name::Other(other) => other,
                }
            }
        }
    };
}

nim_enum! {
    /// `V2NIMLoginStatus`.
    LoginStatus { Logout = 0, Logined = 1, Logining = 2, Unlogin = 3 }
}

nim_enum! {
    /// `V2NIMConnectStatus`. The SDK reconnects by itself: `Waiting` → `Connecting` → `Connected`.
    ConnectStatus { Disconnected = 0, Connected = 1, Connecting = 2, Waiting = 3 }
}

nim_enum! {
    /// `V2NIMKickedOfflineReason`.
    KickReason {
        /// Another device logged in under the multi-device rules.
        ClientExclusive = 1,
        /// The server (or the app's backend) kicked the account.
        Server = 2,
        /// Another of the account's own clients kicked this one.
        OwnClient = 3,
    }
}

nim_enum! {
    /// `V2NIMConversationType`, the middle part of a conversation id.
    ConversationType { Unknown = 0, P2p = 1, Team = 2, SuperTeam = 3 }
}

nim_enum! {
    /// `V2NIMMessageType`.
    MessageType {
        Text = 0, Image = 1, Audio = 2, Video = 3, Location = 4, Notification = 5, File = 6,
        Tip = 10, Robot = 11, Call = 12, Custom = 100,
    }
}

nim_enum! {
    /// `V2NIMMessageSource`: how a received message reached us. The numbers are the Node
    /// SDK's (`nim-web-sdk-ng` 10.9.77), which start at 0 for unknown.
    MessageSource { Unknown = 0, Online = 1, Offline = 2, Roaming = 3 }
}

/// Defaults for messages that leave the field out.
impl Default for MessageSource {
    fn default() -> Self {
        Self::from(0)
    }
}

impl Default for MessageType {
    fn default() -> Self {
        Self::from(0)
    }
}

impl Default for ConversationType {
    fn default() -> Self {
        Self::from(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_ones_are_kept() {
        let t: MessageType = serde_json::from_str("6").unwrap();
        assert_eq!(t, MessageType::File);
        assert_eq!(serde_json::to_string(&MessageType::Custom).unwrap(), "100");
        let unknown: MessageType = serde_json::from_str("42").unwrap();
        assert_eq!(unknown, MessageType::Other(42));
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "42");
        assert_eq!(KickReason::from(1), KickReason::ClientExclusive);
        assert_eq!(i64::from(ConnectStatus::Waiting), 3);
    }
}
