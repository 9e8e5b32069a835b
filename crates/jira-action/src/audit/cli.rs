//! `jira-action audit` and `jira-action backup`: the store, from the shell.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::config::{Config, StoreConfig};
use crate::store::{AuditFilter, AuditRecord, Location, Store, now_ms};

/// Which store: `--store-url`, else the config file's `store.url`, else the
/// default.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// TOML configuration file (its `store.url` is used).
    #[arg(long, env = "JIRA_ACTION_CONFIG")]
    config: Option<PathBuf>,
    /// postgres://…, sqlite://PATH or a file path; overrides the config file.
    #[arg(long, env = "JIRA_ACTION_STORE_URL", hide_env_values = true)]
    store_url: Option<crate::cli::StoreUrlArg>,
}

impl StoreArgs {
    fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.store_url {
            return Ok(url.0.clone());
        }
        let store = match &self.config {
            Some(path) => Config::store_from_file(path)?,
            None => StoreConfig::default(),
        };
        Ok(store.url)
    }

    /// Opens an existing store; a missing SQLite file is an error here
    /// rather than a new empty store.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let url = self.url()?;
        if let Location::Sqlite(path) = Location::parse(&url)?
            && !path.exists()
        {
            bail!(
                "no store at {} (give --store-url or --config)",
                path.display()
            );
        }
        Store::open(&url, 2)
            .await
            .with_context(|| format!("cannot open the store {}", crate::app::redact(&url)))
    }
}

#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Records since an RFC 3339 time (2026-11-28T09:00:00Z), a date
    /// (2026-11-28, UTC), or a duration ago (90m, 24h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only this caller's records (their Glean-User-Email).
    #[arg(long)]
    caller: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// At most this many records, oldest first (0: all).
    #[arg(long, default_value_t = 0)]
    limit: i64,
}

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist yet).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let since_ms = match &args.since {
        Some(since) => parse_since(since, now_ms())?,
        None => 0,
    };
    let store = args.store.open().await?;
    let records = store
        .audit(&AuditFilter {
            since_ms,
            caller: args.caller.clone(),
            limit: args.limit,
        })
        .await?;
    store.close().await;
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&records)? + "\n",
        Format::Csv => csv(&records)?,
        Format::Table => table(&records),
    };
    print!("{text}");
    Ok(())
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    if args.file.exists() {
        bail!("{} exists; give a new file", args.file.display());
    }
    let store = args.store.open().await?;
    store.backup(&args.file).await?;
    store.close().await;
    println!("backed up to {}", args.file.display());
    Ok(())
}

/// `--since`: a time, a date, or a duration before `now_ms`.
pub fn parse_since(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Ok(ago) = humantime::parse_duration(text) {
        let ago = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
        return Ok(now_ms.saturating_sub(ago));
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let time = humantime::parse_rfc3339_weak(&full).with_context(|| {
        format!("--since {text:?}: expected 2026-11-28T09:00:00Z, 2026-11-28 or 24h")
    })?;
    let since = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    Ok(i64::try_from(since).unwrap_or(i64::MAX))
}

const COLUMNS: [&str; 22] = [
    "at",
    "request_id",
    "caller",
    "signature",
    "outcome",
    "status",
    "issue_key",
    "issue_url",
    "error",
    "project",
    "issue_type",
    "reporter",
    "assignee",
    "summary",
    "jira_calls",
    "latency_ms",
    "idempotency_key",
    "front_door",
    "client",
    "operation",
    "count",
    "reason",
];

fn cells(record: &AuditRecord) -> [String; 22] {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        record.at.clone(),
        record.request_id.clone(),
        opt(&record.caller),
        record.signature.clone(),
        record.outcome.to_string(),
        record.status.to_string(),
        opt(&record.issue_key),
        opt(&record.issue_url),
        opt(&record.error),
        opt(&record.project),
        opt(&record.issue_type),
        opt(&record.reporter),
        opt(&record.assignee),
        opt(&record.summary),
        record.jira_calls.to_string(),
        record.latency_ms.to_string(),
        opt(&record.idempotency_key),
        record.front_door.clone(),
        opt(&record.client),
        record.operation.clone(),
        record.count.map(|c| c.to_string()).unwrap_or_default(),
        opt(&record.reason),
    ]
}

/// Every column, with a header; fields quoted where CSV needs it, and a
/// field a spreadsheet would take for a formula (a caller-chosen summary
/// or request id starting with `=`, `+`, `-`, `@`, a tab or CR) prefixed
/// with `'`, so opening the export runs nothing.
pub fn csv(records: &[AuditRecord]) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS)?;
    for record in records {
        for cell in cells(record) {
            out.write_field(neutralised(&cell).as_bytes())?;
        }
        out.write_record(None::<&[u8]>)?;
    }
    let bytes = out.into_inner().context("cannot write the CSV")?;
    Ok(String::from_utf8(bytes)?)
}

/// The field as is, or after a `'` where a spreadsheet would see a formula.
fn neutralised(field: &str) -> Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

/// The columns a person scans, aligned: no borders, two spaces between
/// columns.
pub fn table(records: &[AuditRecord]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING).set_header([
        "at",
        "caller",
        "outcome",
        "status",
        "issue/error",
        "project",
        "jira_calls",
        "latency_ms",
        "request_id",
    ]);
    for r in records {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
        table.add_row([
            r.at.clone(),
            opt(&r.caller),
            r.outcome.to_string(),
            r.status.to_string(),
            r.issue_key
                .clone()
                .or_else(|| r.error.clone())
                .unwrap_or_default(),
            opt(&r.project),
            r.jira_calls.to_string(),
            r.latency_ms.to_string(),
            r.request_id.clone(),
        ]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_dates_and_durations() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_since("24h", now).expect("duration"), now - 86_400_000);
        assert_eq!(
            parse_since("2026-11-28", now).expect("date"),
            parse_since("2026-11-28T00:00:00Z", now).expect("time")
        );
        assert!(parse_since("yesterday", now).is_err());
    }

    #[test]
    fn csv_neutralises_cells_a_spreadsheet_would_run() {
        let formulas = [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ];
        for formula in formulas {
            let record = AuditRecord {
                request_id: formula.into(),
                summary: Some(formula.into()),
                ..AuditRecord::default()
            };
            let csv = csv(&[record]).expect("csv");
            let row = csv.lines().nth(1).expect("a row");
            let cells: Vec<&str> = row.split(',').collect();
            for cell in [cells[1], cells[13]] {
                let cell = cell.trim_start_matches('"');
                assert!(cell.starts_with('\''), "{formula:?} exported as {cell:?}");
            }
        }
        let plain = csv(&[AuditRecord {
            request_id: "req-1".into(),
            ..AuditRecord::default()
        }])
        .expect("csv");
        assert!(plain.lines().nth(1).expect("row").contains(",req-1,"));
    }

    #[test]
    fn csv_quotes_and_table_aligns() {
        let record = AuditRecord {
            at: "2026-11-28T00:00:00.000Z".into(),
            caller: Some("a@b.c".into()),
            summary: Some("Jammed, \"badly\"".into()),
            outcome: crate::store::Outcome::Created,
            status: 200,
            issue_key: Some("DEMO-1".into()),
            ..AuditRecord::default()
        };
        let csv = csv(std::slice::from_ref(&record)).expect("csv");
        assert!(csv.starts_with("at,request_id,caller"));
        assert!(csv.contains("\"Jammed, \"\"badly\"\"\""));
        let table = table(&[record]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("caller"), lines[1].find("a@b.c"));
    }
}
