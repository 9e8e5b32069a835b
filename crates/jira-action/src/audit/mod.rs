//! The audit trail from the shell: `jira-action audit` and
//! `jira-action backup` (the records themselves are the store's).

pub mod cli;
