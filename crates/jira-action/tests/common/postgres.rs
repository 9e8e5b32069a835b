//! PostgreSQL for the store's tests: `JIRA_ACTION_TEST_POSTGRES_URL` if set,
//! otherwise a throwaway cluster started once per test binary from the
//! PostgreSQL server binaries on this machine (on `PATH` or Debian's
//! `/usr/lib/postgresql/<version>/bin`). As root (CI) the cluster runs as
//! the `postgres` user (or `nobody`), since PostgreSQL refuses root.
//!
//! Each test gets a database of its own. A watchdog shell stops the cluster
//! and deletes its directory when the test process exits.
//!
//! With `JIRA_ACTION_REQUIRE_POSTGRES=1` (CI) a missing PostgreSQL fails the
//! tests; otherwise the PostgreSQL variants are skipped with a message.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// A URL to a fresh, empty database, or None (skip) when PostgreSQL is not
/// available and not required.
pub async fn fresh_database() -> Option<String> {
    let server = SERVER.get_or_init(|| match std::env::var("JIRA_ACTION_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => start_cluster(),
    });
    let base = match server {
        Ok(url) => url.clone(),
        Err(reason) => {
            if std::env::var("JIRA_ACTION_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL is required (JIRA_ACTION_REQUIRE_POSTGRES=1): {reason}");
            }
            eprintln!("skipped: no PostgreSQL ({reason})");
            return None;
        }
    };
    let name = format!(
        "jira_action_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(&base).expect("postgres url");
    url.set_path(&name);
    Some(url.to_string())
}

fn start_cluster() -> Result<String, String> {
    let bin =
        server_binaries().ok_or("no initdb/postgres found on PATH or in /usr/lib/postgresql")?;
    let user = if is_root() {
        Some(
            ["postgres", "nobody"]
                .into_iter()
                .find(|u| run(Command::new("id").arg("-u").arg(u)).is_ok())
                .ok_or("running as root and no postgres or nobody user to run PostgreSQL as")?,
        )
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("jira-action-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    if let Some(user) = user {
        run(Command::new("chown").arg("-R").arg(user).arg(&dir))?;
    }
    let data = dir.join("data");
    let initdb = format!(
        "{} -D {} -U postgres --auth=trust -E UTF8 --no-sync",
        bin.join("initdb").display(),
        data.display()
    );
    if let Err(err) = run(&mut as_user(user, &initdb)) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(err);
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // The server, and a watchdog that stops it when this process is gone.
    let script = format!(
        "{postgres} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
         >{dir}/log 2>&1 & pg=$!; \
         while kill -0 $pg 2>/dev/null && [ -d /proc/{parent} ]; do sleep 1; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
        parent = std::process::id(),
    );
    as_user(user, &script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("postgres did not start: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Accepting connections is not yet accepting logins.
    std::thread::sleep(Duration::from_millis(300));
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn as_user(user: Option<&str>, script: &str) -> Command {
    match user {
        Some(user) => {
            // runuser lives in sbin, which a non-login PATH may lack.
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .unwrap_or("runuser");
            let mut command = Command::new(runuser);
            command.args(["-u", user, "--", "sh", "-c", script]);
            command
        }
        None => {
            let mut command = Command::new("sh");
            command.args(["-c", script]);
            command
        }
    }
}

fn run(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// The directory with `initdb` and `postgres`.
fn server_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d))
    {
        return Some(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| has_both(d))
        .collect();
    versions.sort();
    versions.pop()
}
