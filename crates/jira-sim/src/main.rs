//! `jira-sim`: serves the demo site on a port, for trying jira-action or
//! any Jira client by hand.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use jira_sim::{Flavor, Sim, SimConfig, Site, demo};

/// Which Jira to be.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FlavorArg {
    Cloud,
    Datacenter,
}

/// A Jira Cloud (REST v3) or Data Center (REST v2) simulator serving the
/// demo site.
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
    /// Cloud (REST v3) or Data Center (REST v2).
    #[arg(long, value_enum, default_value = "cloud")]
    flavor: FlavorArg,
    /// Serve everything under this path, e.g. `/jira`, as Data Center
    /// servers often run.
    #[arg(long)]
    context_path: Option<String>,
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
    let flavor = match args.flavor {
        FlavorArg::Cloud => Flavor::Cloud,
        FlavorArg::Datacenter => Flavor::DataCenter,
    };
    let config = SimConfig {
        site: Site::demo(args.users),
        site_url: args.site_url,
        latency: Duration::from_millis(args.latency_ms),
        flavor,
        context_path: args.context_path,
        ..SimConfig::default()
    };
    let handle = Sim::new(config).listen(args.listen).await?;
    println!("jira-sim ({flavor:?}) listening on {}", handle.base_url());
    match flavor {
        Flavor::Cloud => {
            println!("  gateway form: {}", handle.gateway_url());
            println!(
                "  credentials:  Basic {}:{}  or  Bearer {}",
                demo::ADMIN_EMAIL,
                demo::ADMIN_TOKEN,
                demo::ADMIN_OAUTH_TOKEN
            );
        }
        Flavor::DataCenter => println!(
            "  credentials:  Bearer {} (personal access token)  or  Basic {}:{}",
            demo::ADMIN_PAT,
            demo::ADMIN_USERNAME,
            demo::ADMIN_PASSWORD
        ),
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
