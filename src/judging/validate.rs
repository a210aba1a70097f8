//! Limits and plausibility checks for what organisers type in: names,
//! descriptions, emails, table numbers and ratings. Each check returns a
//! message a client developer or organiser can act on.

use thiserror::Error;

/// Longest accepted hack, judge or superlative name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted hack description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest accepted judge's note on a hack, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// Lowest and highest rating a judge may give a hack.
pub const RATING_RANGE: std::ops::RangeInclusive<i64> = 1..=20;
/// Table numbers (a hack's `location`) are non-negative and below this.
pub const MAX_LOCATION: i64 = 1_000_000;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {len} characters long; the limit is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} must not contain control characters")]
    ControlCharacter { field: &'static str },
    #[error("email {0:?} is not a plausible address (expected name@domain.tld)")]
    Email(String),
    #[error("rating {0} is out of range: a rating is an integer from 1 to 20")]
    Rating(i64),
    #[error("location {0} is out of range: a table number is from 0 to 999999")]
    Location(i64),
}

/// A name: non-empty after trimming, at most [`MAX_NAME_CHARS`], one line.
pub fn name(field: &'static str, value: &str) -> Result<(), ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    max_chars(field, value, MAX_NAME_CHARS)?;
    if value.chars().any(char::is_control) {
        return Err(ValidationError::ControlCharacter { field });
    }
    Ok(())
}

/// A description: may be empty and span lines, at most [`MAX_DESCRIPTION_CHARS`].
pub fn description(value: &str) -> Result<(), ValidationError> {
    max_chars("description", value, MAX_DESCRIPTION_CHARS)?;
    story(value)
}

/// An imported story: like a description, of any length (Devpost's stories
/// run longer than the limit on typed ones; judges get long ones shortened).
pub fn story(value: &str) -> Result<(), ValidationError> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::ControlCharacter {
            field: "description",
        });
    }
    Ok(())
}

/// A judge's note: may be empty (clearing it) and span lines, at most
/// [`MAX_NOTE_CHARS`].
pub fn note(value: &str) -> Result<(), ValidationError> {
    max_chars("text", value, MAX_NOTE_CHARS)?;
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::ControlCharacter { field: "text" });
    }
    Ok(())
}

/// A syntactically plausible email: one `@`, a non-empty local part, a domain
/// with a dot between non-empty labels, no spaces. Deliverability is not checked.
pub fn email(value: &str) -> Result<(), ValidationError> {
    max_chars("email", value, MAX_EMAIL_CHARS)?;
    let bad = || ValidationError::Email(value.to_string());
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let plausible = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if plausible {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A rating from 1 to 20.
pub fn rating(value: i64) -> Result<(), ValidationError> {
    if RATING_RANGE.contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::Rating(value))
    }
}

/// A table number from 0 to [`MAX_LOCATION`] - 1.
pub fn location(value: i64) -> Result<(), ValidationError> {
    if (0..MAX_LOCATION).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::Location(value))
    }
}

fn max_chars(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    // Byte length bounds the char count from above, so most values skip the count.
    if value.len() > max {
        let len = value.chars().count();
        if len > max {
            return Err(ValidationError::TooLong { field, len, max });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("name", "Tally Ho").is_ok());
        assert_eq!(
            name("name", "   "),
            Err(ValidationError::Empty { field: "name" })
        );
        assert!(matches!(
            name("name", &"x".repeat(201)),
            Err(ValidationError::TooLong { len: 201, .. })
        ));
        assert!(name("name", &"é".repeat(200)).is_ok());
        assert!(name("name", "a\nb").is_err());
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@mail.example.org"] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a@b..co", "a b@c.de", "a@b.co,",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ratings_and_locations() {
        assert!(rating(1).is_ok() && rating(20).is_ok());
        assert!(rating(0).is_err() && rating(21).is_err());
        assert!(location(0).is_ok() && location(-1).is_err());
    }
}
