//! Relay cursor connections, one way for every list.
//!
//! [`PageRequest::parse`] turns the `first`/`after`/`last`/`before` arguments into a direction,
//! a bounded limit and an optional decoded cursor. A [`Cursor`] is the position of one row in
//! one order (the sort key's value and the row's id; for a ranked list such as search, the
//! rank); it is opaque to clients and refused when it was made for another order. A [`Page`] is
//! what a keyset query read with `LIMIT n + 1` (or a window of a ranked list) becomes: the rows
//! in reading order and whether there is more on either side.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The error for a cursor the API did not make, or made for another shape of key.
pub fn malformed_cursor() -> AppError {
    AppError::bad_input("malformed cursor: pass back a cursor exactly as the API returned it")
}

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
    /// The position of row `id`, whose sort key is `key`, in the order `sort`.
    pub fn new(sort: &str, key: serde_json::Value, id: Uuid) -> Self {
        Self { sort: sort.to_owned(), key, id }
    }

    /// Encodes the cursor for a client.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a cursor and checks that it was made for `sort`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the cursor is malformed or belongs to another sort order.
    pub fn decode(cursor: &str, sort: &str) -> AppResult<Self> {
        let malformed = malformed_cursor;
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

impl PageRequest {
    /// How many rows to read: one more than the page, to learn whether there is more.
    pub fn fetch_limit(&self) -> u64 {
        self.limit.saturating_add(1)
    }

    /// Where a ranked list resumes: the rank after the cursor's (0 without one).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the cursor does not hold a rank.
    pub fn rank_offset(&self) -> AppResult<usize> {
        let Some(cursor) = &self.cursor else { return Ok(0) };
        let rank = cursor.key.as_u64().and_then(|rank| usize::try_from(rank).ok());
        let rank = rank.ok_or_else(malformed_cursor)?;
        Ok(rank.saturating_add(1))
    }
}

/// One page of a list, in the order the client reads it.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Whether rows come before the first.
    pub has_previous_page: bool,
    /// Whether rows come after the last.
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// The page of `rows` read from the request's cursor in its direction with
    /// [`PageRequest::fetch_limit`]: the extra row is dropped, and a backward read is turned
    /// back into the list's own order.
    pub fn from_overfetch(mut rows: Vec<T>, request: &PageRequest) -> Self {
        let has_more = rows.len() as u64 > request.limit;
        rows.truncate(usize::try_from(request.limit).unwrap_or(usize::MAX));
        let forward = request.direction == Direction::Forward;
        if !forward {
            rows.reverse();
        }
        let has_cursor = request.cursor.is_some();
        Self {
            items: rows,
            has_previous_page: if forward { has_cursor } else { has_more },
            has_next_page: if forward { has_more } else { has_cursor },
        }
    }

    /// The request's window of a list already ranked in full (forward only): the ranks after the
    /// cursor's, paired with their rank.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the request reads backward or its cursor holds no rank.
    pub fn window(ranked: Vec<T>, request: &PageRequest) -> AppResult<Page<(usize, T)>> {
        if request.direction == Direction::Backward {
            return Err(AppError::bad_input("this list reads forward only: use `first` and `after`"));
        }
        let start = request.rank_offset()?;
        let total = ranked.len();
        let take = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let items: Vec<(usize, T)> = ranked.into_iter().enumerate().skip(start).take(take).collect();
        let end = start.saturating_add(items.len());
        Ok(Page { items, has_previous_page: start > 0, has_next_page: end < total })
    }

    /// The same position in the list, holding `items` (the rows once loaded in full).
    pub fn with_items<U>(&self, items: Vec<U>) -> Page<U> {
        Page { items, has_previous_page: self.has_previous_page, has_next_page: self.has_next_page }
    }

    /// A Relay connection of this page, each edge with the cursor `cursor` gives its row.
    pub fn into_connection<N: OutputType>(
        self,
        cursor: impl Fn(&T) -> Cursor,
        node: impl Fn(T) -> N,
    ) -> Connection<String, N> {
        let mut connection = Connection::new(self.has_previous_page, self.has_next_page);
        connection.edges.extend(self.items.into_iter().map(|row| Edge::new(cursor(&row).encode(), node(row))));
        connection
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
    fn an_overfetched_page_drops_its_extra_row_and_reads_backward_in_list_order() -> AppResult<()> {
        let after = PageRequest::parse(Some(2), Some(&cursor("NEWEST")), None, None, "NEWEST", LIMITS)?;
        let page = Page::from_overfetch(vec![1, 2, 3], &after);
        assert_eq!((page.items, page.has_previous_page, page.has_next_page), (vec![1, 2], true, true));
        let last = PageRequest::parse(None, None, Some(2), None, "NEWEST", LIMITS)?;
        let page = Page::from_overfetch(vec![9, 8], &last);
        assert_eq!((page.items, page.has_previous_page, page.has_next_page), (vec![8, 9], false, false));
        Ok(())
    }

    #[test]
    fn a_window_of_a_ranked_list_resumes_after_the_cursor_rank() -> AppResult<()> {
        let after = Cursor::new("SEARCH", serde_json::json!(1), Uuid::nil()).encode();
        let request = PageRequest::parse(Some(2), Some(&after), None, None, "SEARCH", LIMITS)?;
        let page = Page::window(vec!['a', 'b', 'c', 'd', 'e'], &request)?;
        assert_eq!((page.items, page.has_previous_page, page.has_next_page), (vec![(2, 'c'), (3, 'd')], true, true));
        let backward = PageRequest::parse(None, None, Some(2), None, "SEARCH", LIMITS)?;
        assert!(Page::window(vec!['a'], &backward).is_err());
        Ok(())
    }

    #[test]
    fn refuses_a_cursor_of_another_sort_order() {
        let c = cursor("PRICE_ASC");
        let error = PageRequest::parse(Some(2), Some(&c), None, None, "NEWEST", LIMITS).err();
        assert!(error.is_some_and(|e| e.message().contains("PRICE_ASC")));
    }
}
