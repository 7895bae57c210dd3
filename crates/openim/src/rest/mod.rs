//! REST API client (work in progress by a helper).
