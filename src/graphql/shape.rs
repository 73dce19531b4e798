//! Limits on the shape of a parsed document, checked before validation walks it.
//!
//! Validation expands fragment spreads inline, so a document of a few fragments that each spread
//! the next one twice makes it visit billions of fields. This check walks each fragment once
//! (memoised) and refuses a document whose expanded selection count, depth or fragment cycles
//! pass the limits. Depth is measured as async-graphql measures it (fields nested in fields),
//! except that the subtree of `__schema` and `__type` counts against its own, larger limit: the
//! standard introspection query that GraphiQL and code generators send is 13 levels deep.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned};

use crate::error::ErrorCode;

/// The limits a document must stay within.
#[derive(Clone, Copy, Debug)]
pub struct ShapeLimits {
    /// Deepest field nesting outside introspection.
    pub max_depth: usize,
    /// Deepest field nesting inside `__schema` / `__type`.
    pub max_introspection_depth: usize,
    /// Most selections once every fragment spread is expanded.
    pub max_selections: u64,
}

/// Why a document was refused: the client-facing code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    /// `QUERY_TOO_DEEP`, `QUERY_TOO_COMPLEX` or `GRAPHQL_VALIDATION_FAILED`.
    pub code: ErrorCode,
    /// What to change.
    pub message: String,
}

/// What one selection set costs once expanded.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    depth: usize,
    introspection_depth: usize,
    selections: u64,
}

impl Cost {
    fn merge(self, other: Cost) -> Cost {
        Cost {
            depth: self.depth.max(other.depth),
            introspection_depth: self.introspection_depth.max(other.introspection_depth),
            selections: self.selections.saturating_add(other.selections),
        }
    }
}

enum Memo {
    InProgress,
    Done(Cost),
}

struct Walker<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a Name, Memo>,
    limit: u64,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<Cost, ShapeError> {
        let mut cost = Cost::default();
        for item in &set.node.items {
            let item_cost = match &item.node {
                Selection::Field(field) => {
                    let mut literals = field.node.arguments.iter().filter_map(|(_, value)| {
                        value.node.clone().into_const_with(|_| Ok::<_, ()>(async_graphql::Value::Null)).ok()
                    });
                    if literals.any(|v| const_has_nul(&v)) {
                        return Err(nul_refused());
                    }
                    let child = self.selection_set(&field.node.selection_set)?;
                    let name = field.node.name.node.as_str();
                    if name == "__schema" || name == "__type" {
                        Cost {
                            depth: 1,
                            introspection_depth: 1 + child.depth.max(child.introspection_depth),
                            selections: child.selections.saturating_add(1),
                        }
                    } else {
                        Cost { depth: 1 + child.depth, selections: child.selections.saturating_add(1), ..child }
                    }
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.node.selection_set)?,
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node)?,
            };
            cost = cost.merge(item_cost);
            if cost.selections > self.limit {
                return Err(too_large(self.limit));
            }
        }
        Ok(cost)
    }

    fn fragment(&mut self, name: &'a Name) -> Result<Cost, ShapeError> {
        match self.fragments.get(name) {
            Some(Memo::Done(cost)) => return Ok(*cost),
            Some(Memo::InProgress) => {
                return Err(ShapeError {
                    code: ErrorCode::GraphqlValidationFailed,
                    message: format!("fragment `{name}` spreads itself"),
                });
            }
            None => {}
        }
        // An unknown fragment costs nothing here; validation reports it.
        let Some(definition) = self.document.fragments.get(name) else { return Ok(Cost::default()) };
        self.fragments.insert(name, Memo::InProgress);
        let cost = self.selection_set(&definition.node.selection_set)?;
        self.fragments.insert(name, Memo::Done(cost));
        Ok(cost)
    }
}

fn nul_refused() -> ShapeError {
    ShapeError { code: ErrorCode::BadUserInput, message: "text must not contain NUL characters".to_owned() }
}

/// Whether a value holds a string with a NUL character (which no store accepts in text).
pub fn const_has_nul(value: &async_graphql::Value) -> bool {
    match value {
        async_graphql::Value::String(text) => text.contains('\0'),
        async_graphql::Value::List(items) => items.iter().any(const_has_nul),
        async_graphql::Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || const_has_nul(v)),
        _ => false,
    }
}

/// Refuses variables holding text with a NUL character.
///
/// # Errors
/// `BAD_USER_INPUT`.
pub fn check_variables(variables: &async_graphql::Variables) -> Result<(), ShapeError> {
    if variables.iter().any(|(_, value)| const_has_nul(value)) { Err(nul_refused()) } else { Ok(()) }
}

fn too_large(limit: u64) -> ShapeError {
    ShapeError {
        code: ErrorCode::QueryTooComplex,
        message: format!("the query selects more than {limit} fields once its fragments are expanded"),
    }
}

/// Checks every operation of `document` against `limits`.
///
/// # Errors
/// The first limit passed.
pub fn check(document: &ExecutableDocument, limits: ShapeLimits) -> Result<(), ShapeError> {
    let mut walker = Walker { document, fragments: HashMap::new(), limit: limits.max_selections };
    let mut total = Cost::default();
    for (_, operation) in document.operations.iter() {
        total = total.merge(walker.selection_set(&operation.node.selection_set)?);
        if total.selections > limits.max_selections {
            return Err(too_large(limits.max_selections));
        }
    }
    if total.depth > limits.max_depth {
        return Err(ShapeError {
            code: ErrorCode::QueryTooDeep,
            message: format!("the query nests fields {} deep; at most {} are allowed", total.depth, limits.max_depth),
        });
    }
    if total.introspection_depth > limits.max_introspection_depth {
        return Err(ShapeError {
            code: ErrorCode::QueryTooDeep,
            message: format!(
                "the introspection query nests fields {} deep; at most {} are allowed",
                total.introspection_depth, limits.max_introspection_depth
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ShapeLimits = ShapeLimits { max_depth: 3, max_introspection_depth: 15, max_selections: 100 };

    fn check_text(text: &str) -> Result<(), ShapeError> {
        let document = async_graphql::parser::parse_query(text).unwrap_or_else(|e| panic!("{e}"));
        check(&document, LIMITS)
    }

    fn code(text: &str) -> Option<ErrorCode> {
        check_text(text).err().map(|e| e.code)
    }

    #[test]
    fn depth_counts_fields_through_fragments() {
        assert_eq!(code("{ a { b { c } } }"), None);
        assert_eq!(code("{ a { b { c { d } } } }"), Some(ErrorCode::QueryTooDeep));
        assert_eq!(code("{ a { ...F } } fragment F on T { b { c { d } } }"), Some(ErrorCode::QueryTooDeep));
        assert_eq!(code("{ a { ... on T { b { c { d } } } } }"), Some(ErrorCode::QueryTooDeep));
    }

    #[test]
    fn introspection_has_its_own_depth() {
        let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }";
        assert_eq!(code(deep), None);
        let deeper = format!("{{ __schema {}name{} }}", "{ ofType ".repeat(15), " }".repeat(15));
        assert_eq!(code(&deeper), Some(ErrorCode::QueryTooDeep));
    }

    #[test]
    fn fragment_bombs_and_cycles_are_refused_without_expanding() {
        let mut bomb = String::from("{ ...F0 }");
        for i in 0..40 {
            bomb.push_str(&format!(" fragment F{i} on Query {{ ...F{} ...F{} }}", i + 1, i + 1));
        }
        bomb.push_str(" fragment F40 on Query { a }");
        assert_eq!(code(&bomb), Some(ErrorCode::QueryTooComplex));
        assert_eq!(
            code("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }"),
            Some(ErrorCode::GraphqlValidationFailed)
        );
        assert_eq!(code("{ ...Missing }"), None, "left to validation");
    }

    #[test]
    fn text_with_nul_is_refused() {
        assert_eq!(code(r#"{ a(x: "fine") }"#), None);
        assert_eq!(code(r#"{ a(x: "bad\u0000") }"#), Some(ErrorCode::BadUserInput));
        assert_eq!(code(r#"{ a(x: {y: ["ok", "bad\u0000"]}) }"#), Some(ErrorCode::BadUserInput));
    }
}
