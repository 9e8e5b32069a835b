//! Typed ADF nodes and marks.
//!
//! Each node struct serializes itself with its `"type"` tag, and the content
//! enums are `untagged` unions of node structs. There is one content enum per
//! parent kind ([`DocBlock`], [`QuoteBlock`], [`ItemBlock`], …) listing only
//! the children the ADF schema allows there, so a node in a place the schema
//! forbids (a heading in a list item, a blockquote in a blockquote) cannot be
//! constructed at all. What the types cannot express — non-empty text,
//! `minItems`, the first child of a list item — is upheld by the constructors
//! and by the lowering in `lower.rs`, and checked by the tests.

use serde::Serialize;

// ---------------------------------------------------------------- inline ---

/// Inline content of paragraphs, headings, table cells and task items.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Inline {
    Text(Text),
    HardBreak(HardBreak),
}

/// A text node. Never empty: the schema requires `minLength: 1`, so build it
/// through [`push_text`], which drops empty strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "text")]
pub(crate) struct Text {
    pub(crate) text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) marks: Vec<Mark>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "hardBreak")]
pub(crate) struct HardBreak {}

/// Text marks, always in this order (link first, code last) so equal mark
/// sets compare equal. `code` may only be combined with `link` (schema
/// `code_inline_node`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum Mark {
    Link { attrs: LinkAttrs },
    Em,
    Strong,
    Strike,
    Code,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LinkAttrs {
    pub(crate) href: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<String>,
}

/// Appends text, merging it into the previous text node when the marks are
/// identical, and dropping it when empty (ADF forbids empty text nodes).
pub(crate) fn push_text(content: &mut Vec<Inline>, text: &str, marks: &[Mark]) {
    if text.is_empty() {
        return;
    }
    if let Some(Inline::Text(last)) = content.last_mut()
        && last.marks == marks
    {
        last.text.push_str(text);
        return;
    }
    content.push(Inline::Text(Text {
        text: text.to_owned(),
        marks: marks.to_vec(),
    }));
}

/// Appends an inline node, merging adjacent text nodes with identical marks.
pub(crate) fn push_inline(content: &mut Vec<Inline>, inline: Inline) {
    match inline {
        Inline::Text(t) => {
            if let Some(Inline::Text(last)) = content.last_mut()
                && last.marks == t.marks
            {
                last.text.push_str(&t.text);
                return;
            }
            if !t.text.is_empty() {
                content.push(Inline::Text(t));
            }
        }
        Inline::HardBreak(_) => content.push(Inline::HardBreak(HardBreak {})),
    }
}

pub(crate) fn hard_break() -> Inline {
    Inline::HardBreak(HardBreak {})
}

// ----------------------------------------------------------------- leaves ---

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "paragraph")]
pub(crate) struct Paragraph {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) content: Vec<Inline>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "heading")]
pub(crate) struct Heading {
    pub(crate) attrs: HeadingAttrs,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) content: Vec<Inline>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HeadingAttrs {
    /// 1–6.
    pub(crate) level: u8,
}

/// A code block: unmarked text only, newlines inside the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "codeBlock")]
pub(crate) struct CodeBlock {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attrs: Option<CodeBlockAttrs>,
    /// Zero or one node; empty for an empty code block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) content: Vec<PlainText>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CodeBlockAttrs {
    pub(crate) language: String,
}

/// A text node without marks (the only content of a code block).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "text")]
pub(crate) struct PlainText {
    pub(crate) text: String,
}

impl CodeBlock {
    /// `text` as the parser hands it over: line endings normalized to `\n`,
    /// the final newline (the fence's line end, not content) removed.
    pub(crate) fn new(language: Option<&str>, text: &str) -> Self {
        let mut text = if text.contains('\r') {
            text.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            text.to_owned()
        };
        if text.ends_with('\n') {
            text.pop();
        }
        CodeBlock {
            attrs: language.filter(|l| !l.is_empty()).map(|l| CodeBlockAttrs {
                language: l.to_owned(),
            }),
            content: if text.is_empty() {
                Vec::new()
            } else {
                vec![PlainText { text }]
            },
        }
    }

    pub(crate) fn text(&self) -> &str {
        self.content.first().map_or("", |t| t.text.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "rule")]
pub(crate) struct Rule {}

// ------------------------------------------------------------ containers ---

/// Children of `doc`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum DocBlock {
    Paragraph(Paragraph),
    Heading(Heading),
    CodeBlock(CodeBlock),
    Rule(Rule),
    Blockquote(Blockquote),
    BulletList(BulletList),
    OrderedList(OrderedList),
    TaskList(TaskList),
    Table(Table),
}

/// Children of `blockquote` (no headings, rules, tables, task lists or nested
/// quotes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum QuoteBlock {
    Paragraph(Paragraph),
    CodeBlock(CodeBlock),
    BulletList(BulletList),
    OrderedList(OrderedList),
}

/// Children of `listItem` (no headings, rules, tables or quotes).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum ItemBlock {
    Paragraph(Paragraph),
    CodeBlock(CodeBlock),
    BulletList(BulletList),
    OrderedList(OrderedList),
    TaskList(TaskList),
}

/// Non-empty (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "blockquote")]
pub(crate) struct Blockquote {
    pub(crate) content: Vec<QuoteBlock>,
}

/// Non-empty (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "bulletList")]
pub(crate) struct BulletList {
    pub(crate) content: Vec<ListItem>,
}

/// Non-empty (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "orderedList")]
pub(crate) struct OrderedList {
    pub(crate) attrs: OrderedListAttrs,
    pub(crate) content: Vec<ListItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct OrderedListAttrs {
    /// Number of the first item (schema: `minimum: 0`).
    pub(crate) order: u64,
}

/// Non-empty, and the first child is a paragraph or code block: the JSON
/// schema only says "one or more", but Atlassian's editor schema
/// (ProseMirror content expression) requires that first child, and Jira
/// rejects documents its editor cannot load.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "listItem")]
pub(crate) struct ListItem {
    pub(crate) content: Vec<ItemBlock>,
}

/// Non-empty, first child a task item (editor schema, as for list items).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "taskList")]
pub(crate) struct TaskList {
    pub(crate) attrs: LocalIdAttrs,
    pub(crate) content: Vec<TaskListChild>,
}

/// Children of `taskList`: items, and nested task lists (which follow the
/// item they belong to).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum TaskListChild {
    Item(TaskItem),
    List(TaskList),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LocalIdAttrs {
    #[serde(rename = "localId")]
    pub(crate) local_id: String,
}

/// A task item holds inline content only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "taskItem")]
pub(crate) struct TaskItem {
    pub(crate) attrs: TaskItemAttrs,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) content: Vec<Inline>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TaskItemAttrs {
    #[serde(rename = "localId")]
    pub(crate) local_id: String,
    pub(crate) state: TaskState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum TaskState {
    #[serde(rename = "TODO")]
    Todo,
    #[serde(rename = "DONE")]
    Done,
}

/// Non-empty; every row non-empty.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "table")]
pub(crate) struct Table {
    pub(crate) content: Vec<TableRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename = "tableRow")]
pub(crate) struct TableRow {
    pub(crate) content: Vec<TableCell>,
}

/// Cells hold exactly one paragraph (GFM cells are inline-only); the schema
/// needs at least one block, so an empty cell holds an empty paragraph.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum TableCell {
    TableHeader { content: Vec<Paragraph> },
    TableCell { content: Vec<Paragraph> },
}

impl TableCell {
    pub(crate) fn into_content(self) -> Vec<Paragraph> {
        match self {
            TableCell::TableHeader { content } | TableCell::TableCell { content } => content,
        }
    }
}
