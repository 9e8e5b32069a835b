//! Plain text and Markdown → [Atlassian Document Format][adf] (ADF), the
//! JSON rich-text format of Jira Cloud's REST API v3 (issue descriptions,
//! comments). Pure: no I/O.
//!
//! ```
//! let doc = adf::from_markdown("Fix **login** on [staging](https://staging.example.com)");
//! assert_eq!(doc.to_value()["content"][0]["type"], "paragraph");
//! assert_eq!(adf::from_plain_text("a\nb"), adf::from_markdown("a\nb"));
//! ```
//!
//! Whatever the input, the output is valid against Atlassian's ADF JSON
//! schema (vendored in `schema/`, checked by `schema::validate` with the
//! `validate` feature) and also keeps the stricter rules of Atlassian's
//! editor that the JSON schema does not express (a list item starts with a
//! paragraph, a task list with a task item). Nodes are typed: each kind of
//! parent has its own enum of the children it may hold.
//!
//! # Markdown mapping
//!
//! CommonMark plus GFM tables, strikethrough and task lists (pulldown-cmark).
//!
//! - Headings, paragraphs, `**strong**`, `*em*`, `~~strike~~`, `` `code` ``
//!   map to the ADF nodes and marks of the same names. A line break inside a
//!   paragraph, soft or hard, is a `hardBreak`, so text without Markdown
//!   syntax converts exactly as [`from_plain_text`] converts it.
//! - `code` combines only with `link` in ADF: inline code inside emphasis
//!   loses the emphasis.
//! - Links: `http:`, `https:` and `mailto:` hrefs (and `<user@host>`
//!   autolinks) become `link` marks; any other href (`javascript:`, `data:`,
//!   relative, …) leaves just the link text.
//! - Images become their alt text (or URL, if no alt) linked to the image URL
//!   when that is `http(s)`; otherwise just the alt text. An image inside a
//!   link takes the link's target.
//! - Raw HTML, block or inline, is kept as plain text of its source.
//! - NUL characters become U+FFFD (as CommonMark specifies; pulldown-cmark
//!   leaves them).
//! - Bullet and ordered lists (with their start number as `order`); GFM task
//!   items become `taskList`/`taskItem` (`localId`s `task-1`, `task-2`, …,
//!   unique in the document). A list mixing task and plain items is split
//!   into consecutive lists of each kind.
//! - Code blocks (fenced or indented) become `codeBlock` with the info
//!   string's first word as `language`; an empty code block has no content.
//! - Thematic breaks become `rule`; GFM tables become `table` with
//!   `tableHeader` cells in the header row and `tableCell`s below, each
//!   holding one paragraph.
//!
//! Where ADF forbids a node, it is converted rather than emitted:
//!
//! - a heading in a list item or quote becomes a paragraph;
//! - a thematic break in a list item or quote is dropped (it has no text);
//! - a quote in a quote or in a list item is unwrapped: its blocks join the
//!   parent;
//! - a table in a list item or quote becomes one paragraph per row, cells
//!   separated by ` | `;
//! - a task list in a quote becomes a bullet list whose items start with
//!   `[ ] ` / `[x] `;
//! - a task item holds inline content only: its first paragraph, then any
//!   further blocks as lines after hard breaks (code blocks as `code`-marked
//!   lines, list items as lines starting with `• `, `1. ` or `[ ] `); a task
//!   list directly inside it stays a task list, nested after the item.
//!
//! Empty paragraphs, headings and quotes are dropped; an empty list item
//! holds an empty paragraph.
//!
//! # Limits
//!
//! Lists nest at most 16 deep (block quotes, which ADF cannot nest, at most
//! one): items of deeper lists become paragraphs of the deepest kept item.
//! This keeps the JSON shallow enough for any JSON parser and lets every
//! step — building, serializing, dropping — run in bounded stack whatever
//! the input. Conversion is linear in the input size.
//!
//! [adf]: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/

mod lower;
mod markdown;
mod node;
mod plain;

#[cfg(feature = "validate")]
pub mod schema;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use node::DocBlock;

/// A complete ADF document (`{"version":1,"type":"doc","content":[...]}`),
/// built from typed nodes. Serializes to exactly that JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Doc {
    content: Vec<DocBlock>,
}

impl Doc {
    /// The document as a JSON value, ready to go into an API request.
    #[allow(
        clippy::expect_used,
        reason = "serialising these nodes cannot fail (see below)"
    )]
    pub fn to_value(&self) -> Value {
        // Infallible: the nodes hold only strings, integers and derived
        // structs and sequences (no maps with non-string keys, no custom
        // serializers that can fail), which serde_json always represents.
        serde_json::to_value(self).expect("ADF nodes always serialize to JSON")
    }

    /// `true` if the document has no block content (e.g. blank input).
    pub fn is_empty(&self) -> bool {
        self.content.is_empty()
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = serializer.serialize_struct("Doc", 3)?;
        doc.serialize_field("version", &1)?;
        doc.serialize_field("type", "doc")?;
        doc.serialize_field("content", &self.content)?;
        doc.end()
    }
}

/// Plain text → ADF: paragraphs split on blank lines (empty or
/// whitespace-only), single newlines become `hardBreak`s; `\r\n` and `\r`
/// count as `\n`. Line text is kept verbatim (NUL becomes U+FFFD, as in
/// CommonMark). Blank input gives an empty document.
pub fn from_plain_text(text: &str) -> Doc {
    Doc {
        content: plain::paragraphs(text)
            .into_iter()
            .map(DocBlock::Paragraph)
            .collect(),
    }
}

/// CommonMark + GFM Markdown → ADF (see the [crate docs](crate) for the
/// mapping). Never fails: anything ADF cannot represent is converted.
pub fn from_markdown(markdown: &str) -> Doc {
    Doc {
        content: lower::lower(markdown::parse(markdown)),
    }
}
