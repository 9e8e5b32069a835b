//! Plain text and Markdown → [Jira wiki markup][notation], the description
//! format of Jira Data Center and Server (which do not take ADF). Pure: no
//! I/O.
//!
//! ```
//! assert_eq!(wiki::from_markdown("Fix **login** now"), "Fix *login* now");
//! assert_eq!(wiki::from_plain_text("2*3 = 6 :)"), "2\\*3 = 6 &#58;&#41;");
//! ```
//!
//! The Markdown is read by the [`adf`] crate, and its ADF document — the
//! one Jira Cloud gets — is written down as wiki markup, so both paths
//! cover the same Markdown in the same way (see the `adf` crate docs:
//! unsafe link schemes dropped, images as links, raw HTML as text, nested
//! quotes flattened, lists at most 16 deep, …).
//!
//! # Mapping
//!
//! - Headings `h1.`–`h6.`; paragraphs separated by a blank line; a line
//!   break is a newline in a paragraph and `\\` in a heading, list item or
//!   table cell (which are one line of markup).
//! - `*strong*`, `_em_`, `-strike-`, `{{code}}`. The short delimiters count
//!   in Jira only at word boundaries, so they are written only between
//!   whitespace (or line ends) around text that starts and ends with a
//!   letter or digit; anywhere else the forced form `{*}…{*}` is written.
//!   Whitespace at the edges of a mark is moved outside it.
//! - Links `[text|url]` (only what the ADF crate keeps: `http`, `https`,
//!   `mailto`), inside any marks. In the URL, `|`, `[`, `]`, `{`, `}`, `\`,
//!   `!`, `^`, quotes, angle brackets, whitespace and controls are
//!   percent-encoded.
//! - Lists: `*`, `#`, nested by repeating the markers of the enclosing
//!   lists (`*#`, `##`); task items are bullets starting with the literal
//!   text `\[ \]` or `\[x\]`. A list item is one line: its paragraphs (and
//!   code blocks as `{{…}}` lines) are joined with `\\`; a block after a
//!   nested list starts a new item. Ordered lists always start at 1.
//! - Code blocks `{code:lang}` for a language Jira's code macro knows
//!   (others would show an error box), `{noformat}` otherwise. Text holding
//!   `{code` goes into `{noformat}`, text holding `{noformat` into `{code}`;
//!   text holding both is cut, right before each tag that would end the
//!   current block, into consecutive blocks alternating between the two —
//!   every character is kept, in order.
//! - Quotes `{quote}…{quote}`; a code block holding `{quote` is put between
//!   two quotes instead of inside one.
//! - Tables `|| head ||` and `| cell |`; an empty cell holds a space;
//!   `----` for a rule.
//!
//! # Escaping
//!
//! Text a person wrote is never taken as markup. Two ways are used: the
//! documented backslash escape `\X`, where it is certain to work, and a
//! numeric character reference `&#N;` (which the renderer passes to the
//! HTML, where it shows as the character) where a backslash cannot be used
//! or its effect is not certain.
//!
//! - Always backslash-escaped: `*` `_` `-` `+` `^` `~` `{` `}` `[` `]` `|`
//!   `!` `#` — each is markup somewhere (marks, macros, links, images,
//!   lists, tables, `--`/`---` dashes, `----` rules). Whether a mid-word
//!   `-` or `*` renders literally depends on the renderer's word-boundary
//!   rules, which are not documented: so every one is escaped (`foo\-bar`).
//!   Together this also covers every line start that begins a list, table
//!   or rule, and it keeps `{{code}}` from ending early at a `}}`.
//! - `?` is escaped only next to another `?` (`??` is a citation; a lone
//!   `?` is never markup).
//! - `\` itself is `&#92;`: `\\` is a line break and `\X` an escape, so a
//!   backslash of the text is never written as one.
//! - `&` followed by `#` or a letter or digit is `&amp;`: the renderer
//!   passes `&name;` and `&#N;` through as HTML entities.
//! - Emoticons: the `:` of `:)` `:(` `:P` `:D` (either case), the `;` of
//!   `;)`, and the `(` of `(y)` `(n)` `(i)` `(/)` `(x)` `(!)` `(+)` `(-)`
//!   `(?)` `(on)` `(off)` `(*)` `(*r)` `(*g)` `(*b)` `(*y)` `(flag)`
//!   `(flagoff)` (any case) become references. Every reference ends with
//!   `;`, so a `)` right after one (or after a `;`) is a reference too:
//!   `:)` is `&#58;&#41;`, never `&#58;)`, which holds `;)`.
//! - The `:` of `scheme://` and `mailto:` becomes `&#58;`, so that a URL in
//!   the text stays text instead of being turned into a link (as in ADF).
//! - At a line start (after spaces and tabs), the first letter of `h1.`–
//!   `h6.` and `bq.` (any case) becomes a reference: those begin a heading
//!   or a quote.
//! - In link text everything above uses references instead of backslashes
//!   (`&#91;`, `&#124;`, `&#93;`, …): the link is split at `|` and `]`
//!   before escapes are seen. In table cells `|` is always `&#124;`.
//! - A forced line break `\\` is followed by a space, so that its
//!   backslashes never touch a following escape.
//! - Code block bodies are literal: nothing is escaped there (see above for
//!   the end tags).
//!
//! Leading whitespace of a line is kept in the markup, but HTML shows runs
//! of whitespace as one space.
//!
//! [notation]: https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all

mod escape;
mod inline;
mod render;

/// Plain text → wiki markup that shows exactly that text: paragraphs split
/// at blank lines (empty or whitespace-only), line breaks kept, every
/// character that could be markup escaped. `\r\n` and `\r` count as `\n`;
/// NUL becomes U+FFFD (as in the ADF crate). Blank input gives `""`.
pub fn from_plain_text(text: &str) -> String {
    render::document(&adf::from_plain_text(text).to_value())
}

/// CommonMark + GFM Markdown → wiki markup (see the [crate docs](crate) for
/// the mapping). Never fails: what wiki markup cannot express is converted.
pub fn from_markdown(markdown: &str) -> String {
    render::document(&adf::from_markdown(markdown).to_value())
}
