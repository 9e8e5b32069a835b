//! Markdown block tree → ADF nodes, fitted to what each ADF parent allows.
//!
//! Every kind of parent is a [`Sink`]; a sink accepts what the schema allows
//! in it and converts the rest (see the default methods). Recursion here
//! follows the Markdown tree, whose depth the builder bounds.

use crate::markdown::{MdBlock, MdItem, MdList, MdTable};
use crate::node::{
    Blockquote, BulletList, CodeBlock, DocBlock, Heading, HeadingAttrs, Inline, ItemBlock,
    ListItem, LocalIdAttrs, Mark, OrderedList, OrderedListAttrs, Paragraph, QuoteBlock, Rule,
    Table, TableCell, TableRow, TaskItem, TaskItemAttrs, TaskList, TaskListChild, TaskState,
    hard_break, push_inline, push_text,
};

/// Lowers top-level Markdown blocks to the content of an ADF `doc`.
pub(crate) fn lower(blocks: Vec<MdBlock>) -> Vec<DocBlock> {
    let mut cx = Lowering::default();
    let mut out = Vec::new();
    for block in blocks {
        cx.block(block, &mut out);
    }
    out
}

#[derive(Default)]
pub(crate) struct Lowering {
    /// Counter behind the `localId`s of task lists and items: deterministic,
    /// unique within the document (all the schema asks for).
    ids: u64,
}

impl Lowering {
    fn local_id(&mut self) -> String {
        self.ids += 1;
        format!("task-{}", self.ids)
    }

    fn block<S: Sink>(&mut self, block: MdBlock, sink: &mut S) {
        match block {
            // Empty paragraphs and headings (e.g. left by an image with
            // neither alt text nor a usable URL) show nothing: drop them.
            MdBlock::Paragraph(mut content) => {
                trim_breaks(&mut content);
                if !content.is_empty() {
                    sink.paragraph(Paragraph { content });
                }
            }
            MdBlock::Heading(level, mut content) => {
                trim_breaks(&mut content);
                if !content.is_empty() {
                    sink.heading(Heading {
                        attrs: HeadingAttrs {
                            level: level.clamp(1, 6),
                        },
                        content,
                    });
                }
            }
            MdBlock::Code(code) => sink.code(code),
            MdBlock::Rule => sink.rule(),
            MdBlock::Quote(children) => sink.quote(self, children),
            MdBlock::List(list) => self.list(list, sink),
            MdBlock::Table(table) => {
                if let Some(table) = build_table(table) {
                    sink.table(table);
                }
            }
        }
    }

    /// A Markdown list may mix task items and plain items; ADF keeps them in
    /// different list nodes, so the list is split into runs of each kind.
    /// An ordered list's later runs keep their item numbers.
    fn list<S: Sink>(&mut self, list: MdList, sink: &mut S) {
        let MdList { start, items } = list;
        let mut items = items.into_iter().enumerate().peekable();
        while let Some((index, first)) = items.next() {
            let is_task = first.task.is_some();
            let mut run = vec![first];
            while let Some((_, item)) = items.next_if(|(_, item)| item.task.is_some() == is_task) {
                run.push(item);
            }
            if is_task {
                let tasks = self.task_list(run);
                sink.task_list(tasks);
                continue;
            }
            let content: Vec<ListItem> = run.into_iter().map(|item| self.list_item(item)).collect();
            match start {
                Some(first_number) => sink.ordered_list(OrderedList {
                    attrs: OrderedListAttrs {
                        order: first_number.saturating_add(index as u64),
                    },
                    content,
                }),
                None => sink.bullet_list(BulletList { content }),
            }
        }
    }

    fn list_item(&mut self, item: MdItem) -> ListItem {
        let mut content: Vec<ItemBlock> = Vec::new();
        for block in item.blocks {
            self.block(block, &mut content);
        }
        // Non-empty, starting with a paragraph or code block (see ListItem).
        if !matches!(
            content.first(),
            Some(ItemBlock::Paragraph(_) | ItemBlock::CodeBlock(_))
        ) {
            content.insert(
                0,
                ItemBlock::Paragraph(Paragraph {
                    content: Vec::new(),
                }),
            );
        }
        ListItem { content }
    }

    /// Task items hold inline content only: the item's first paragraph, with
    /// any further blocks flattened into it after hard breaks. Nested task
    /// lists stay lists: ADF puts them right after their item.
    fn task_list(&mut self, run: Vec<MdItem>) -> TaskList {
        let local_id = self.local_id();
        let mut content = Vec::new();
        for item in run {
            let state = if item.task == Some(true) {
                TaskState::Done
            } else {
                TaskState::Todo
            };
            let item_id = self.local_id();
            let mut sink = TaskContent::default();
            for block in item.blocks {
                self.block(block, &mut sink);
            }
            trim_breaks(&mut sink.content);
            content.push(TaskListChild::Item(TaskItem {
                attrs: TaskItemAttrs {
                    local_id: item_id,
                    state,
                },
                content: sink.content,
            }));
            content.extend(sink.nested.into_iter().map(TaskListChild::List));
        }
        TaskList {
            attrs: LocalIdAttrs { local_id },
            content,
        }
    }
}

/// A parent node: takes the blocks the schema allows in it and converts the
/// others. The defaults are the conversions for restricted parents.
trait Sink: Sized {
    fn paragraph(&mut self, paragraph: Paragraph);
    fn code(&mut self, code: CodeBlock);
    fn bullet_list(&mut self, list: BulletList);
    fn ordered_list(&mut self, list: OrderedList);

    /// A heading where none is allowed keeps its text as a paragraph.
    fn heading(&mut self, heading: Heading) {
        self.paragraph(Paragraph {
            content: heading.content,
        });
    }

    /// A rule where none is allowed is dropped: it carries no text.
    fn rule(&mut self) {}

    /// A task list where none is allowed becomes a bullet list whose items
    /// start with `[ ]` / `[x]`.
    fn task_list(&mut self, tasks: TaskList) {
        self.bullet_list(tasks_to_bullets(tasks));
    }

    /// A table where none is allowed becomes one paragraph per row, cells
    /// separated by ` | `.
    fn table(&mut self, table: Table) {
        for paragraph in table_to_paragraphs(table) {
            self.paragraph(paragraph);
        }
    }

    /// A quote where none is allowed is flattened: its blocks join the parent.
    fn quote(&mut self, cx: &mut Lowering, children: Vec<MdBlock>) {
        for child in children {
            cx.block(child, self);
        }
    }
}

impl Sink for Vec<DocBlock> {
    fn paragraph(&mut self, paragraph: Paragraph) {
        self.push(DocBlock::Paragraph(paragraph));
    }
    fn code(&mut self, code: CodeBlock) {
        self.push(DocBlock::CodeBlock(code));
    }
    fn bullet_list(&mut self, list: BulletList) {
        self.push(DocBlock::BulletList(list));
    }
    fn ordered_list(&mut self, list: OrderedList) {
        self.push(DocBlock::OrderedList(list));
    }
    fn heading(&mut self, heading: Heading) {
        self.push(DocBlock::Heading(heading));
    }
    fn rule(&mut self) {
        self.push(DocBlock::Rule(Rule {}));
    }
    fn task_list(&mut self, tasks: TaskList) {
        self.push(DocBlock::TaskList(tasks));
    }
    fn table(&mut self, table: Table) {
        self.push(DocBlock::Table(table));
    }
    fn quote(&mut self, cx: &mut Lowering, children: Vec<MdBlock>) {
        let mut content: Vec<QuoteBlock> = Vec::new();
        for child in children {
            cx.block(child, &mut content);
        }
        // An empty quote (`>` alone) shows nothing; ADF needs content.
        if !content.is_empty() {
            self.push(DocBlock::Blockquote(Blockquote { content }));
        }
    }
}

impl Sink for Vec<QuoteBlock> {
    fn paragraph(&mut self, paragraph: Paragraph) {
        self.push(QuoteBlock::Paragraph(paragraph));
    }
    fn code(&mut self, code: CodeBlock) {
        self.push(QuoteBlock::CodeBlock(code));
    }
    fn bullet_list(&mut self, list: BulletList) {
        self.push(QuoteBlock::BulletList(list));
    }
    fn ordered_list(&mut self, list: OrderedList) {
        self.push(QuoteBlock::OrderedList(list));
    }
}

impl Sink for Vec<ItemBlock> {
    fn paragraph(&mut self, paragraph: Paragraph) {
        self.push(ItemBlock::Paragraph(paragraph));
    }
    fn code(&mut self, code: CodeBlock) {
        self.push(ItemBlock::CodeBlock(code));
    }
    fn bullet_list(&mut self, list: BulletList) {
        self.push(ItemBlock::BulletList(list));
    }
    fn ordered_list(&mut self, list: OrderedList) {
        self.push(ItemBlock::OrderedList(list));
    }
    fn task_list(&mut self, tasks: TaskList) {
        self.push(ItemBlock::TaskList(tasks));
    }
}

/// The inline content of a task item. Blocks become lines (hard breaks in
/// between), code blocks `code`-marked lines, list items lines starting with
/// `• `, `1. ` or `[ ] `. Task lists directly in the item are collected in
/// `nested` to follow the item as real task lists.
#[derive(Default)]
struct TaskContent {
    content: Vec<Inline>,
    nested: Vec<TaskList>,
    /// Set after a list-item prefix: the item's first block continues the
    /// line instead of starting a new one.
    glue: bool,
}

impl TaskContent {
    fn new_line(&mut self) {
        if !self.glue && !self.content.is_empty() {
            self.content.push(hard_break());
        }
        self.glue = false;
    }

    fn prefix(&mut self, prefix: &str) {
        self.new_line();
        push_text(&mut self.content, prefix, &[]);
        self.glue = true;
    }

    fn item_blocks(&mut self, blocks: Vec<ItemBlock>) {
        for block in blocks {
            match block {
                ItemBlock::Paragraph(p) => self.paragraph(p),
                ItemBlock::CodeBlock(c) => self.code(c),
                ItemBlock::BulletList(l) => self.bullet_list(l),
                ItemBlock::OrderedList(l) => self.ordered_list(l),
                ItemBlock::TaskList(t) => self.tasks_as_text(t),
            }
        }
    }

    fn tasks_as_text(&mut self, tasks: TaskList) {
        for child in tasks.content {
            match child {
                TaskListChild::Item(item) => {
                    self.prefix(box_text(item.attrs.state));
                    for inline in item.content {
                        push_inline(&mut self.content, inline);
                    }
                    self.glue = false;
                }
                TaskListChild::List(list) => self.tasks_as_text(list),
            }
        }
    }
}

impl Sink for TaskContent {
    fn paragraph(&mut self, paragraph: Paragraph) {
        self.new_line();
        for inline in paragraph.content {
            push_inline(&mut self.content, inline);
        }
    }
    fn code(&mut self, code: CodeBlock) {
        self.new_line();
        for (i, line) in code.text().split('\n').enumerate() {
            if i > 0 {
                self.content.push(hard_break());
            }
            push_text(&mut self.content, line, &[Mark::Code]);
        }
    }
    fn bullet_list(&mut self, list: BulletList) {
        for item in list.content {
            self.prefix("• ");
            self.item_blocks(item.content);
        }
    }
    fn ordered_list(&mut self, list: OrderedList) {
        let mut number = list.attrs.order;
        for item in list.content {
            self.prefix(&format!("{number}. "));
            self.item_blocks(item.content);
            number = number.saturating_add(1);
        }
    }
    fn task_list(&mut self, tasks: TaskList) {
        self.nested.push(tasks);
    }
}

/// Drops hard breaks at the start and end of inline content: they only add
/// blank space (left e.g. where an image without text stood).
fn trim_breaks(content: &mut Vec<Inline>) {
    while matches!(content.last(), Some(Inline::HardBreak(_))) {
        content.pop();
    }
    let leading = content
        .iter()
        .take_while(|i| matches!(i, Inline::HardBreak(_)))
        .count();
    content.drain(..leading);
}

fn box_text(state: TaskState) -> &'static str {
    match state {
        TaskState::Todo => "[ ] ",
        TaskState::Done => "[x] ",
    }
}

fn tasks_to_bullets(tasks: TaskList) -> BulletList {
    let mut items: Vec<ListItem> = Vec::new();
    for child in tasks.content {
        match child {
            TaskListChild::Item(item) => {
                let mut content = Vec::new();
                push_text(&mut content, box_text(item.attrs.state), &[]);
                for inline in item.content {
                    push_inline(&mut content, inline);
                }
                items.push(ListItem {
                    content: vec![ItemBlock::Paragraph(Paragraph { content })],
                });
            }
            TaskListChild::List(nested) => {
                let nested = ItemBlock::BulletList(tasks_to_bullets(nested));
                match items.last_mut() {
                    Some(last) => last.content.push(nested),
                    None => items.push(ListItem {
                        content: vec![
                            ItemBlock::Paragraph(Paragraph {
                                content: Vec::new(),
                            }),
                            nested,
                        ],
                    }),
                }
            }
        }
    }
    BulletList { content: items }
}

/// GFM table → ADF table: the header row's cells become `tableHeader`s, the
/// others `tableCell`s; rows are padded to the same width. `None` if the
/// table has no cells at all.
fn build_table(table: MdTable) -> Option<Table> {
    let columns = table
        .rows
        .iter()
        .map(Vec::len)
        .chain([table.head.len()])
        .max()
        .unwrap_or(0);
    if columns == 0 {
        return None;
    }
    let row = |cells: Vec<Vec<Inline>>, header: bool| {
        let mut cells: Vec<TableCell> = cells
            .into_iter()
            .map(|content| {
                let content = vec![Paragraph { content }];
                if header {
                    TableCell::TableHeader { content }
                } else {
                    TableCell::TableCell { content }
                }
            })
            .collect();
        while cells.len() < columns {
            let content = vec![Paragraph {
                content: Vec::new(),
            }];
            cells.push(if header {
                TableCell::TableHeader { content }
            } else {
                TableCell::TableCell { content }
            });
        }
        TableRow { content: cells }
    };
    let mut rows = Vec::with_capacity(table.rows.len() + 1);
    if !table.head.is_empty() {
        rows.push(row(table.head, true));
    }
    for cells in table.rows {
        rows.push(row(cells, false));
    }
    Some(Table { content: rows })
}

fn table_to_paragraphs(table: Table) -> Vec<Paragraph> {
    table
        .content
        .into_iter()
        .map(|row| {
            let mut content = Vec::new();
            for (i, cell) in row.content.into_iter().enumerate() {
                if i > 0 {
                    push_text(&mut content, " | ", &[]);
                }
                for paragraph in cell.into_content() {
                    for inline in paragraph.content {
                        push_inline(&mut content, inline);
                    }
                }
            }
            Paragraph { content }
        })
        .filter(|p| !p.content.is_empty())
        .collect()
}
