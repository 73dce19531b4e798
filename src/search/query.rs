//! What a shopper typed, parsed once and rendered safely for each full-text engine.
//!
//! The syntax is web-search style: words must all match, `"quoted words"` match as a phrase,
//! `or` between two words or phrases accepts either, a leading `-` excludes a word or phrase, and
//! the last word also matches as a prefix so results follow typing. Only letters and digits
//! reach the engines (everything else separates words), so no input can break a query.

use crate::error::{AppError, AppResult};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words and phrases in one query.
pub const MAX_QUERY_PARTS: usize = 16;

/// A word or a phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    /// One word.
    Word {
        /// The word, lower-case.
        text: String,
        /// Whether it also matches longer words.
        prefix: bool,
    },
    /// Words in sequence.
    Phrase(Vec<String>),
}

/// A parsed query: every group must match (a group matches when any of its units does) and no
/// excluded unit may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextQuery {
    /// Groups joined by AND; units within a group by OR.
    pub groups: Vec<Vec<Unit>>,
    /// Units that must not match.
    pub excluded: Vec<Unit>,
}

enum Token {
    Or,
    Unit { unit: Unit, negated: bool },
}

impl TextQuery {
    /// Parses a query.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when it is longer than [`MAX_QUERY_CHARS`], has more than
    /// [`MAX_QUERY_PARTS`] parts, or has no word to look for.
    pub fn parse(input: &str) -> AppResult<Self> {
        if input.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::bad_input(format!("a search query is at most {MAX_QUERY_CHARS} characters")));
        }
        let typing = !input.ends_with(|c: char| c.is_whitespace() || c == '"');
        let tokens = tokenize(input);
        if tokens.len() > MAX_QUERY_PARTS {
            return Err(AppError::bad_input(format!("a search query has at most {MAX_QUERY_PARTS} words or phrases")));
        }
        let mut query = Self { groups: Vec::new(), excluded: Vec::new() };
        let mut join_next = false;
        for token in tokens {
            match token {
                Token::Or => join_next = !query.groups.is_empty(),
                Token::Unit { unit, negated: true } => {
                    query.excluded.push(unit);
                    join_next = false;
                }
                Token::Unit { unit, negated: false } => {
                    match query.groups.last_mut() {
                        Some(group) if join_next => group.push(unit),
                        _ => query.groups.push(vec![unit]),
                    }
                    join_next = false;
                }
            }
        }
        if query.groups.is_empty() {
            return Err(AppError::bad_input("a search query needs at least one word to look for"));
        }
        if typing && let Some(Unit::Word { prefix, .. }) = query.groups.last_mut().and_then(|group| group.last_mut()) {
            *prefix = true;
        }
        Ok(query)
    }

    /// The words to embed: what the shopper looks for, without exclusions and operators.
    pub fn semantic_text(&self) -> String {
        let mut words = Vec::new();
        for unit in self.groups.iter().flatten() {
            match unit {
                Unit::Word { text, .. } => words.push(text.as_str()),
                Unit::Phrase(phrase) => words.extend(phrase.iter().map(String::as_str)),
            }
        }
        words.join(" ")
    }

    /// The query in PostgreSQL `to_tsquery` syntax.
    pub fn to_tsquery(&self) -> String {
        let unit = |unit: &Unit| match unit {
            Unit::Word { text, prefix } => format!("'{text}'{}", if *prefix { ":*" } else { "" }),
            Unit::Phrase(words) => {
                format!("({})", words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" <-> "))
            }
        };
        let mut parts: Vec<String> = self
            .groups
            .iter()
            .map(|group| format!("({})", group.iter().map(unit).collect::<Vec<_>>().join(" | ")))
            .collect();
        parts.extend(self.excluded.iter().map(|u| format!("!{}", unit(u))));
        parts.join(" & ")
    }

    /// The query in SQLite FTS5 syntax.
    pub fn to_fts5(&self) -> String {
        let unit = |unit: &Unit| match unit {
            Unit::Word { text, prefix } => format!("\"{text}\"{}", if *prefix { "*" } else { "" }),
            Unit::Phrase(words) => format!("\"{}\"", words.join(" ")),
        };
        let positive = self
            .groups
            .iter()
            .map(|group| format!("({})", group.iter().map(unit).collect::<Vec<_>>().join(" OR ")))
            .collect::<Vec<_>>()
            .join(" AND ");
        if self.excluded.is_empty() {
            positive
        } else {
            let excluded = self.excluded.iter().map(unit).collect::<Vec<_>>().join(" OR ");
            format!("({positive}) NOT ({excluded})")
        }
    }
}

/// Splits input into words, phrases and `or`s. Runs of letters and digits are words; a
/// hyphenated or dotted run such as `t-shirt` becomes a phrase.
fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = input;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        let negated = rest.starts_with('-');
        let body = if negated { &rest[1..] } else { rest };
        let (raw, quoted, remainder) = if let Some(inner) = body.strip_prefix('"') {
            match inner.find('"') {
                Some(end) => (&inner[..end], true, &inner[end + 1..]),
                None => (inner, true, ""),
            }
        } else {
            let end = body.find(char::is_whitespace).unwrap_or(body.len());
            (&body[..end], false, &body[end..])
        };
        rest = remainder;
        let words: Vec<String> =
            raw.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
        if !quoted && !negated && words.len() == 1 && words[0] == "or" && raw.eq_ignore_ascii_case("or") {
            tokens.push(Token::Or);
            continue;
        }
        let unit = match words.len() {
            0 => continue,
            1 => Unit::Word { text: words.into_iter().next().unwrap_or_default(), prefix: false },
            _ => Unit::Phrase(words),
        };
        tokens.push(Token::Unit { unit, negated });
    }
    tokens
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed step should fail the test loudly
mod tests {
    use super::*;

    #[test]
    fn words_must_all_match_and_the_last_is_a_prefix_while_typing() {
        let query = TextQuery::parse("silk dre").unwrap();
        assert_eq!(query.to_tsquery(), "('silk') & ('dre':*)");
        assert_eq!(query.to_fts5(), "(\"silk\") AND (\"dre\"*)");
        let done = TextQuery::parse("silk dress ").unwrap();
        assert_eq!(done.to_fts5(), "(\"silk\") AND (\"dress\")");
    }

    #[test]
    fn phrases_alternatives_and_exclusions() {
        let query = TextQuery::parse(r#""evening dress" or gown -wool"#).unwrap();
        assert_eq!(query.to_tsquery(), "(('evening' <-> 'dress') | 'gown':*) & !'wool'");
        assert_eq!(query.to_fts5(), "((\"evening dress\" OR \"gown\"*)) NOT (\"wool\")");
        assert_eq!(query.semantic_text(), "evening dress gown");
    }

    #[test]
    fn hostile_input_becomes_plain_words() {
        for input in ["'); DROP TABLE products; --", "a & b | !c <-> d:*", "NEAR(x y) ^z \"unclosed", "col:val*"] {
            let query = TextQuery::parse(input).unwrap();
            for rendered in [query.to_tsquery(), query.to_fts5()] {
                assert!(
                    !rendered.contains(';') && !rendered.contains("--") && !rendered.contains(':')
                        || rendered.contains(":*"),
                    "{rendered}"
                );
            }
            for unit in query.groups.iter().flatten().chain(&query.excluded) {
                let words = match unit {
                    Unit::Word { text, .. } => vec![text.clone()],
                    Unit::Phrase(words) => words.clone(),
                };
                assert!(words.iter().all(|w| w.chars().all(char::is_alphanumeric)), "{input} gave {words:?}");
            }
        }
        assert_eq!(
            TextQuery::parse("t-shirt").unwrap().groups,
            vec![vec![Unit::Phrase(vec!["t".into(), "shirt".into()])]]
        );
    }

    #[test]
    fn empty_negative_only_and_oversized_queries_are_refused() {
        for input in ["", "   ", "-dress", "!!! ???", "or"] {
            assert!(TextQuery::parse(input).is_err(), "{input:?} must be refused");
        }
        assert!(TextQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(TextQuery::parse(&"word ".repeat(MAX_QUERY_PARTS + 1)).is_err());
    }
}
