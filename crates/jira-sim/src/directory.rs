//! The user directory with the indexes that keep user search independent
//! of the number of users: lowercased display names and emails live in one
//! byte arena (NUL-terminated), and two sorted arrays of offsets into it
//! (one per display-name word, one per email) give every prefix match by
//! binary search. About 8 bytes per key plus the lowercased text.

use std::cmp::Ordering;
use std::collections::HashSet;

use crate::config::HiddenEmailMatch;
use crate::model::User;

/// A key: a NUL-terminated lowercased string at `off` in the arena, for
/// user `user`.
#[derive(Clone, Copy, Debug)]
struct Key {
    off: u32,
    user: u32,
}

pub(crate) struct Directory {
    users: Vec<User>,
    /// User indexes sorted by account id.
    by_account: Vec<u32>,
    arena: Vec<u8>,
    /// One key per word start of each display name (so "Mia Krystof" is
    /// found by "mia", "mia k" and "kry").
    names: Vec<Key>,
    /// One key per email.
    emails: Vec<Key>,
    /// One key per Data Center username.
    logins: Vec<Key>,
}

impl Directory {
    pub(crate) fn new(users: Vec<User>) -> Directory {
        let mut dir = Directory {
            users,
            by_account: Vec::new(),
            arena: Vec::new(),
            names: Vec::new(),
            emails: Vec::new(),
            logins: Vec::new(),
        };
        dir.rebuild();
        dir
    }

    fn rebuild(&mut self) {
        self.arena.clear();
        self.names.clear();
        self.emails.clear();
        self.logins.clear();
        for i in 0..self.users.len() {
            self.push_keys(i as u32);
        }
        // Three independent sorts: on a million users they take seconds in
        // debug builds, so they run side by side.
        let arena = &self.arena;
        let users = &self.users;
        let names = std::mem::take(&mut self.names);
        let emails = std::mem::take(&mut self.emails);
        let logins = std::mem::take(&mut self.logins);
        let (names, emails, logins, by_account) = std::thread::scope(|scope| {
            let names = scope.spawn(move || sort_keys(arena, names));
            let emails = scope.spawn(move || sort_keys(arena, emails));
            let logins = scope.spawn(move || sort_keys(arena, logins));
            let mut by_account: Vec<u32> = (0..users.len() as u32).collect();
            by_account.sort_unstable_by(|a, b| {
                users[*a as usize]
                    .account_id
                    .cmp(&users[*b as usize].account_id)
            });
            (names.join(), emails.join(), logins.join(), by_account)
        });
        // A panicking sort thread cannot leave a half-sorted index behind:
        // fall back to an empty one rather than propagate the panic.
        self.names = names.unwrap_or_default();
        self.emails = emails.unwrap_or_default();
        self.logins = logins.unwrap_or_default();
        self.by_account = by_account;
    }

    /// Appends the user's lowercased strings to the arena and their keys
    /// (unsorted) to the key arrays.
    fn push_keys(&mut self, index: u32) -> (Vec<Key>, Option<Key>, Key) {
        let user = &self.users[index as usize];
        let start = self.arena.len();
        push_lower(&mut self.arena, &user.display_name);
        let name = &self.arena[start..];
        let mut name_keys = Vec::new();
        let mut at_word_start = true;
        for (i, b) in name.iter().enumerate() {
            if b.is_ascii_whitespace() {
                at_word_start = true;
            } else if at_word_start {
                at_word_start = false;
                name_keys.push(Key {
                    off: (start + i) as u32,
                    user: index,
                });
            }
        }
        self.arena.push(0);
        let email_key = user.email.as_deref().map(|email| {
            let off = self.arena.len() as u32;
            push_lower(&mut self.arena, email);
            self.arena.push(0);
            Key { off, user: index }
        });
        let login_key = Key {
            off: self.arena.len() as u32,
            user: index,
        };
        push_lower(&mut self.arena, &self.users[index as usize].name);
        self.arena.push(0);
        self.names.extend(&name_keys);
        self.emails.extend(email_key);
        self.logins.push(login_key);
        (name_keys, email_key, login_key)
    }

    /// The user with this Data Center username (case-insensitive, as
    /// Jira's usernames are).
    pub(crate) fn by_name(&self, name: &str) -> Option<&User> {
        let q = name.to_lowercase();
        self.prefix_iter(&self.logins, q.as_bytes())
            .find(|k| key_at(&self.arena, k.off) == q.as_bytes())
            .map(|k| &self.users[k.user as usize])
    }

    /// Data Center's `user/search?username=`: users whose username, email
    /// or display name (any word of it) starts with `query`,
    /// case-insensitively; usernames first, then emails, then names, each
    /// in key order. Inactive users only with `include_inactive`. At most
    /// `limit`.
    pub(crate) fn search_dc(
        &self,
        query: &str,
        include_active: bool,
        include_inactive: bool,
        limit: usize,
    ) -> Vec<usize> {
        let q = query.trim().to_lowercase();
        let q = q.as_bytes();
        let mut found = Vec::new();
        if q.is_empty() || limit == 0 {
            return found;
        }
        let mut seen = HashSet::new();
        for keys in [&self.logins, &self.emails, &self.names] {
            for key in self.prefix_iter(keys, q) {
                let user = &self.users[key.user as usize];
                let wanted = if user.active {
                    include_active
                } else {
                    include_inactive
                };
                if wanted && seen.insert(key.user) {
                    found.push(key.user as usize);
                    if found.len() >= limit {
                        return found;
                    }
                }
            }
        }
        found
    }

    pub(crate) fn users(&self) -> &[User] {
        &self.users
    }

    pub(crate) fn position(&self, account_id: &str) -> Option<usize> {
        let users = &self.users;
        self.by_account
            .binary_search_by(|i| users[*i as usize].account_id.as_str().cmp(account_id))
            .ok()
            .map(|p| self.by_account[p] as usize)
    }

    pub(crate) fn get(&self, account_id: &str) -> Option<&User> {
        self.position(account_id).map(|i| &self.users[i])
    }

    pub(crate) fn get_mut(&mut self, account_id: &str) -> Option<&mut User> {
        self.position(account_id).map(|i| &mut self.users[i])
    }

    /// Adds a user, or replaces the one with the same account id.
    pub(crate) fn upsert(&mut self, user: User) {
        if let Some(i) = self.position(&user.account_id) {
            // Names or email may change: rebuilding is simple and rare.
            self.users[i] = user;
            self.rebuild();
            return;
        }
        let index = self.users.len() as u32;
        self.users.push(user);
        // push_keys appended the new keys at the end; move them into place.
        let names_before = self.names.len();
        let emails_before = self.emails.len();
        let logins_before = self.logins.len();
        let (name_keys, email_key, login_key) = self.push_keys(index);
        self.names.truncate(names_before);
        self.emails.truncate(emails_before);
        self.logins.truncate(logins_before);
        {
            let arena = &self.arena;
            let at = self
                .logins
                .partition_point(|k| cmp_keys(arena, *k, login_key) == Ordering::Less);
            self.logins.insert(at, login_key);
        }
        for key in name_keys {
            let arena = &self.arena;
            let at = self
                .names
                .partition_point(|k| cmp_keys(arena, *k, key) == Ordering::Less);
            self.names.insert(at, key);
        }
        if let Some(key) = email_key {
            let arena = &self.arena;
            let at = self
                .emails
                .partition_point(|k| cmp_keys(arena, *k, key) == Ordering::Less);
            self.emails.insert(at, key);
        }
        let users = &self.users;
        let account = &users[index as usize].account_id;
        let at = self
            .by_account
            .partition_point(|i| users[*i as usize].account_id < *account);
        self.by_account.insert(at, index);
    }

    /// Active users whose display name (any word of it, or several words
    /// from one) or email starts with `query`, case-insensitively; at most
    /// `limit`, display-name matches first, each group in key order. A
    /// query containing `@` matches emails only, as Jira does.
    pub(crate) fn search(&self, query: &str, hidden: HiddenEmailMatch, limit: usize) -> Vec<usize> {
        let q = query.trim().to_lowercase();
        let q = q.as_bytes();
        let mut found = Vec::new();
        if q.is_empty() || limit == 0 {
            return found;
        }
        let mut seen = HashSet::new();
        if !q.contains(&b'@') {
            for key in self.prefix_iter(&self.names, q) {
                let user = &self.users[key.user as usize];
                if user.active && seen.insert(key.user) {
                    found.push(key.user as usize);
                    if found.len() >= limit {
                        return found;
                    }
                }
            }
        }
        for key in self.prefix_iter(&self.emails, q) {
            let user = &self.users[key.user as usize];
            if !user.active {
                continue;
            }
            if !user.email_visible
                && hidden == HiddenEmailMatch::ExactOnly
                && key_at(&self.arena, key.off) != q
            {
                continue;
            }
            if seen.insert(key.user) {
                found.push(key.user as usize);
                if found.len() >= limit {
                    break;
                }
            }
        }
        found
    }

    fn prefix_iter<'a>(&'a self, keys: &'a [Key], q: &'a [u8]) -> impl Iterator<Item = Key> + 'a {
        let arena = &self.arena;
        let start = keys.partition_point(|k| key_at(arena, k.off) < q);
        keys[start..]
            .iter()
            .take_while(move |k| key_at(arena, k.off).starts_with(q))
            .copied()
    }
}

fn push_lower(arena: &mut Vec<u8>, s: &str) {
    let lower = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    };
    // NUL ends a key in the arena; user text should never hold one.
    if lower.as_bytes().contains(&0) {
        arena.extend(lower.bytes().filter(|b| *b != 0));
    } else {
        arena.extend_from_slice(lower.as_bytes());
    }
}

/// The first 8 bytes of a key, big-endian, zero-padded: ordering by it
/// agrees with ordering by the key, and comparing it is cheap.
fn prefix(key: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = key.len().min(8);
    buf[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(buf)
}

/// Sorts keys by (key, user), comparing whole keys only when their first
/// 8 bytes tie.
fn sort_keys(arena: &[u8], keys: Vec<Key>) -> Vec<Key> {
    let mut tagged: Vec<(u64, Key)> = keys
        .into_iter()
        .map(|k| (prefix(key_at(arena, k.off)), k))
        .collect();
    tagged.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| cmp_keys(arena, a.1, b.1)));
    tagged.into_iter().map(|(_, k)| k).collect()
}

fn key_at(arena: &[u8], off: u32) -> &[u8] {
    let s = &arena[off as usize..];
    // `CStr` finds the NUL with std's (always optimized) memchr: this is
    // the hot path of sorting a million users, even in debug builds.
    match std::ffi::CStr::from_bytes_until_nul(s) {
        Ok(key) => key.to_bytes(),
        Err(_) => s,
    }
}

fn cmp_keys(arena: &[u8], a: Key, b: Key) -> Ordering {
    key_at(arena, a.off)
        .cmp(key_at(arena, b.off))
        .then(a.user.cmp(&b.user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        Directory::new(vec![
            User::new("a", "Mia Krystof", "mia@example.com"),
            User::new("b", "Emma Richards", "krystal@example.com").with_hidden_email(),
            User::new("c", "Kryss Old", "old@example.com").inactive(),
        ])
    }

    #[test]
    fn prefix_matches_words_and_emails() {
        let d = dir();
        assert_eq!(d.search("kry", HiddenEmailMatch::Prefix, 10), vec![0, 1]);
        assert_eq!(d.search("KRY", HiddenEmailMatch::ExactOnly, 10), vec![0]);
        assert_eq!(d.search("mia kr", HiddenEmailMatch::Prefix, 10), vec![0]);
        assert_eq!(
            d.search("ia", HiddenEmailMatch::Prefix, 10),
            Vec::<usize>::new()
        );
        assert_eq!(
            d.search("krystal@example.com", HiddenEmailMatch::ExactOnly, 10),
            vec![1]
        );
        assert_eq!(d.search("kry", HiddenEmailMatch::Prefix, 1), vec![0]);
    }

    #[test]
    fn upsert_keeps_indexes_sorted() {
        let mut d = dir();
        d.upsert(User::new("0", "Krystian Zed", "zed@example.com"));
        assert_eq!(d.search("kry", HiddenEmailMatch::Prefix, 10), vec![3, 0, 1]);
        assert_eq!(
            d.get("0").map(|u| u.display_name.as_str()),
            Some("Krystian Zed")
        );
        d.upsert(User::new("a", "Zoe Mia", "zoe@example.com"));
        assert_eq!(d.search("zoe", HiddenEmailMatch::Prefix, 10), vec![0]);
        assert_eq!(
            d.get("a").map(|u| u.email.as_deref()),
            Some(Some("zoe@example.com"))
        );
    }
}
