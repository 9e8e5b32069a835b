//! Markdown → ADF throughput on realistic issue text of 1 KiB, 64 KiB and
//! 1 MiB. Throughput should be about the same at every size (linear time).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// One section of a realistic issue description; `n` varies the text.
fn section(n: usize) -> String {
    format!(
        r#"## Step {n}: reproduce the **login** failure

When a user signs in through [SSO](https://sso.example.com/login?attempt={n}) the
service answers `HTTP 500` and logs *nothing useful*. See ~~the old ticket~~
<https://jira.example.com/browse/OPS-{n}> and ask <oncall@example.com>.

1. Open the staging site
2. Click **Sign in**
   - with a *fresh* session
   - with an expired cookie
3. Watch the logs

- [ ] collect request ids
- [x] confirm on staging

```rust
fn retry(attempts: u32) -> Result<(), Error> {{
    for i in 0..attempts {{
        login(i)?;
    }}
    Ok(())
}}
```

| Environment | Status | Owner |
|-------------|:------:|-------|
| staging     | failing | @ana |
| production  | ok      | [bob](mailto:bob@example.com) |

> Note: this also affects the *mobile* app.
> Keep the [runbook](https://wiki.example.com/runbook) open.

"#
    )
}

/// A document of about `size` bytes, made of whole sections.
fn document(size: usize) -> String {
    let mut doc = String::from("# Login fails with HTTP 500\n\n");
    let mut n = 0;
    while doc.len() < size {
        doc.push_str(&section(n));
        n += 1;
    }
    // Trim to the size at a line boundary (the last block may be cut, as a
    // real text can be).
    let cut = doc[..size.min(doc.len())]
        .rfind('\n')
        .map_or(doc.len(), |i| i + 1);
    doc.truncate(cut);
    doc
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_markdown");
    for (name, size) in [("1KiB", 1 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        let doc = document(size);
        group.throughput(Throughput::Bytes(doc.len() as u64));
        if size >= 1 << 20 {
            group.sample_size(10);
        }
        group.bench_with_input(BenchmarkId::from_parameter(name), &doc, |b, doc| {
            b.iter(|| adf::from_markdown(black_box(doc)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("from_markdown_to_json");
    let doc = document(64 << 10);
    group.throughput(Throughput::Bytes(doc.len() as u64));
    group.bench_function("64KiB", |b| {
        b.iter(|| serde_json::to_vec(&adf::from_markdown(black_box(&doc))))
    });
    group.finish();

    let mut group = c.benchmark_group("from_plain_text");
    let text = document(64 << 10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("64KiB", |b| {
        b.iter(|| adf::from_plain_text(black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
