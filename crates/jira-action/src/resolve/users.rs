//! Email → Jira account, the heart of attribution.

use jira::User;

/// What an email resolves to. Negative answers are cached too (for less
/// time), so a typo does not cost a Jira call on every retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserMatch {
    Found {
        account_id: String,
        display_name: String,
    },
    NotFound,
    /// The display names of the candidates, for the person to act on.
    Ambiguous(Vec<String>),
}

/// How many users one `user/search` asks for: an exact email matches one
/// account, so a few more than one is enough to see ambiguity, and the
/// directory is never paged through.
pub const SEARCH_LIMIT: u32 = 20;

/// Picks the account for `email` from the answer to
/// `user/search?query=<email>`.
///
/// Only active `atlassian` accounts count (never apps, customers or
/// deactivated users). A visible email that equals the one asked for
/// (ignoring case) wins. Failing that, accounts whose email Jira hides are
/// the candidates, since the exact-email query found them: exactly one is
/// the match, several are ambiguous.
pub fn pick(email: &str, users: &[User]) -> UserMatch {
    let people = || users.iter().filter(|u| u.is_active_person());
    let exact: Vec<&User> = people()
        .filter(|u| {
            u.email_address
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
        })
        .collect();
    let candidates = if exact.is_empty() {
        people()
            .filter(|u| {
                u.email_address
                    .as_deref()
                    .is_none_or(|e| e.trim().is_empty())
            })
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [] => UserMatch::NotFound,
        [user] => UserMatch::Found {
            account_id: user.account_id.clone(),
            display_name: user.display_name.clone(),
        },
        several => UserMatch::Ambiguous(several.iter().map(|u| u.display_name.clone()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, email: Option<&str>, kind: &str, active: bool) -> User {
        User {
            account_id: id.into(),
            account_type: kind.into(),
            email_address: email.map(Into::into),
            display_name: format!("User {id}"),
            active,
        }
    }

    fn found(id: &str) -> UserMatch {
        UserMatch::Found {
            account_id: id.into(),
            display_name: format!("User {id}"),
        }
    }

    #[test]
    fn exact_visible_email_wins_case_insensitively() {
        let users = [
            user("1", Some("alice@example.com.au"), "atlassian", true),
            user("2", Some("Alice@Example.com"), "atlassian", true),
            user("3", None, "atlassian", true),
        ];
        assert_eq!(pick("alice@example.com", &users), found("2"));
    }

    #[test]
    fn one_hidden_email_account_is_the_match() {
        let users = [
            user("1", None, "atlassian", true),
            user("2", Some("bob@example.com.au"), "atlassian", true),
        ];
        assert_eq!(pick("bob@example.com", &users), found("1"));
    }

    #[test]
    fn several_hidden_candidates_are_ambiguous() {
        let users = [
            user("1", None, "atlassian", true),
            user("2", Some(""), "atlassian", true),
        ];
        assert_eq!(
            pick("sam@example.com", &users),
            UserMatch::Ambiguous(vec!["User 1".into(), "User 2".into()])
        );
    }

    #[test]
    fn apps_customers_and_inactive_users_are_never_chosen() {
        let users = [
            user("1", Some("x@example.com"), "app", true),
            user("2", Some("x@example.com"), "customer", true),
            user("3", Some("x@example.com"), "atlassian", false),
            user("4", None, "app", true),
            user("5", None, "atlassian", false),
        ];
        assert_eq!(pick("x@example.com", &users), UserMatch::NotFound);
        assert_eq!(pick("x@example.com", &[]), UserMatch::NotFound);
    }

    #[test]
    fn other_visible_emails_do_not_match() {
        let users = [user("1", Some("xavier@example.com"), "atlassian", true)];
        assert_eq!(pick("x@example.com", &users), UserMatch::NotFound);
    }
}
