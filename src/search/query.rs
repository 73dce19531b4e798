//! What a shopper typed, parsed once and rendered safely for each full-text engine.
//!
//! The syntax is web-search style: words must all match, `"quoted words"` match as a phrase,
//! `or` between two words or phrases accepts either, a leading `-` excludes a word or phrase, and
//! the last word also matches as a prefix so results follow typing. Only letters and digits
//! reach the engines (everything else separates words), so no input can break a query.
//!
//! Stop words ("the", "for", "with"…) are not required to match unless the query has nothing
//! else, and an `or` with nothing on one side is a word. When not every word matches anything,
//! [`TextQuery::relaxed`] asks for any of them instead (see `lexical::ranked`).

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
    /// Every word looked for, stop words included, in the order typed: the text to embed.
    semantic: String,
}

/// English words too common to be required: they are dropped from the words that must match
/// (the embedding keeps them), unless the query has no other word. PostgreSQL's `english`
/// configuration ignores the same words; SQLite's tokenizer would not.
const STOP_WORDS: [&str; 32] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "in", "into", "is", "it", "its",
    "of", "on", "or", "so", "such", "that", "the", "their", "this", "to", "was", "were", "will", "with", "very",
];

fn is_stop_word(unit: &Unit) -> bool {
    matches!(unit, Unit::Word { text, prefix: false } if STOP_WORDS.contains(&text.as_str()))
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
        let tokens = operators_between_units(tokenize(input));
        if tokens.len() > MAX_QUERY_PARTS {
            return Err(AppError::bad_input(format!("a search query has at most {MAX_QUERY_PARTS} words or phrases")));
        }
        let mut query = Self { groups: Vec::new(), excluded: Vec::new(), semantic: String::new() };
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
        let mut words = Vec::new();
        for unit in query.groups.iter().flatten() {
            match unit {
                Unit::Word { text, .. } => words.push(text.as_str()),
                Unit::Phrase(phrase) => words.extend(phrase.iter().map(String::as_str)),
            }
        }
        query.semantic = words.join(" ");
        if query.groups.iter().any(|group| !group.iter().all(is_stop_word)) {
            query.groups.retain(|group| !group.iter().all(is_stop_word));
        }
        Ok(query)
    }

    /// The words to embed: what the shopper looks for, without exclusions and operators.
    pub fn semantic_text(&self) -> String {
        self.semantic.clone()
    }

    /// The query asking for any of its words instead of all of them (exclusions still apply), or
    /// `None` when it has only one group, so relaxing changes nothing.
    pub fn relaxed(&self) -> Option<TextQuery> {
        (self.groups.len() > 1).then(|| TextQuery {
            groups: vec![self.groups.iter().flatten().cloned().collect()],
            excluded: self.excluded.clone(),
            semantic: self.semantic.clone(),
        })
    }

    /// Each group alone, as a query of its own (without the exclusions).
    pub fn each_group(&self) -> Vec<TextQuery> {
        let alone = |group: &Vec<Unit>| TextQuery {
            groups: vec![group.clone()],
            excluded: Vec::new(),
            semantic: self.semantic.clone(),
        };
        self.groups.iter().map(alone).collect()
    }

    /// The query without the groups `keep` marks false (one flag per group, in order).
    pub fn keeping(&self, keep: &[bool]) -> TextQuery {
        let groups = self.groups.iter().zip(keep).filter(|(_, kept)| **kept).map(|(group, _)| group.clone()).collect();
        TextQuery { groups, excluded: self.excluded.clone(), semantic: self.semantic.clone() }
    }

    /// The word being typed (the one word matching as a prefix), with what the query asks
    /// beside it: its other groups and its exclusions, or `None` when nothing else.
    pub fn typed_word(&self) -> Option<(&str, Option<TextQuery>)> {
        let (at, text) = self.groups.iter().enumerate().find_map(|(at, group)| {
            group.iter().find_map(|unit| match unit {
                Unit::Word { text, prefix: true } => Some((at, text.as_str())),
                _ => None,
            })
        })?;
        let mut groups = self.groups.clone();
        groups.remove(at);
        let others = (!groups.is_empty() || !self.excluded.is_empty()).then(|| TextQuery {
            groups,
            excluded: self.excluded.clone(),
            semantic: self.semantic.clone(),
        });
        Some((text, others))
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

/// Keeps `or` an operator only between two units; elsewhere (alone, first, last, next to
/// another `or`) it is the word "or".
fn operators_between_units(tokens: Vec<Token>) -> Vec<Token> {
    let is_unit = |token: Option<&Token>| matches!(token, Some(Token::Unit { .. }));
    let mut kept = Vec::with_capacity(tokens.len());
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let token = match token {
            Token::Or if !(is_unit(kept.last()) && is_unit(tokens.peek())) => {
                Token::Unit { unit: Unit::Word { text: "or".to_owned(), prefix: false }, negated: false }
            }
            token => token,
        };
        kept.push(token);
    }
    kept
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
    fn the_word_being_typed_comes_apart_from_the_rest() {
        let query = TextQuery::parse("silk or wool -red zeph").unwrap();
        let (word, others) = query.typed_word().unwrap();
        assert_eq!(word, "zeph");
        assert_eq!(others.unwrap().to_tsquery(), "('silk' | 'wool') & !'red'");
        let alone = TextQuery::parse("zeph").unwrap();
        assert_eq!(alone.typed_word(), Some(("zeph", None)));
        assert_eq!(TextQuery::parse("silk zephyr ").unwrap().typed_word(), None);
    }

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
    fn stop_words_are_not_required_unless_nothing_else_is_asked() {
        let query = TextQuery::parse("boots for the snow ").unwrap();
        assert_eq!(query.to_fts5(), "(\"boots\") AND (\"snow\")");
        assert_eq!(query.semantic_text(), "boots for the snow", "the embedding keeps every word");
        assert_eq!(TextQuery::parse("the who ").unwrap().to_fts5(), "(\"who\")");
        assert_eq!(TextQuery::parse("the ").unwrap().to_fts5(), "(\"the\")");
        assert_eq!(TextQuery::parse(r#""made for walking""#).unwrap().to_fts5(), "(\"made for walking\")");
    }

    #[test]
    fn a_lone_or_is_a_word() {
        assert_eq!(TextQuery::parse("or").unwrap().to_fts5(), "(\"or\"*)");
        assert_eq!(TextQuery::parse("or dress ").unwrap().to_fts5(), "(\"dress\")");
        assert_eq!(TextQuery::parse("gold or ").unwrap().to_fts5(), "(\"gold\")");
        assert_eq!(TextQuery::parse("gold or or silver ").unwrap().groups.len(), 2);
    }

    #[test]
    fn a_relaxed_query_asks_for_any_word() {
        let query = TextQuery::parse("designer tote -canvas ").unwrap();
        let relaxed = query.relaxed().unwrap();
        assert_eq!(relaxed.to_fts5(), "((\"designer\" OR \"tote\")) NOT (\"canvas\")");
        assert_eq!(relaxed.to_tsquery(), "('designer' | 'tote') & !'canvas'");
        assert!(TextQuery::parse("tote").unwrap().relaxed().is_none());
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
        for input in ["", "   ", "-dress", "!!! ???"] {
            assert!(TextQuery::parse(input).is_err(), "{input:?} must be refused");
        }
        assert!(TextQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(TextQuery::parse(&"word ".repeat(MAX_QUERY_PARTS + 1)).is_err());
    }
}
