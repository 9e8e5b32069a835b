//! Email addresses from headers and fields. Glean sends one plain address;
//! anything else (display names, lists, CR/LF) is refused rather than
//! guessed at, since the address decides whose name an issue is filed in.

/// Validates one plain address and returns it lowercased (Jira compares
/// emails case-insensitively, and so do our caches).
pub fn parse(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim();
    if email.is_empty() {
        return Err("empty");
    }
    if email.len() > 254 {
        return Err("longer than 254 characters");
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
    {
        return Err("only a bare address is accepted, without a name, list or quotes");
    }
    if email.matches('@').count() != 1 {
        return Err("exactly one @ is needed");
    }
    if !email_address::EmailAddress::is_valid(email) {
        return Err("not a valid address");
    }
    Ok(email.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_plain_addresses_lowercased() {
        assert_eq!(
            parse("Alice@Example.com").as_deref(),
            Ok("alice@example.com")
        );
        assert_eq!(
            parse(" a.b+tag@sub.example.co.uk ").as_deref(),
            Ok("a.b+tag@sub.example.co.uk")
        );
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "alice",
            "Alice <alice@example.com>",
            "a@example.com, b@example.com",
            "a@example.com\r\nX-Evil: 1",
            "a@@example.com",
            "a@b@example.com",
            "\"a b\"@example.com",
            "a@example.com;b@example.com",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
