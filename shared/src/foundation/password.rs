//! Passwords as NIST SP 800-63B asks: 8 to 256 characters, no composition
//! rules, and no password that is commonly used or easily guessed. The
//! guessability check is zxcvbn's (its dictionaries of common passwords,
//! names and words, keyboard patterns, dates and l33t), run before the
//! identity pool is called, because Cognito only checks length.

use crate::resources::PASSWORD_POLICY;

/// zxcvbn's scores run from 0 (guessed in under 10³ tries) to 4; below 2
/// (under 10⁶ tries) is "too guessable" or "very guessable".
const LEAST_SCORE: u8 = 2;

/// Checks a new password; `context` holds what the user told us (e-mail,
/// names), which a password must not lean on. The error says which rule.
pub fn check(password: &str, context: &[&str]) -> Result<(), String> {
    PASSWORD_POLICY.check(password)?;
    let estimate = zxcvbn::zxcvbn(password, context);
    if u8::from(estimate.score()) < LEAST_SCORE {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({})", w.to_string().trim_end_matches('.').to_lowercase()))
            .unwrap_or_default();
        return Err(format!(
            "is too common or too easy to guess{why}; a few unrelated words make a strong one"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lowercase_passphrases_pass_without_composition_rules() {
        assert_eq!(check("quiet river bends slowly", &[]), Ok(()));
        assert_eq!(check("marbleoctopusteapotsunrise", &[]), Ok(()));
        assert_eq!(check("Correct-Horse-9", &[]), Ok(()));
    }

    #[test]
    fn common_or_guessable_passwords_are_refused_with_the_reason() {
        for weak in [
            "password1",
            "Password123",
            "qwertyuiop",
            "12345678",
            "iloveyou",
        ] {
            let why = check(weak, &[]).expect_err(weak);
            assert!(why.contains("too common"), "{weak}: {why}");
        }
    }

    #[test]
    fn a_password_made_of_the_users_own_details_is_refused() {
        let context = ["ada.lovelace@example.com", "Ada", "Lovelace"];
        assert!(check("adalovelace", &context).is_err());
    }

    #[test]
    fn length_bounds_come_first() {
        assert!(check("Zq#7vL!", &[]).unwrap_err().contains("at least 8"));
        assert!(
            check(&"word ".repeat(52), &[])
                .unwrap_err()
                .contains("at most 256")
        );
    }

    #[test]
    fn any_script_is_accepted_when_long_enough() {
        assert_eq!(check("ночь улица фонарь аптека", &[]), Ok(()));
    }
}
