//! The endpoint handlers, by resource.

pub(crate) mod create;
pub(crate) mod issue;
pub(crate) mod meta;
pub(crate) mod users;
