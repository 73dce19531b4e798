//! Relay cursor connections over keyset pagination.
//!
//! [`PageRequest::parse`] turns the `first`/`after`/`last`/`before` arguments into a direction,
//! a bounded limit and an optional decoded cursor. A [`Cursor`] is the position of one row in
//! one sort order (the sort key's value and the row's id); it is opaque to clients and refused
//! when it was made for another sort order.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size limits, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct PageLimits {
    /// Used when neither `first` nor `last` is given.
    pub default_size: u32,
    /// Largest `first` or `last` accepted.
    pub max_size: u32,
}

/// Which way a page is read from its cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `first` items after `after`.
    Forward,
    /// `last` items before `before`.
    Backward,
}

/// A validated page request.
#[derive(Clone, Debug)]
pub struct PageRequest {
    /// Which way to read.
    pub direction: Direction,
    /// How many rows to return.
    pub limit: u64,
    /// Where to start, exclusive.
    pub cursor: Option<Cursor>,
}

/// The position of a row in a sort order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort order the cursor was made for.
    #[serde(rename = "s")]
    pub sort: String,
    /// The row's value of the sort key.
    #[serde(rename = "k")]
    pub key: serde_json::Value,
    /// The row's id, which breaks ties.
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    /// Encodes the cursor for a client.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor and checks that it was made for `sort`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the cursor is malformed or belongs to another sort order.
    pub fn decode(cursor: &str, sort: &str) -> AppResult<Self> {
        let malformed = || AppError::bad_input("malformed cursor: pass back a cursor exactly as the API returned it");
        if cursor.len() > 512 {
            return Err(malformed());
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| malformed())?;
        let decoded: Cursor = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if decoded.sort != sort {
            return Err(AppError::bad_input(format!(
                "this cursor belongs to the {} sort order, not {sort}",
                decoded.sort
            )));
        }
        Ok(decoded)
    }
}

impl PageRequest {
    /// Validates connection arguments against the limits. `sort` names the sort order, so a
    /// cursor from another order is refused.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when both directions are mixed, a size is negative or above the limit,
    /// or a cursor is malformed.
    pub fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
        sort: &str,
        limits: PageLimits,
    ) -> AppResult<Self> {
        if first.is_some() && last.is_some() {
            return Err(AppError::bad_input("pass either `first` or `last`, not both"));
        }
        if after.is_some() && before.is_some() {
            return Err(AppError::bad_input("pass either `after` or `before`, not both"));
        }
        let backward = last.is_some() || before.is_some();
        if backward && (first.is_some() || after.is_some()) {
            return Err(AppError::bad_input("`after` goes with `first`, and `before` with `last`"));
        }
        let (direction, size, cursor, name) = if backward {
            (Direction::Backward, last, before, "last")
        } else {
            (Direction::Forward, first, after, "first")
        };
        let limit = match size {
            None => limits.default_size,
            Some(n) if n < 0 => return Err(AppError::bad_input(format!("`{name}` must not be negative"))),
            Some(n) if n.unsigned_abs() > limits.max_size => {
                return Err(AppError::bad_input(format!("`{name}` must be at most {}", limits.max_size)));
            }
            Some(n) => n.unsigned_abs(),
        };
        let cursor = cursor.map(|c| Cursor::decode(c, sort)).transpose()?;
        Ok(Self { direction, limit: u64::from(limit), cursor })
    }
}

/// The complexity of a connection field: its page size times the cost of one item.
pub fn connection_complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).unwrap_or(20).clamp(1, i32::MAX);
    usize::try_from(size).unwrap_or(1).saturating_mul(child_complexity)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits { default_size: 20, max_size: 100 };

    fn cursor(sort: &str) -> String {
        Cursor { sort: sort.into(), key: serde_json::json!(12), id: Uuid::now_v7() }.encode()
    }

    #[test]
    fn defaults_to_a_forward_page() {
        let page = PageRequest::parse(None, None, None, None, "NEWEST", LIMITS).ok();
        assert!(matches!(page, Some(PageRequest { direction: Direction::Forward, limit: 20, cursor: None })));
    }

    #[test]
    fn reads_backward_from_before() {
        let before = cursor("NEWEST");
        let page = PageRequest::parse(None, None, Some(5), Some(&before), "NEWEST", LIMITS).ok();
        assert!(matches!(page, Some(PageRequest { direction: Direction::Backward, limit: 5, cursor: Some(_) })));
    }

    #[test]
    fn refuses_bad_arguments() {
        let c = cursor("NEWEST");
        type Arguments<'a> = (Option<i32>, Option<&'a str>, Option<i32>, Option<&'a str>);
        let cases: [Arguments; 7] = [
            (Some(1), None, Some(1), None),
            (Some(101), None, None, None),
            (Some(-1), None, None, None),
            (Some(1), None, None, Some(&c)),
            (None, Some("garbage"), None, None),
            (None, Some(&c), None, Some(&c)),
            (None, None, Some(1), Some("%%%")),
        ];
        for (first, after, last, before) in cases {
            assert!(PageRequest::parse(first, after, last, before, "NEWEST", LIMITS).is_err());
        }
    }

    #[test]
    fn refuses_a_cursor_of_another_sort_order() {
        let c = cursor("PRICE_ASC");
        let error = PageRequest::parse(Some(2), Some(&c), None, None, "NEWEST", LIMITS).err();
        assert!(error.is_some_and(|e| e.message().contains("PRICE_ASC")));
    }
}
