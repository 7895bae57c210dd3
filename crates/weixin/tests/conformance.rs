//! The shared channel behaviour, checked against the iLink simulator over loopback.

mod common;

use common::Wx;

channel_core::channel_conformance_tests!(Wx);
