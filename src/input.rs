//! Input checks shared by every domain (the domains' own newtypes live with them).

use crate::error::{AppError, AppResult};

/// Trimmed text with a bounded length; `field` names it in errors.
///
/// # Errors
/// `BAD_USER_INPUT` when empty (if required) or longer than `max` characters.
pub fn bounded_text(field: &str, input: &str, max: usize, required: bool) -> AppResult<String> {
    let trimmed = input.trim();
    if required && trimmed.is_empty() {
        return Err(AppError::bad_input(format!("`{field}` must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(AppError::bad_input(format!("`{field}` must be at most {max} characters")));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_texts() {
        assert_eq!(bounded_text("title", "  Coat ", 10, true).ok().as_deref(), Some("Coat"));
        assert!(bounded_text("title", "   ", 10, true).is_err());
        assert!(bounded_text("title", "abcdefghijk", 10, true).is_err());
        assert_eq!(bounded_text("brand", "", 10, false).ok().as_deref(), Some(""));
    }
}
