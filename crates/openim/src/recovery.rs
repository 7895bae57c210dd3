//! Token recovery (work in progress by a helper).
