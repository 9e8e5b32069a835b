//! Markdown events → a small Markdown block tree ([`MdBlock`]).
//!
//! The tree keeps Markdown's structure (a heading may sit in a list item, a
//! table in a quote); `lower.rs` then fits it into what ADF allows. Inline
//! content is already ADF ([`Inline`]): marks do not depend on the container.
//!
//! The builder is iterative (an explicit stack) and bounds the depth of the
//! tree it builds, so that lowering, serializing and dropping the result can
//! recurse safely whatever the input:
//! - only top-level block quotes are kept: ADF has no quote inside a quote
//!   or a list item, so the content of a nested quote is put into its parent
//!   directly (exactly what lowering would otherwise do);
//! - lists nest at most [`MAX_LIST_DEPTH`] deep; the items of deeper lists
//!   are put into the deepest kept list item (their task markers become
//!   `[ ]`/`[x]` text).

use std::borrow::Cow;

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::node::{CodeBlock, Inline, LinkAttrs, Mark, hard_break, push_text};
use crate::plain;

/// Deepest list nesting kept (bullet, ordered and task lists together).
/// Deep enough for any real document; shallow enough that the ADF JSON
/// (four JSON levels per list level) stays far below the 128-level nesting
/// limit of common JSON parsers, serde_json's included.
pub(crate) const MAX_LIST_DEPTH: usize = 16;

pub(crate) enum MdBlock {
    Paragraph(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    Code(CodeBlock),
    Rule,
    Quote(Vec<MdBlock>),
    List(MdList),
    Table(MdTable),
}

pub(crate) struct MdList {
    /// `Some(first number)` for an ordered list.
    pub(crate) start: Option<u64>,
    pub(crate) items: Vec<MdItem>,
}

pub(crate) struct MdItem {
    /// `Some(checked)` for a GFM task list item.
    pub(crate) task: Option<bool>,
    pub(crate) blocks: Vec<MdBlock>,
}

pub(crate) struct MdTable {
    pub(crate) head: Vec<Vec<Inline>>,
    pub(crate) rows: Vec<Vec<Vec<Inline>>>,
}

/// Parses `markdown` into top-level blocks.
pub(crate) fn parse(markdown: &str) -> Vec<MdBlock> {
    // Footnotes, smart punctuation and the other extensions stay off: they
    // would rewrite what the user typed or need nodes ADF lacks.
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // CommonMark replaces NUL with U+FFFD (pulldown-cmark leaves it); many
    // stores reject NUL.
    let markdown = if markdown.contains('\0') {
        Cow::Owned(markdown.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(markdown)
    };
    let mut builder = Builder::default();
    for event in Parser::new_ext(&markdown, options) {
        builder.event(event);
    }
    builder.finish()
}

/// An open block container.
enum Container {
    Root(Vec<MdBlock>),
    Quote(Vec<MdBlock>),
    List(MdList),
    Item(MdItem),
}

/// The open leaf block, which collects inline content or raw text.
#[derive(Default)]
enum Leaf {
    #[default]
    None,
    Paragraph(Vec<Inline>),
    Heading(u8, Vec<Inline>),
    Code {
        language: Option<String>,
        text: String,
    },
    Html(String),
    Table(TableState),
}

struct TableState {
    head: Vec<Vec<Inline>>,
    rows: Vec<Vec<Vec<Inline>>>,
    row: Vec<Vec<Inline>>,
    cell: Option<Vec<Inline>>,
}

struct Image {
    url: String,
    alt: String,
    /// Images nested in the alt text of this one (their text joins the alt).
    nested: usize,
}

struct Builder {
    /// Kept containers; `containers[0]` is the root.
    containers: Vec<Container>,
    /// One entry per open container event: `true` if it was kept (pushed
    /// on `containers`), `false` if flattened into its parent.
    frames: Vec<bool>,
    list_depth: usize,
    leaf: Leaf,
    em: usize,
    strong: usize,
    strike: usize,
    /// One entry per open link; `None` for a link whose href is not allowed.
    links: Vec<Option<LinkAttrs>>,
    image: Option<Image>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            containers: vec![Container::Root(Vec::new())],
            frames: Vec::new(),
            list_depth: 0,
            leaf: Leaf::None,
            em: 0,
            strong: 0,
            strike: 0,
            links: Vec::new(),
            image: None,
        }
    }
}

impl Builder {
    fn finish(mut self) -> Vec<MdBlock> {
        self.flush_leaf();
        // pulldown-cmark closes every container it opens; closing any left
        // over anyway keeps their content.
        while self.containers.len() > 1 {
            self.close_container();
        }
        match self.containers.pop() {
            Some(Container::Root(blocks)) => blocks,
            _ => Vec::new(),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => self.code_span(&code),
            Event::InlineMath(text) | Event::DisplayMath(text) => self.text(&text),
            Event::Html(html) => match &mut self.leaf {
                Leaf::Html(buf) => buf.push_str(&html),
                _ => self.text(&html),
            },
            Event::InlineHtml(html) => self.text(&html),
            Event::FootnoteReference(label) => self.text(&format!("[^{label}]")),
            Event::SoftBreak | Event::HardBreak => self.line_break(),
            Event::Rule => {
                self.flush_leaf();
                self.push_block(MdBlock::Rule);
            }
            Event::TaskListMarker(checked) => self.task_marker(checked),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.open_leaf(Leaf::Paragraph(Vec::new())),
            Tag::Heading { level, .. } => self.open_leaf(Leaf::Heading(level as u8, Vec::new())),
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    // The info string's first word is the language.
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().map(str::to_owned)
                    }
                    CodeBlockKind::Indented => None,
                };
                self.open_leaf(Leaf::Code {
                    language,
                    text: String::new(),
                });
            }
            Tag::HtmlBlock => self.open_leaf(Leaf::Html(String::new())),
            Tag::Table(_) => self.open_leaf(Leaf::Table(TableState {
                head: Vec::new(),
                rows: Vec::new(),
                row: Vec::new(),
                cell: None,
            })),
            Tag::TableHead | Tag::TableRow => {
                if let Leaf::Table(t) = &mut self.leaf {
                    t.row.clear();
                }
            }
            Tag::TableCell => {
                if let Leaf::Table(t) = &mut self.leaf {
                    t.cell = Some(Vec::new());
                }
            }
            Tag::BlockQuote(_) => {
                self.flush_leaf();
                // Kept at the top level only: ADF has no quote in a quote
                // or a list item.
                let keep = self.containers.len() == 1;
                self.open_container(keep.then(|| Container::Quote(Vec::new())));
            }
            Tag::List(start) => {
                self.flush_leaf();
                let keep = self.list_depth < MAX_LIST_DEPTH;
                if keep {
                    self.list_depth += 1;
                }
                self.open_container(keep.then(|| {
                    Container::List(MdList {
                        start,
                        items: Vec::new(),
                    })
                }));
            }
            Tag::Item => {
                self.flush_leaf();
                // An item is kept exactly when its list was.
                let keep = self.frames.last() == Some(&true)
                    && matches!(self.containers.last(), Some(Container::List(_)));
                self.open_container(keep.then(|| {
                    Container::Item(MdItem {
                        task: None,
                        blocks: Vec::new(),
                    })
                }));
            }
            // Not enabled; if they ever appear, keep their content.
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => {
                self.flush_leaf();
                self.open_container(None);
            }
            Tag::Emphasis => self.em += 1,
            Tag::Strong => self.strong += 1,
            Tag::Strikethrough => self.strike += 1,
            Tag::Superscript | Tag::Subscript => {}
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => {
                let href = if link_type == LinkType::Email && !has_scheme(&dest_url, "mailto") {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.into_string()
                };
                self.links.push(allowed_link(&href).then(|| LinkAttrs {
                    href,
                    title: (!title.is_empty()).then(|| title.into_string()),
                }));
            }
            Tag::Image { dest_url, .. } => match &mut self.image {
                Some(image) => image.nested += 1,
                None => {
                    self.image = Some(Image {
                        url: dest_url.into_string(),
                        alt: String::new(),
                        nested: 0,
                    })
                }
            },
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::Heading(_)
            | TagEnd::CodeBlock
            | TagEnd::HtmlBlock
            | TagEnd::Table => self.flush_leaf(),
            TagEnd::TableHead | TagEnd::TableRow => {
                if let Leaf::Table(t) = &mut self.leaf {
                    let row = std::mem::take(&mut t.row);
                    if matches!(tag, TagEnd::TableHead) {
                        t.head = row;
                    } else {
                        t.rows.push(row);
                    }
                }
            }
            TagEnd::TableCell => {
                if let Leaf::Table(t) = &mut self.leaf {
                    let cell = t.cell.take().unwrap_or_default();
                    t.row.push(cell);
                }
            }
            TagEnd::BlockQuote(_)
            | TagEnd::List(_)
            | TagEnd::Item
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {
                self.flush_leaf();
                if self.frames.pop() == Some(true) {
                    self.close_container();
                }
            }
            TagEnd::Emphasis => self.em = self.em.saturating_sub(1),
            TagEnd::Strong => self.strong = self.strong.saturating_sub(1),
            TagEnd::Strikethrough => self.strike = self.strike.saturating_sub(1),
            TagEnd::Superscript | TagEnd::Subscript => {}
            TagEnd::Link => {
                self.links.pop();
            }
            TagEnd::Image => self.end_image(),
        }
    }

    fn open_leaf(&mut self, leaf: Leaf) {
        self.flush_leaf();
        self.leaf = leaf;
    }

    /// Opens a container: kept if `container` is `Some`, else flattened.
    fn open_container(&mut self, container: Option<Container>) {
        self.frames.push(container.is_some());
        if let Some(c) = container {
            self.containers.push(c);
        }
    }

    /// Pops the innermost kept container into its parent.
    fn close_container(&mut self) {
        if self.containers.len() <= 1 {
            return;
        }
        match self.containers.pop() {
            Some(Container::Quote(blocks)) => self.push_block(MdBlock::Quote(blocks)),
            Some(Container::List(list)) => {
                self.list_depth = self.list_depth.saturating_sub(1);
                self.push_block(MdBlock::List(list));
            }
            Some(Container::Item(item)) => match self.containers.last_mut() {
                Some(Container::List(list)) => list.items.push(item),
                // Unreachable by construction (kept items sit in kept
                // lists); keep the content anyway.
                _ => {
                    for block in item.blocks {
                        self.push_block(block);
                    }
                }
            },
            Some(root @ Container::Root(_)) => self.containers.push(root),
            None => {}
        }
    }

    /// Adds a finished block to the innermost kept container.
    fn push_block(&mut self, block: MdBlock) {
        match self.containers.last_mut() {
            Some(Container::Root(blocks) | Container::Quote(blocks)) => blocks.push(block),
            Some(Container::Item(item)) => item.blocks.push(block),
            // A block directly in a list (pulldown-cmark always opens an
            // item first): put it into the last item.
            Some(Container::List(list)) => {
                if list.items.is_empty() {
                    list.items.push(MdItem {
                        task: None,
                        blocks: Vec::new(),
                    });
                }
                if let Some(item) = list.items.last_mut() {
                    item.blocks.push(block);
                }
            }
            None => {}
        }
    }

    fn flush_leaf(&mut self) {
        match std::mem::take(&mut self.leaf) {
            Leaf::None => {}
            Leaf::Paragraph(content) => self.push_block(MdBlock::Paragraph(content)),
            Leaf::Heading(level, content) => self.push_block(MdBlock::Heading(level, content)),
            Leaf::Code { language, text } => {
                self.push_block(MdBlock::Code(CodeBlock::new(language.as_deref(), &text)))
            }
            // Raw HTML is shown as the text the user wrote.
            Leaf::Html(html) => {
                for p in plain::paragraphs(&html) {
                    self.push_block(MdBlock::Paragraph(p.content));
                }
            }
            Leaf::Table(mut t) => {
                if let Some(cell) = t.cell.take() {
                    t.row.push(cell);
                }
                if !t.row.is_empty() {
                    t.rows.push(std::mem::take(&mut t.row));
                }
                self.push_block(MdBlock::Table(MdTable {
                    head: t.head,
                    rows: t.rows,
                }));
            }
        }
    }

    /// Where inline content goes: the open paragraph, heading or table cell;
    /// text directly in a container (tight list items) opens a paragraph.
    fn inline_target(&mut self) -> Option<&mut Vec<Inline>> {
        if matches!(self.leaf, Leaf::None) {
            self.leaf = Leaf::Paragraph(Vec::new());
        }
        match &mut self.leaf {
            Leaf::Paragraph(content) | Leaf::Heading(_, content) => Some(content),
            Leaf::Table(t) => t.cell.as_mut(),
            Leaf::None | Leaf::Code { .. } | Leaf::Html(_) => None,
        }
    }

    /// The marks for text at the current position.
    fn marks(&self, code: bool) -> Vec<Mark> {
        let mut marks = Vec::new();
        if let Some(Some(link)) = self.links.last() {
            marks.push(Mark::Link {
                attrs: link.clone(),
            });
        }
        // The schema allows `code` together with `link` only.
        if code {
            marks.push(Mark::Code);
        } else {
            if self.em > 0 {
                marks.push(Mark::Em);
            }
            if self.strong > 0 {
                marks.push(Mark::Strong);
            }
            if self.strike > 0 {
                marks.push(Mark::Strike);
            }
        }
        marks
    }

    fn text(&mut self, text: &str) {
        if let Some(image) = &mut self.image {
            image.alt.push_str(text);
            return;
        }
        match &mut self.leaf {
            Leaf::Code { text: buf, .. } | Leaf::Html(buf) => buf.push_str(text),
            _ => self.push_marked(text, false),
        }
    }

    fn code_span(&mut self, code: &str) {
        if let Some(image) = &mut self.image {
            image.alt.push_str(code);
            return;
        }
        self.push_marked(code, true);
    }

    fn push_marked(&mut self, text: &str, code: bool) {
        if text.is_empty() {
            return;
        }
        let marks = self.marks(code);
        if let Some(target) = self.inline_target() {
            push_text(target, text, &marks);
        }
    }

    fn line_break(&mut self) {
        if let Some(image) = &mut self.image {
            image.alt.push(' ');
            return;
        }
        match &mut self.leaf {
            Leaf::Code { text, .. } | Leaf::Html(text) => text.push('\n'),
            // A break never starts a paragraph.
            Leaf::None => {}
            _ => {
                if let Some(target) = self.inline_target() {
                    target.push(hard_break());
                }
            }
        }
    }

    fn task_marker(&mut self, checked: bool) {
        // The marker belongs to the innermost open container if that is a
        // kept item (and comes first in it).
        if self.frames.last() == Some(&true)
            && let Some(Container::Item(item)) = self.containers.last_mut()
            && item.task.is_none()
            && item.blocks.is_empty()
        {
            item.task = Some(checked);
            return;
        }
        // An item of a flattened list: keep the box as text.
        self.text(if checked { "[x] " } else { "[ ] " });
    }

    fn end_image(&mut self) {
        let Some(image) = &mut self.image else {
            return;
        };
        if image.nested > 0 {
            image.nested -= 1;
            return;
        }
        let Some(Image { url, alt, .. }) = self.image.take() else {
            return;
        };
        let in_link = matches!(self.links.last(), Some(Some(_)));
        if in_link {
            // An image inside a link: the link's target wins (one link mark
            // per text node).
            let text = if alt.is_empty() { url } else { alt };
            self.push_marked(&text, false);
        } else if allowed_link(&url) && !has_scheme(&url, "mailto") {
            let text = if alt.is_empty() { url.clone() } else { alt };
            self.links.push(Some(LinkAttrs {
                href: url,
                title: None,
            }));
            self.push_marked(&text, false);
            self.links.pop();
        } else {
            self.push_marked(&alt, false);
        }
    }
}

/// Only web and mail links become `link` marks; `javascript:`, `data:`,
/// relative and other hrefs would be unsafe or dead in Jira.
pub(crate) fn allowed_link(href: &str) -> bool {
    ["http", "https", "mailto"]
        .iter()
        .any(|scheme| has_scheme(href, scheme))
        && href.len() > href.find(':').map_or(0, |i| i + 1)
}

/// Whether `url` starts with `scheme:` (scheme compared case-insensitively).
fn has_scheme(url: &str, scheme: &str) -> bool {
    url.len() > scheme.len()
        && url.as_bytes()[scheme.len()] == b':'
        && url.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{allowed_link, has_scheme};

    #[test]
    fn link_schemes() {
        for ok in ["http://a", "HTTPS://a", "mailto:a@b.c", "https:x"] {
            assert!(allowed_link(ok), "{ok}");
        }
        for bad in [
            "",
            "javascript:alert(1)",
            "data:text/html,x",
            "/relative",
            "relative",
            "#frag",
            " http://a",
            "http:",
            "mailto:",
            "httpx://a",
            "java\nscript:x",
            "ftp://a",
        ] {
            assert!(!allowed_link(bad), "{bad:?}");
        }
        assert!(has_scheme("MailTo:x", "mailto"));
        assert!(!has_scheme("mailto", "mailto"));
        // Multi-byte text right where the colon would be must not panic.
        assert!(!has_scheme("http€", "http"));
        assert!(!has_scheme("é", "http"));
    }
}
