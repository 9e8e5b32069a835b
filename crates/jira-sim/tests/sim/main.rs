//! Integration tests: the simulator over real HTTP, with reqwest. One
//! binary (modules) to keep builds short.

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
