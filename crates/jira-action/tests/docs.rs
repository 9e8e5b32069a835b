//! The docs against the code: every error code the server can answer with
//! is in `docs/errors.md` with its status, every configuration key,
//! environment variable and `serve` flag is in `docs/configuration.md`,
//! every relative link in `README.md` and `docs/*.md` leads somewhere, and
//! the README stays short and starts with the two commands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::CommandFactory;
use jira_action::config::Config;
use serde::Deserialize;
use serde::de::{self, IntoDeserializer, Visitor};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `| status | `code` | ...` rows of `docs/errors.md`: code → status.
fn documented_errors() -> BTreeMap<String, u16> {
    let mut rows = BTreeMap::new();
    for line in read("docs/errors.md").lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 {
            continue;
        }
        let (Ok(status), Some(code)) = (
            cells[1].parse::<u16>(),
            cells[2].strip_prefix('`').and_then(|c| c.strip_suffix('`')),
        ) else {
            continue;
        };
        assert!(
            rows.insert(code.to_owned(), status).is_none(),
            "{code} has two rows in docs/errors.md"
        );
    }
    rows
}

/// What the MCP door's access check answers, asked of running servers (with
/// API keys only, and with sign-in on beside them): its refusals come before
/// the core, so they are not among the samples.
async fn mcp_access_refusals() -> Vec<(String, u16)> {
    let mut refusals = Vec::new();
    for sign_in in [false, true] {
        let app = common::spawn_app_with(move |config, sim| {
            config.mcp.api_keys = vec!["the-right-key".to_owned().into()];
            if sign_in {
                let oauth = &mut config.mcp.oauth;
                oauth.enabled = true;
                oauth.client_id = Some("docs-test".into());
                oauth.client_secret = Some("docs-test-secret".to_owned().into());
                oauth.auth_url = sim.base_url().parse().expect("url");
                oauth.api_url = sim.base_url().parse().expect("url");
            }
        })
        .await;
        for key in [None, Some("a-wrong-key")] {
            let mut request = app
                .http
                .post(app.url("/mcp"))
                .header("Accept", "application/json, text/event-stream")
                .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.expect("a JSON refusal");
            let code = body["error"].as_str().expect("an error code").to_owned();
            refusals.push((code, status));
        }
    }
    refusals
}

#[tokio::test]
async fn every_error_code_is_in_errors_md_with_its_status() {
    let mut produced: BTreeMap<String, u16> = jira_action::http::Error::samples()
        .iter()
        .map(|error| (error.code().to_owned(), error.status().as_u16()))
        .collect();
    produced.extend(mcp_access_refusals().await);
    assert!(produced.contains_key("jira_outcome_unknown") && produced.len() > 40);
    let documented = documented_errors();
    let missing: Vec<&String> = produced
        .keys()
        .filter(|code| !documented.contains_key(*code))
        .collect();
    assert!(missing.is_empty(), "not in docs/errors.md: {missing:?}");
    let wrong: Vec<String> = produced
        .iter()
        .filter(|(code, status)| documented[*code] != **status)
        .map(|(code, status)| format!("{code}: {status}, documented {}", documented[code]))
        .collect();
    assert!(
        wrong.is_empty(),
        "wrong status in docs/errors.md: {wrong:?}"
    );
    let stale: Vec<&String> = documented
        .keys()
        .filter(|code| !produced.contains_key(*code))
        .collect();
    assert!(
        stale.is_empty(),
        "in docs/errors.md, never produced: {stale:?}"
    );
}

/// A deserializer that answers every value with something valid and
/// records the path of every struct field asked for: the configuration
/// keys, from the parser itself (serde's field lists, renames included).
#[derive(Clone)]
struct KeyProbe {
    path: String,
    keys: Rc<RefCell<BTreeSet<String>>>,
}

/// A map's keys are the site's own names; the docs write them as this.
const MAP_KEY: &str = "<key>";

#[derive(Debug)]
struct ProbeError(String);

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<T: std::fmt::Display>(message: T) -> ProbeError {
        ProbeError(message.to_string())
    }
}

impl KeyProbe {
    fn child(&self, name: &str) -> KeyProbe {
        let path = if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        };
        KeyProbe {
            path,
            keys: Rc::clone(&self.keys),
        }
    }
}

/// The entries of a struct (its fields) or of a map (one, [`MAP_KEY`]).
struct Entries {
    probe: KeyProbe,
    names: &'static [&'static str],
    current: Option<&'static str>,
}

impl<'de> de::MapAccess<'de> for Entries {
    type Error = ProbeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        let Some((name, rest)) = self.names.split_first() else {
            return Ok(None);
        };
        self.names = rest;
        self.current = Some(name);
        seed.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        let name = self.current.take().unwrap_or(MAP_KEY);
        seed.deserialize(self.probe.child(name))
    }
}

/// `len` elements of a tuple (an address's parts), none of a list.
struct Elements {
    probe: KeyProbe,
    remaining: usize,
}

impl<'de> de::SeqAccess<'de> for Elements {
    type Error = ProbeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        seed.deserialize(self.probe.clone()).map(Some)
    }
}

/// An enum's first variant.
struct FirstVariant {
    probe: KeyProbe,
    name: &'static str,
}

impl<'de> de::EnumAccess<'de> for FirstVariant {
    type Error = ProbeError;
    type Variant = KeyProbe;

    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, KeyProbe), ProbeError> {
        let variant = seed.deserialize(self.name.into_deserializer())?;
        Ok((variant, self.probe))
    }
}

impl<'de> de::VariantAccess<'de> for KeyProbe {
    type Error = ProbeError;

    fn unit_variant(self) -> Result<(), ProbeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ProbeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

impl<'de> de::Deserializer<'de> for KeyProbe {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_bool(false)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_i64(1)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u64(1)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_f64(1.0)
    }

    /// A URL is a valid string for every string-typed key (paths, names,
    /// secrets), and the only one a URL-typed key takes; a duration
    /// (humantime's, which expects "a duration") takes `1s`.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let expected = format!("{}", &visitor as &dyn de::Expected);
        match expected.as_str() {
            "a duration" => visitor.visit_str("1s"),
            _ => visitor.visit_str("http://127.0.0.1:1/"),
        }
    }

    /// Absent: every optional key set at once is a configuration the
    /// parser rightly refuses (two sources of Glean's key). A struct's keys
    /// are recorded from its field list, not from the values.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_none()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_seq(Elements {
            probe: self,
            remaining: 0,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_seq(Elements {
            probe: self,
            remaining: len,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_map(Entries {
            probe: self,
            names: &[MAP_KEY],
            current: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        for field in fields {
            self.keys.borrow_mut().insert(self.child(field).path);
        }
        visitor.visit_map(Entries {
            probe: self,
            names: fields,
            current: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        let name = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(FirstVariant { probe: self, name })
    }

    /// Not human-readable: socket addresses then come as numbers, not as
    /// a string that would have to be one.
    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u64(1)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u64(1)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u64(1)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.deserialize_str(visitor)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u128 f32 char bytes byte_buf unit unit_struct
        tuple_struct identifier ignored_any
    }
}

/// Every key `Config` accepts, dotted, maps' keys as [`MAP_KEY`].
fn configuration_keys() -> BTreeSet<String> {
    let keys = Rc::new(RefCell::new(BTreeSet::new()));
    let probe = KeyProbe {
        path: String::new(),
        keys: Rc::clone(&keys),
    };
    Config::deserialize(probe).expect("the probe answers every value");
    keys.take()
}

#[test]
fn every_configuration_key_is_in_configuration_md() {
    let keys = configuration_keys();
    for known in ["listen", "jira.outcome_settle", "projects.<key>.defaults"] {
        assert!(keys.contains(known), "the probe missed {known}: {keys:?}");
    }
    let doc = read("docs/configuration.md");
    // A key is documented as itself, or (a table) by a key under it.
    let missing: Vec<&String> = keys
        .iter()
        .filter(|key| !doc.contains(&format!("`{key}`")) && !doc.contains(&format!("`{key}.")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
    // The deprecated spellings the parser still reads, beside their successors.
    let deprecated: Vec<(String, String)> = jira_action::config::deprecated_keys().collect();
    assert!(deprecated.len() > 10);
    let undocumented: Vec<&String> = deprecated
        .iter()
        .filter(|(old, new)| !keys.contains(new) || !doc.contains(&format!("`{old}`")))
        .map(|(old, _)| old)
        .collect();
    assert!(
        undocumented.is_empty(),
        "deprecated keys not in docs/configuration.md (or succeeded by no key): {undocumented:?}"
    );
}

/// Every environment variable any subcommand reads, and every long flag of
/// `serve` (which `doctor`, `mcp` and `oauth` share).
fn command_line() -> (BTreeSet<String>, BTreeSet<String>) {
    fn walk(command: &clap::Command, env: &mut BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env() {
                env.insert(name.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, env);
        }
    }
    let cli = jira_action::cli::Cli::command();
    let mut env = BTreeSet::new();
    walk(&cli, &mut env);
    let serve = cli.find_subcommand("serve").expect("a serve subcommand");
    let flags = serve
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|long| !matches!(*long, "help" | "version"))
        .map(|long| format!("--{long}"))
        .collect();
    (env, flags)
}

#[test]
fn every_environment_variable_and_serve_flag_is_in_configuration_md() {
    let (env, flags) = command_line();
    assert!(env.contains("JIRA_ACTION_API_TOKEN") && flags.contains("--store-url"));
    let doc = read("docs/configuration.md");
    let missing: Vec<&String> = env
        .iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .chain(
            flags
                .iter()
                .filter(|flag| !doc.contains(&format!("`{flag}"))),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

/// The pages whose links are checked.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    let docs = std::fs::read_dir(repo().join("docs")).expect("docs/");
    for entry in docs {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// GitHub's anchor for a heading: lowercased, punctuation dropped,
/// spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// The `](target)` links of a page, outside code.
fn links(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find(')') else { break };
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

#[test]
fn relative_links_lead_to_files_and_headings_that_exist() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("readable page");
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, fragment) = match link.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().expect("a directory").join(file)
            };
            let name = page.file_name().expect("a name").to_string_lossy();
            if !target.exists() {
                broken.push(format!("{name}: {link} (no such file)"));
                continue;
            }
            if let Some(fragment) = fragment {
                let target_text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&target_text).contains(fragment) {
                    broken.push(format!("{name}: {link} (no such heading)"));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser right?"
    );
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn the_readme_is_short_and_starts_with_the_two_commands() {
    let readme = read("README.md");
    assert!(
        readme.len() <= 10 * 1024,
        "README.md is {} bytes: move detail to docs/",
        readme.len()
    );
    let first_block = readme
        .split("```")
        .nth(1)
        .expect("a code block in the README");
    let commands: Vec<&str> = first_block
        .lines()
        .skip(1)
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release -p jira-action -- serve --sandbox",
            "cargo test --workspace"
        ]
    );
}
