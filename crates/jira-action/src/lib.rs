//! jira-action: a Glean tool server that creates Jira issues on people's
//! behalf, attributed to them as reporter.
//!
//! The binary is a thin wrapper over [`cli::main`]; tests start the server
//! with [`app::start`] on a random port and talk to it over HTTP.

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod glean;
pub mod health;
pub mod http;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod resolve;
pub mod sandbox;
pub mod server;
pub mod signin;
pub mod store;
pub mod throttle;
pub mod tools;
