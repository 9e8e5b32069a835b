//! `jira-action mcp grants` and `jira-action mcp revoke`: who signed in to
//! which client, and ending their grants, from the shell. Revocation is in
//! the store, so every process sharing it refuses the tokens at once.

use anyhow::bail;

use crate::audit::cli::StoreArgs;
use crate::store::{now_ms, rfc3339};

#[derive(Debug, clap::Subcommand)]
pub enum GrantsCommand {
    /// List the live sign-in grants: who granted which client, when, and
    /// when it last called.
    Grants {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// End grants now: every token they gave stops working on every
    /// process sharing the store.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The person (their email).
        #[arg(long)]
        user: String,
        /// Only the grant to this client (its client id).
        #[arg(long)]
        client: Option<String>,
    },
}

pub async fn run(command: GrantsCommand) -> anyhow::Result<()> {
    match command {
        GrantsCommand::Grants { store } => {
            let store = store.open().await?;
            let grants = store.signin_grants().await?;
            store.close().await;
            if grants.is_empty() {
                println!("No live sign-in grants.");
                return Ok(());
            }
            println!(
                "{:<32} {:<40} {:<40} {:<24} LAST USED",
                "PERSON", "ACCOUNT", "CLIENT", "GRANTED"
            );
            for grant in grants {
                println!(
                    "{:<32} {:<40} {:<40} {:<24} {}",
                    grant.email,
                    // Signed in with OpenID Connect: found in Jira by email.
                    match grant.account_id.as_str() {
                        "" => "(by email)",
                        account => account,
                    },
                    grant.client_id,
                    rfc3339(grant.created_at_ms),
                    rfc3339(grant.last_used_at_ms)
                );
            }
            Ok(())
        }
        GrantsCommand::Revoke {
            store,
            user,
            client,
        } => {
            let Ok(email) = crate::glean::email::parse(&user) else {
                bail!("--user {user:?} is not one plain email address");
            };
            let store = store.open().await?;
            let ended = store
                .signin_revoke_person(&email, client.as_deref(), now_ms())
                .await?;
            store.close().await;
            println!("{ended} grant(s) of {email} revoked.");
            Ok(())
        }
    }
}
