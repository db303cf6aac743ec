//! An e-mail address, parsed at the edge: once an `Email` exists it has the
//! plain `local@domain.tld` shape and is at most 254 characters.

use std::fmt;

/// A well-shaped e-mail address, as given (its case is kept; the pool
/// compares addresses case-insensitively).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses an address, trimming surrounding blanks.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let email = text.trim();
        let Some((local, domain)) = email.split_once('@') else {
            return Err("is not an e-mail address");
        };
        let tld_ok = domain
            .rsplit_once('.')
            .is_some_and(|(host, tld)| !host.is_empty() && tld.len() >= 2);
        let ok = !local.is_empty()
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.contains("..")
            && tld_ok
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err("is not an e-mail address");
        }
        if email.len() > 254 {
            return Err("is longer than 254 characters");
        }
        Ok(Self(email.to_string()))
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
    fn plain_addresses_parse_trimmed() {
        assert_eq!(
            Email::parse(" Ada@Example.com ").map(|e| e.to_string()),
            Ok("Ada@Example.com".into())
        );
        assert!(Email::parse("first.last+tag@sub.example.co.uk").is_ok());
    }
}
