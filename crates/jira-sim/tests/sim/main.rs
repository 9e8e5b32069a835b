//! Integration tests: the simulator over real HTTP, with reqwest. One
//! binary (modules) to keep builds short.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod auth;
mod common;
mod create;
mod dc;
mod faults;
mod meta;
mod oauth;
mod scale;
mod search;
mod users;
