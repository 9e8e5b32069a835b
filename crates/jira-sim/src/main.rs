//! `jira-sim`: serves the demo site on a port, for trying jira-action or
//! any Jira client by hand.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use jira_sim::{Sim, SimConfig, Site, demo};

/// A Jira Cloud REST API simulator serving the demo site.
#[derive(Parser, Debug)]
#[command(name = "jira-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Generated users, on top of the fixed demo users.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Site URL reported by accessible-resources (default: the URL the
    /// request came in on).
    #[arg(long)]
    site_url: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = SimConfig {
        site: Site::demo(args.users),
        site_url: args.site_url,
        latency: Duration::from_millis(args.latency_ms),
        ..SimConfig::default()
    };
    let handle = Sim::new(config).listen(args.listen).await?;
    println!("jira-sim listening on {}", handle.base_url());
    println!("  gateway form: {}", handle.gateway_url());
    println!(
        "  credentials:  Basic {}:{}  or  Bearer {}",
        demo::ADMIN_EMAIL,
        demo::ADMIN_TOKEN,
        demo::ADMIN_OAUTH_TOKEN
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
