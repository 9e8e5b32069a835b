//! `--auth oauth`: the server holds an OAuth 2.0 (3LO) connection to the
//! simulator, made the way an admin makes it (`jira-action oauth login`,
//! the consent followed as a browser would), and the simulator's access
//! tokens live only seconds, so they expire and are refreshed many times
//! in a run.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The key the server seals its tokens with (base64 of 32 bytes; a
/// benchmark's, not a secret).
pub const TOKEN_KEY: &str = "YmVuY2gtb25seS10b2tlbi1rZXktMzItYnl0ZXMhISE=";

/// A free loopback port for `oauth login`'s redirect listener.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs `binary oauth login --config config` and consents: reads the
/// authorize URL it prints, follows the simulator's consent to the redirect
/// listener, and waits for the login to store the connection.
pub async fn login(binary: &Path, config: &Path) -> anyhow::Result<()> {
    let mut child = Command::new(binary)
        .args(["oauth", "login", "--wait-secs", "30", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} oauth login", binary.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let authorize = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("oauth login printed no URL within 30 s")??;
        match line {
            Some(line) if line.trim().starts_with("http") => break line.trim().to_owned(),
            Some(_) => {}
            None => bail!("oauth login exited without printing a URL"),
        }
    };
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let consent = browser.get(&authorize).send().await?;
    let callback = consent
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("the consent did not redirect")?
        .to_owned();
    browser.get(&callback).send().await?;
    // Let the rest of its output go (its pipe must not fill up).
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .context("oauth login did not finish within 30 s")??;
    if !status.success() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            use tokio::io::AsyncReadExt as _;
            let _ = stderr.read_to_string(&mut err).await;
        }
        bail!("oauth login failed ({status}): {err}");
    }
    Ok(())
}
