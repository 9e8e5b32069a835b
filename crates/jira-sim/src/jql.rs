//! A tiny, strict JQL: `AND`-ed clauses on a few fields and `ORDER BY`.
//! Enough for `project = X AND reporter = <accountId> AND created >= -5m
//! ORDER BY created DESC`; anything else is a 400, never a guess.
//!
//! Fields: `project`, `reporter`, `creator`, `assignee` (`=`, `!=`;
//! account ids, on Data Center usernames or user keys, or
//! `currentUser()`), `issuetype`/`type`, `labels`
//! (`=`, `!=`), `key`/`issue`/`issuekey`/`id` (`=`, `!=`), `created`/
//! `createdDate` (`=`, `!=`, `<`, `<=`, `>`, `>=`; periods such as `-5m`
//! or `"-1d 2h"`, dates `yyyy-MM-dd`/`yyyy/MM/dd` with optional ` HH:mm`,
//! UTC, or `now()`). Order by `created`, `updated`, `key` or `id`.

use std::cmp::Ordering;

use crate::config::Flavor;
use crate::http::Caller;
use crate::sim::{IssueStore, StoredIssue, World};
use crate::time;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(s) | Token::Str(s) => s.clone(),
            Token::Op(o) => (*o).to_owned(),
            Token::LParen => "(".into(),
            Token::RParen => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

fn error(message: impl Into<String>) -> String {
    message.into()
}

fn syntax(expected: &str, got: Option<&Token>) -> String {
    match got {
        Some(t) => format!(
            "Error in the JQL Query: Expecting {expected} but got '{}'.",
            t.text()
        ),
        None => format!(
            "Error in the JQL Query: Expecting {expected} but reached the end of the query."
        ),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '@' | '-' | '+' | '/' | '*')
}

fn lex(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(escaped) => s.push(escaped),
                        None => return Err(error("Error in the JQL Query: unterminated escape.")),
                    },
                    Some(q) if q == c => break,
                    Some(other) => s.push(other),
                    None => {
                        return Err(error(
                            "Error in the JQL Query: The quoted string has not been completed.",
                        ));
                    }
                }
            }
            tokens.push(Token::Str(s));
        } else if c == '(' {
            chars.next();
            tokens.push(Token::LParen);
        } else if c == ')' {
            chars.next();
            tokens.push(Token::RParen);
        } else if c == ',' {
            chars.next();
            tokens.push(Token::Comma);
        } else if matches!(c, '=' | '!' | '<' | '>' | '~') {
            chars.next();
            let next_is_eq = chars.peek() == Some(&'=');
            let op = match (c, next_is_eq) {
                ('=', _) => "=",
                ('!', true) => "!=",
                ('<', true) => "<=",
                ('>', true) => ">=",
                ('<', false) => "<",
                ('>', false) => ">",
                ('~', _) => "~",
                _ => {
                    if chars.peek() == Some(&'~') {
                        chars.next();
                        tokens.push(Token::Op("!~"));
                        continue;
                    }
                    return Err(error(format!(
                        "Error in the JQL Query: The character '{c}' is a reserved JQL character."
                    )));
                }
            };
            if op.len() == 2 {
                chars.next();
            }
            tokens.push(Token::Op(op));
        } else if is_word_char(c) {
            let mut s = String::new();
            while let Some(&w) = chars.peek() {
                if !is_word_char(w) {
                    break;
                }
                s.push(w);
                chars.next();
            }
            tokens.push(Token::Word(s));
        } else {
            return Err(error(format!(
                "Error in the JQL Query: The character '{c}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u{:04x}' instead.",
                u32::from(c)
            )));
        }
    }
    Ok(tokens)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UserField {
    Reporter,
    Creator,
    Assignee,
}

#[derive(Debug)]
enum Clause {
    Project {
        eq: bool,
        id: String,
    },
    User {
        field: UserField,
        eq: bool,
        account_id: String,
    },
    IssueType {
        eq: bool,
        ids: Vec<String>,
    },
    Label {
        eq: bool,
        label: String,
    },
    Key {
        eq: bool,
        id: String,
    },
    Created {
        op: &'static str,
        at_ms: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderField {
    Created,
    Key,
}

/// A compiled query: values already resolved against the site.
#[derive(Debug)]
pub(crate) struct Jql {
    clauses: Vec<Clause>,
    order: Vec<(OrderField, bool)>,
}

/// A value in a clause: a word, a quoted string or a function call.
enum Value {
    Text(String),
    Function(String),
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    world: &'a World,
    store: &'a IssueStore,
    caller: &'a Caller,
    now_ms: i64,
    flavor: Flavor,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn parse(mut self) -> Result<Jql, String> {
        let mut clauses = Vec::new();
        if !self.keyword("order") && self.peek().is_some() {
            clauses.push(self.clause()?);
            while self.keyword("and") {
                self.pos += 1;
                clauses.push(self.clause()?);
            }
        }
        let mut order = Vec::new();
        if self.keyword("order") {
            self.pos += 1;
            if !self.keyword("by") {
                return Err(syntax("'by'", self.peek()));
            }
            self.pos += 1;
            loop {
                let field = match self.next() {
                    Some(Token::Word(w)) | Some(Token::Str(w)) => w,
                    other => return Err(syntax("a field name", other.as_ref())),
                };
                let field = match field.to_ascii_lowercase().as_str() {
                    "created" | "createddate" | "updated" | "updateddate" | "id" => {
                        OrderField::Created
                    }
                    "key" | "issuekey" | "issue" => OrderField::Key,
                    "project" | "reporter" | "creator" | "assignee" | "issuetype" | "type"
                    | "labels" => {
                        return Err(format!(
                            "The simulator does not sort by '{field}': use created or key."
                        ));
                    }
                    _ => return Err(unknown_field(&field)),
                };
                let mut desc = false;
                if self.keyword("asc") {
                    self.pos += 1;
                } else if self.keyword("desc") {
                    self.pos += 1;
                    desc = true;
                }
                order.push((field, desc));
                if self.peek() == Some(&Token::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        if let Some(t) = self.peek() {
            let text = t.text();
            return Err(
                if text.eq_ignore_ascii_case("or") || text.eq_ignore_ascii_case("not") {
                    format!("Error in the JQL Query: the simulator does not support '{text}'.")
                } else {
                    syntax("either 'AND' or 'ORDER BY'", Some(t))
                },
            );
        }
        if clauses.is_empty() {
            return Err(
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                    .into(),
            );
        }
        Ok(Jql { clauses, order })
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Value::Text(s)),
            Some(Token::Word(w)) => {
                if self.peek() == Some(&Token::LParen) {
                    self.pos += 1;
                    if self.next() != Some(Token::RParen) {
                        return Err(format!(
                            "Error in the JQL Query: the simulator supports only functions without arguments ('{w}')."
                        ));
                    }
                    Ok(Value::Function(w))
                } else {
                    Ok(Value::Text(w))
                }
            }
            other => Err(syntax(
                "either a value, an 'EMPTY' or a function",
                other.as_ref(),
            )),
        }
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let field = match self.next() {
            Some(Token::Word(w)) | Some(Token::Str(w)) => w,
            other => return Err(syntax("a field name", other.as_ref())),
        };
        let op = match self.next() {
            Some(Token::Op(op)) => op,
            Some(Token::Word(w))
                if ["in", "is", "was", "changed"].contains(&w.to_ascii_lowercase().as_str()) =>
            {
                return Err(format!(
                    "Error in the JQL Query: the simulator does not support the operator '{w}'."
                ));
            }
            other => return Err(syntax("an operator", other.as_ref())),
        };
        let value = self.value()?;
        let lower = field.to_ascii_lowercase();
        let eq_only = |op: &str| -> Result<bool, String> {
            match op {
                "=" => Ok(true),
                "!=" => Ok(false),
                _ => Err(format!(
                    "The operator '{op}' is not supported by the '{field}' field."
                )),
            }
        };
        let not_found =
            |v: &str| format!("The value '{v}' does not exist for the field '{field}'.");
        match lower.as_str() {
            "project" => {
                let eq = eq_only(op)?;
                let text = self.text(value, &field)?;
                let project = self
                    .world
                    .projects
                    .iter()
                    .find(|p| {
                        p.key.eq_ignore_ascii_case(&text)
                            || p.id == text
                            || p.name.eq_ignore_ascii_case(&text)
                    })
                    .filter(|project| self.caller.browses(&project.key))
                    .ok_or_else(|| not_found(&text))?;
                Ok(Clause::Project {
                    eq,
                    id: project.id.clone(),
                })
            }
            "reporter" | "creator" | "assignee" => {
                let eq = eq_only(op)?;
                let account_id = match value {
                    Value::Function(f) if f.eq_ignore_ascii_case("currentuser") => {
                        self.caller.account_id.clone()
                    }
                    Value::Function(f) => return Err(unknown_function(&f)),
                    Value::Text(t) if self.flavor == Flavor::DataCenter => {
                        // Data Center names users by username (or key).
                        let directory = &self.world.directory;
                        directory
                            .by_name(&t)
                            .or_else(|| directory.users().iter().find(|u| u.key == t))
                            .map(|u| u.account_id.clone())
                            .ok_or_else(|| not_found(&t))?
                    }
                    Value::Text(t) => {
                        if self.world.directory.get(&t).is_none() {
                            return Err(not_found(&t));
                        }
                        t
                    }
                };
                let field = match lower.as_str() {
                    "reporter" => UserField::Reporter,
                    "creator" => UserField::Creator,
                    _ => UserField::Assignee,
                };
                Ok(Clause::User {
                    field,
                    eq,
                    account_id,
                })
            }
            "issuetype" | "type" => {
                let eq = eq_only(op)?;
                let text = self.text(value, &field)?;
                let ids: Vec<String> = self
                    .world
                    .issue_types
                    .iter()
                    .filter(|t| t.id == text || t.name.eq_ignore_ascii_case(&text))
                    .map(|t| t.id.clone())
                    .collect();
                if ids.is_empty() {
                    return Err(not_found(&text));
                }
                Ok(Clause::IssueType { eq, ids })
            }
            "labels" => {
                let eq = eq_only(op)?;
                let label = self.text(value, &field)?;
                Ok(Clause::Label { eq, label })
            }
            "key" | "issue" | "issuekey" | "id" => {
                let eq = eq_only(op)?;
                let text = self.text(value, &field)?;
                let issue = self.store.find(&text).ok_or_else(|| {
                    format!("An issue with key '{text}' does not exist for field '{field}'.")
                })?;
                Ok(Clause::Key {
                    eq,
                    id: issue.id.clone(),
                })
            }
            "created" | "createddate" => {
                let at_ms = match value {
                    Value::Function(f) if f.eq_ignore_ascii_case("now") => self.now_ms,
                    Value::Function(f) => return Err(unknown_function(&f)),
                    Value::Text(t) => {
                        if let Some(offset) = time::parse_jql_period(&t) {
                            self.now_ms + offset
                        } else if let Some(at) = time::parse_jql_date(&t) {
                            at
                        } else {
                            return Err(format!(
                                "Date value '{t}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
                            ));
                        }
                    }
                };
                if op == "~" || op == "!~" {
                    return Err(format!(
                        "The operator '{op}' is not supported by the '{field}' field."
                    ));
                }
                Ok(Clause::Created { op, at_ms })
            }
            _ => Err(unknown_field(&field)),
        }
    }

    fn text(&self, value: Value, field: &str) -> Result<String, String> {
        match value {
            Value::Text(t) => Ok(t),
            Value::Function(f) => Err(format!(
                "Error in the JQL Query: the function '{f}' is not supported for the field '{field}'."
            )),
        }
    }
}

fn unknown_field(field: &str) -> String {
    format!("Field '{field}' does not exist or you do not have permission to view it.")
}

fn unknown_function(function: &str) -> String {
    format!("Unable to find JQL function '{function}()'.")
}

impl Jql {
    /// Parses and resolves `input`; `Err` is Jira's message for a 400.
    pub(crate) fn compile(
        input: &str,
        world: &World,
        store: &IssueStore,
        caller: &Caller,
        flavor: Flavor,
    ) -> Result<Jql, String> {
        Parser {
            tokens: lex(input)?,
            pos: 0,
            world,
            store,
            caller,
            now_ms: time::now_ms(),
            flavor,
        }
        .parse()
    }

    fn matches(&self, issue: &StoredIssue) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Project { eq, id } => (issue.project_id == *id) == *eq,
            Clause::User {
                field,
                eq,
                account_id,
            } => {
                let value = match field {
                    UserField::Reporter => issue.reporter.as_deref(),
                    UserField::Creator => Some(issue.creator.as_str()),
                    UserField::Assignee => issue.assignee.as_deref(),
                };
                // Jira's `!=` does not match empty fields.
                match value {
                    Some(v) => (v == account_id) == *eq,
                    None => false,
                }
            }
            Clause::IssueType { eq, ids } => ids.contains(&issue.issue_type_id) == *eq,
            Clause::Label { eq, label } => issue.labels.contains(label) == *eq,
            Clause::Key { eq, id } => (issue.id == *id) == *eq,
            Clause::Created { op, at_ms } => {
                let created = time::to_ms(issue.created);
                match *op {
                    "=" => created == *at_ms,
                    "!=" => created != *at_ms,
                    "<" => created < *at_ms,
                    "<=" => created <= *at_ms,
                    ">" => created > *at_ms,
                    _ => created >= *at_ms,
                }
            }
        })
    }

    /// The matching issues, in the query's order (default: newest first).
    pub(crate) fn run<'s>(&self, store: &'s IssueStore) -> Vec<&'s StoredIssue> {
        let mut found: Vec<&StoredIssue> =
            store.issues.iter().filter(|i| self.matches(i)).collect();
        let order = if self.order.is_empty() {
            vec![(OrderField::Created, true)]
        } else {
            self.order.clone()
        };
        found.sort_by(|a, b| {
            for (field, desc) in &order {
                let ord = match field {
                    OrderField::Created => (a.created, id_num(a)).cmp(&(b.created, id_num(b))),
                    OrderField::Key => {
                        (&a.project_key, key_num(a)).cmp(&(&b.project_key, key_num(b)))
                    }
                };
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        found
    }
}

fn id_num(issue: &StoredIssue) -> u64 {
    issue.id.parse().unwrap_or(0)
}

fn key_num(issue: &StoredIssue) -> u64 {
    issue
        .key
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_operators_and_values() {
        let tokens =
            lex("project=DEMO AND created>=-5m AND reporter != \"a b\" ORDER BY created DESC")
                .unwrap();
        assert_eq!(tokens[1], Token::Op("="));
        assert_eq!(tokens[5], Token::Op(">="));
        assert_eq!(tokens[6], Token::Word("-5m".into()));
        assert_eq!(tokens[9], Token::Op("!="));
        assert_eq!(tokens[10], Token::Str("a b".into()));
        assert!(lex("summary ~ \"open").is_err());
        assert!(lex("a = b; c").is_err());
    }
}
