//! `jira-action doctor`, the real binary, against a simulator set up to
//! fail each check in turn (Cloud, or Data Center: see `common`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::data_center;
use glean_sim::{GleanSim, TestSigner};
use jira_sim::{CreateScreen, Credential, Permission, Sim, SimHandle, demo};

struct Run {
    code: i32,
    table: String,
}

impl Run {
    /// The table line of a check, e.g. `token`.
    fn line(&self, check: &str) -> &str {
        self.table
            .lines()
            .find(|l| l.split('|').next().is_some_and(|c| c.trim() == check))
            .unwrap_or_else(|| panic!("no line for {check} in\n{}", self.table))
    }

    fn status(&self, check: &str) -> &str {
        self.line(check)
            .split('|')
            .nth(1)
            .map(str::trim)
            .unwrap_or("")
    }
}

/// A configuration for the simulator, with a store in `dir`. `token` is
/// a Cloud API token of the demo site; on Data Center the same person's
/// personal access token is configured instead.
fn config(sim: &SimHandle, dir: &Path, token: &str, extra: &str) -> String {
    let credentials = if data_center() {
        let pat = match token {
            demo::ADMIN_TOKEN => demo::ADMIN_PAT,
            demo::ALICE_TOKEN => demo::ALICE_PAT,
            other => other,
        };
        format!("auth = \"pat\"\npat = \"{pat}\"")
    } else {
        format!(
            "auth = \"api-token\"\nemail = \"{}\"\napi_token = \"{token}\"",
            demo::ADMIN_EMAIL
        )
    };
    format!(
        r#"
[jira]
url = "{url}"
{credentials}
request_timeout = "1s"

[store]
url = "{store}"

{extra}
"#,
        url = sim.base_url(),
        store = dir.join("doctor.db").display(),
    )
}

async fn doctor(config: String, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("write config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_jira-action"));
    command
        .arg("doctor")
        .arg("--config")
        .arg(&path)
        .args(args)
        .env_remove("JIRA_ACTION_API_TOKEN")
        .env_remove("JIRA_ACTION_JIRA_PAT")
        .env_remove("JIRA_ACTION_JIRA_FLAVOR")
        .env_remove("JIRA_ACTION_CONFIG")
        .env("RUST_LOG", "off");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("doctor runs");
    drop(dir);
    Run {
        code: output.status.code().unwrap_or(-1),
        table: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

async fn sim() -> SimHandle {
    Sim::spawn(common::sim_config()).await.expect("sim")
}

/// The admin's credential with `permission` taken away.
fn admin_without(permissions: &[Permission]) -> Credential {
    let mut credential = if data_center() {
        Credential::pat(demo::ADMIN_PAT, demo::ADMIN_USERNAME)
    } else {
        Credential::basic(demo::ADMIN_EMAIL, demo::ADMIN_TOKEN, demo::ADMIN_ACCOUNT_ID)
    };
    for permission in permissions {
        credential = credential.without(*permission);
    }
    credential
}

#[tokio::test]
async fn a_healthy_site_passes() {
    let sim = sim().await;
    let glean = GleanSim::spawn(TestSigner::shared()).await.expect("glean");
    let dir = tempfile::tempdir().expect("tempdir");
    let extra = format!("[glean]\nurl = \"{}\"\n", glean.base_url());
    let run = doctor(
        config(&sim, dir.path(), demo::ADMIN_TOKEN, &extra),
        &["--email", "alice@example.com"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.table);
    assert!(run.table.starts_with("CHECK"), "{}", run.table);
    assert!(
        run.table
            .lines()
            .next()
            .expect("header")
            .contains("| STATUS | DETAIL / FIX")
    );
    for check in [
        "configuration",
        "token",
        "permission USER_PICKER",
        "permissions DEMO",
        "permissions OPS",
        "reporter on screen DEMO",
        "reporter on screen OPS",
        "email alice@example.com",
        "jira latency",
        "rate-limit headroom",
        "glean key",
        "store",
    ] {
        assert_eq!(run.status(check), "pass", "{check}:\n{}", run.table);
    }
    assert_eq!(run.status("scopes"), "skip");
    let expected = if data_center() {
        "Jira Data Center / Server (detected: serverInfo says Server"
    } else {
        "Jira Cloud (detected: serverInfo says Cloud"
    };
    assert_eq!(run.status("jira flavour"), "pass");
    assert!(run.line("jira flavour").contains(expected), "{}", run.table);
    // Columns line up.
    let bars: Vec<usize> = run
        .table
        .lines()
        .map(|l| l.find(['|', '+']).unwrap_or(0))
        .collect();
    assert!(bars.windows(2).all(|w| w[0] == w[1]), "{}", run.table);
}

#[tokio::test]
async fn a_refused_token_fails() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = doctor(
        config(
            &sim,
            dir.path(),
            "wrong",
            "[glean]\nallow_unsigned = true\n",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("token"), "FAIL");
    assert!(run.line("token").contains("401"), "{}", run.table);
    let setting = if data_center() {
        "JIRA_ACTION_JIRA_PAT"
    } else {
        "JIRA_ACTION_API_TOKEN"
    };
    assert!(run.line("token").contains(setting), "{}", run.table);
    // Unsigned calls are a warning, not a failure.
    assert_eq!(run.status("glean key"), "warn");
}

#[tokio::test]
async fn missing_permissions_and_a_screen_without_reporter_fail() {
    let sim = sim().await;
    sim.sim.set_credentials(vec![admin_without(&[
        Permission::UserPicker,
        Permission::AssignIssues,
    ])]);
    assert!(sim.sim.set_screen(
        "OPS",
        demo::TASK,
        CreateScreen::standard().without("reporter")
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let run = doctor(
        config(
            &sim,
            dir.path(),
            demo::ADMIN_TOKEN,
            "[glean]\nallow_unsigned = true\n",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("permission USER_PICKER"), "FAIL");
    // Assign only is a warning: issues can still be filed.
    assert_eq!(run.status("permissions DEMO"), "warn", "{}", run.table);
    assert!(run.line("permissions DEMO").contains("Assign Issues"));
    assert_eq!(run.status("reporter on screen DEMO"), "pass");
    assert_eq!(run.status("reporter on screen OPS"), "FAIL");
    assert!(
        run.line("reporter on screen OPS").contains("Task"),
        "{}",
        run.table
    );
}

#[tokio::test]
async fn no_modify_reporter_fails_unless_the_policy_allows_it() {
    let sim = sim().await;
    // Alice's token lacks Modify Reporter (so Jira also hides the field).
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = config(
        &sim,
        dir.path(),
        demo::ALICE_TOKEN,
        "[glean]\nallow_unsigned = true\n",
    );
    text = text.replace(demo::ADMIN_EMAIL, demo::ALICE_EMAIL);
    let run = doctor(text.clone(), &[]).await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("permissions DEMO"), "FAIL");
    assert!(run.line("permissions DEMO").contains("Modify Reporter"));
    assert_eq!(run.status("reporter on screen DEMO"), "FAIL");

    let run = doctor(format!("reporter_policy = \"creator\"\n{text}"), &[]).await;
    assert_eq!(run.code, 0, "{}", run.table);
    assert_eq!(run.status("permissions DEMO"), "warn");
    assert_eq!(run.status("reporter on screen DEMO"), "warn");
}

#[tokio::test]
async fn emails_are_resolved_as_glean_would_send_them() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = doctor(
        config(
            &sim,
            dir.path(),
            demo::ADMIN_TOKEN,
            "[glean]\nallow_unsigned = true\n",
        ),
        &[
            "--email",
            "alice@example.com",
            "--email",
            "bob@example.com",
            "--email",
            "nobody@example.com",
            "--email",
            "carol@example.com",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("email alice@example.com"), "pass");
    if data_center() {
        // Data Center shows emails to whoever may browse users.
        assert_eq!(run.status("email bob@example.com"), "pass");
    } else {
        assert_eq!(run.status("email bob@example.com"), "warn");
        assert!(run.line("email bob@example.com").contains("hidden"));
    }
    assert_eq!(run.status("email nobody@example.com"), "FAIL");
    // Deactivated accounts do not count.
    assert_eq!(run.status("email carol@example.com"), "FAIL");
}

#[tokio::test]
async fn rate_limit_headroom_warns_near_the_limit_and_fails_at_it() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config(
        &sim,
        dir.path(),
        demo::ADMIN_TOKEN,
        "[glean]\nallow_unsigned = true\n",
    );
    sim.sim.set_response_headers(&[
        ("X-RateLimit-Limit", "350"),
        ("X-RateLimit-Remaining", "30"),
        ("X-RateLimit-NearLimit", "true"),
    ]);
    let run = doctor(text.clone(), &[]).await;
    assert_eq!(run.code, 0, "{}", run.table);
    assert_eq!(run.status("rate-limit headroom"), "warn");
    assert!(run.line("rate-limit headroom").contains("30/350 left"));

    sim.sim.set_response_headers(&[
        ("X-RateLimit-Limit", "350"),
        ("X-RateLimit-Remaining", "0"),
        ("RateLimit-Reason", "jira-burst-based"),
    ]);
    let run = doctor(text, &[]).await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("rate-limit headroom"), "FAIL");
    assert!(run.line("rate-limit headroom").contains("jira-burst-based"));
}

#[tokio::test]
async fn slow_jira_fails_the_latency_check() {
    let sim = sim().await;
    sim.sim.set_latency(Duration::from_millis(600));
    let dir = tempfile::tempdir().expect("tempdir");
    let run = doctor(
        config(
            &sim,
            dir.path(),
            demo::ADMIN_TOKEN,
            "[glean]\nallow_unsigned = true\n[access]\nprojects = [\"DEMO\"]\n",
        ),
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("token"), "pass");
    assert_eq!(run.status("jira latency"), "FAIL");
    assert!(run.line("jira latency").contains("jira.request_timeout"));
}

/// An admin runs `doctor` without reading the server's logs: a deprecated
/// key is a warning there, naming what to write, and fails nothing.
#[tokio::test]
async fn a_deprecated_key_is_a_warning_that_says_what_to_write() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config(
        &sim,
        dir.path(),
        demo::ADMIN_TOKEN,
        "[glean]\nallow_unsigned = true\n[access]\nprojects = [\"DEMO\"]\n",
    )
    .replace("request_timeout = \"1s\"", "request_timeout_ms = 1000");
    let run = doctor(text, &[]).await;
    assert_eq!(run.code, 0, "{}", run.table);
    assert_eq!(run.status("configuration"), "warn", "{}", run.table);
    let flat: String = run.table.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("jira.request_timeout_ms is deprecated")
            && flat.contains("jira.request_timeout = \"1000ms\""),
        "{}",
        run.table
    );
    assert_eq!(run.status("token"), "pass");
}

#[tokio::test]
async fn an_unreachable_glean_key_and_an_unwritable_store_fail() {
    let sim = sim().await;
    let glean = GleanSim::spawn(TestSigner::shared()).await.expect("glean");
    glean.set_failing(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config(
        &sim,
        dir.path(),
        demo::ADMIN_TOKEN,
        &format!("[glean]\nurl = \"{}\"\n", glean.base_url()),
    )
    // A store in a directory that does not exist cannot be created.
    .replace("doctor.db", "missing/dir/doctor.db");
    let run = doctor(text, &[]).await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("token"), "pass");
    assert_eq!(run.status("glean key"), "FAIL");
    assert_eq!(run.status("store"), "FAIL");
}

#[tokio::test]
async fn auto_detects_the_flavour_and_refuses_credentials_of_the_other_one() {
    // Passthrough holds no credential, so `auto` asks serverInfo.
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "[jira]\nurl = \"{}\"\nauth = \"passthrough\"\n[store]\nurl = \"{}\"\n[glean]\nallow_unsigned = true\n",
        sim.base_url(),
        dir.path().join("doctor.db").display()
    );
    let run = doctor(text, &[]).await;
    let expected = if data_center() {
        "Jira Data Center / Server (detected: serverInfo says Server"
    } else {
        "Jira Cloud (detected: serverInfo says Cloud"
    };
    assert_eq!(run.status("jira flavour"), "pass", "{}", run.table);
    assert!(run.line("jira flavour").contains(expected), "{}", run.table);

    // An API token on Data Center, or a PAT on Cloud, is named at once.
    let text = if data_center() {
        format!(
            "[jira]\nurl = \"{}\"\nauth = \"api-token\"\nemail = \"{}\"\napi_token = \"{}\"\n[store]\nurl = \"{}\"\n[glean]\nallow_unsigned = true\n",
            sim.base_url(),
            demo::ADMIN_EMAIL,
            demo::ADMIN_TOKEN,
            dir.path().join("doctor.db").display()
        )
    } else {
        format!(
            "[jira]\nurl = \"{}\"\nauth = \"pat\"\npat = \"{}\"\n[store]\nurl = \"{}\"\n[glean]\nallow_unsigned = true\n",
            sim.base_url(),
            demo::ADMIN_PAT,
            dir.path().join("doctor.db").display()
        )
    };
    let run = doctor(text, &[]).await;
    assert_eq!(run.code, 1, "{}", run.table);
    assert_eq!(run.status("jira flavour"), "FAIL", "{}", run.table);
    let fix = if data_center() {
        "use auth = pat"
    } else {
        "auth = pat or password is for Data Center"
    };
    assert!(run.line("jira flavour").contains(fix), "{}", run.table);
}
