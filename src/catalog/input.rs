//! Parsed catalog input: each newtype checks its rules once, at the edge.

use crate::error::{AppError, AppResult};

/// A URL-safe handle: 1 to 120 of `a-z`, `0-9` and inner single hyphens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming the rule that failed.
    pub fn parse(input: &str) -> AppResult<Self> {
        let valid_chars = input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if input.is_empty()
            || input.len() > 120
            || !valid_chars
            || input.starts_with('-')
            || input.ends_with('-')
            || input.contains("--")
        {
            return Err(AppError::bad_input(format!(
                "`{}` is not a valid slug: use 1 to 120 lowercase letters, digits and single inner hyphens",
                clip(input)
            )));
        }
        Ok(Self(input.to_owned()))
    }

    /// Makes a slug from free text (`"Silk Dress, 1990s"` → `silk-dress-1990s`).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when nothing slug-worthy is left.
    pub fn from_text(text: &str) -> AppResult<Self> {
        let mut slug = String::with_capacity(text.len());
        for c in text.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let trimmed: String = slug.trim_end_matches('-').chars().take(120).collect();
        Self::parse(trimmed.trim_end_matches('-'))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stock-keeping unit: 1 to 64 of `A-Z`, `0-9`, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    /// Parses a SKU.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming the rule that failed.
    pub fn parse(input: &str) -> AppResult<Self> {
        let valid = !input.is_empty()
            && input.len() <= 64
            && input.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(AppError::bad_input(format!(
                "`{}` is not a valid SKU: use 1 to 64 uppercase letters, digits, `-` and `_`",
                clip(input)
            )));
        }
        Ok(Self(input.to_owned()))
    }

    /// The SKU.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn clip(input: &str) -> String {
    input.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("silk-dress-1990s").is_ok());
        for bad in ["", "Silk", "-a", "a-", "a--b", "a b", "é", &"a".repeat(121)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Slug::from_text("Silk Dress, 1990s!").ok().map(|s| s.0), Some("silk-dress-1990s".into()));
        assert!(Slug::from_text("!!!").is_err());
    }

    #[test]
    fn skus() {
        assert!(Sku::parse("MA-000123_B").is_ok());
        for bad in ["", "ma-1", "A B", &"A".repeat(65)] {
            assert!(Sku::parse(bad).is_err(), "{bad}");
        }
    }
}
