//! An e-mail address, parsed at the edge: once an `Email` exists it has the
//! plain `local@domain.tld` shape and is at most 254 characters. Shared by
//! every module (accounts, invitations, and the identity adapters).

use std::fmt;

/// A well-shaped e-mail address, as given (its case is kept; the pool
/// compares addresses case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address exactly as `http::schema::email` describes it:
    /// `local@label.label…tld`, no whitespace or control character, labels
    /// not empty, a top-level label of two characters or more, at most 254
    /// characters.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let bad = |c: char| c.is_whitespace() || c.is_control();
        let Some((local, domain)) = text.split_once('@') else {
            return Err("is not an e-mail address");
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let ok = !local.is_empty()
            && !text.chars().any(bad)
            && !domain.contains('@')
            && labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty())
            && labels.last().is_some_and(|tld| tld.chars().count() >= 2);
        if !ok {
            return Err("is not an e-mail address");
        }
        if text.chars().count() > 254 {
            return Err("is longer than 254 characters");
        }
        Ok(Self(text.to_string()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a@.b.co", "a@b..co", "a b@c.co", "a@b@c.co", "a@b.c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn plain_addresses_parse_as_given() {
        assert_eq!(
            Email::parse("Ada@Example.com").map(|e| e.to_string()),
            Ok("Ada@Example.com".into())
        );
        assert!(Email::parse("first.last+tag@sub.example.co.uk").is_ok());
        // Blanks are refused, not trimmed: the schema says so too.
        assert!(Email::parse(" ada@example.com").is_err());
        assert!(Email::parse("a@b.co.").is_err());
    }
}
