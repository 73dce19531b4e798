//! Operation manifests in Apollo's persisted-query manifest format, as
//! `@apollo/generate-persisted-query-manifest` writes them:
//!
//! ```json
//! { "format": "apollo-persisted-query-manifest", "version": 1,
//!   "operations": [{ "id": "<sha256 of body>", "name": "Products", "type": "query", "body": "query Products { … }" }] }
//! ```
//!
//! Reading one checks its shape here; what each body means is checked against the schema by an
//! [`OperationCheck`] before it is registered.

use serde::Deserialize;

use crate::digest::sha256_hex;
use crate::error::{AppError, AppResult};
use crate::identity::viewer::Scope;

/// The `format` of a manifest.
pub const FORMAT: &str = "apollo-persisted-query-manifest";
/// Most operations in one manifest.
pub const MAX_OPERATIONS: usize = 1_000;
/// Longest operation body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest operation name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// The kind of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum OperationKind {
    /// A query.
    Query,
    /// A mutation.
    Mutation,
    /// A subscription.
    Subscription,
}

impl OperationKind {
    /// `query`, `mutation` or `subscription`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One operation of a manifest.
#[derive(Clone, Debug, Deserialize)]
pub struct Operation {
    /// SHA-256 of `body`, lowercase hexadecimal.
    pub id: String,
    /// The operation's name.
    pub name: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: OperationKind,
    /// The document: the operation and the fragments it uses.
    pub body: String,
}

/// A manifest, read and checked for shape.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    format: String,
    version: u32,
    /// Its operations.
    pub operations: Vec<Operation>,
}

/// Checks an operation's body against the schema: it parses, holds exactly the one operation
/// named, of that kind, is valid, and `scopes` reach every root field it uses.
#[async_trait::async_trait]
pub trait OperationCheck: Send + Sync {
    /// Why `operation` cannot be registered for keys with `scopes`, or `None`.
    async fn refusal(&self, operation: &Operation, scopes: &[Scope]) -> Option<String>;
}

/// A manifest from its JSON, checked for shape: the format and version, bounded sizes, unique
/// ids, and each id the SHA-256 of its body.
///
/// # Errors
/// `BAD_USER_INPUT` naming what is wrong (and the operation, by its name).
pub fn read(json: serde_json::Value) -> AppResult<Manifest> {
    let manifest: Manifest = serde_json::from_value(json).map_err(|error| {
        AppError::bad_input(format!(
            "not an operation manifest ({error}); expected {{\"format\": \"{FORMAT}\", \"version\": 1, \"operations\": [{{id, name, type, body}}]}}"
        ))
    })?;
    if manifest.format != FORMAT || manifest.version != 1 {
        return Err(AppError::bad_input(format!(
            "the manifest must be `format: \"{FORMAT}\"`, `version: 1` (got `{}`, {})",
            manifest.format.chars().take(60).collect::<String>(),
            manifest.version
        )));
    }
    if manifest.operations.len() > MAX_OPERATIONS {
        return Err(AppError::bad_input(format!("a manifest holds at most {MAX_OPERATIONS} operations")));
    }
    let mut seen = std::collections::HashSet::new();
    for operation in &manifest.operations {
        let name = operation.name.chars().take(MAX_NAME_CHARS).collect::<String>();
        let refuse = |why: &str| AppError::bad_input(format!("operation `{name}`: {why}"));
        if operation.name.trim().is_empty() || operation.name.chars().count() > MAX_NAME_CHARS {
            return Err(refuse(&format!("the name must be 1 to {MAX_NAME_CHARS} characters")));
        }
        if operation.body.len() > MAX_BODY_BYTES {
            return Err(refuse(&format!("the body is longer than {MAX_BODY_BYTES} bytes")));
        }
        if operation.id != sha256_hex(&operation.body) {
            return Err(refuse("`id` is not the SHA-256 (lowercase hexadecimal) of `body`"));
        }
        if !seen.insert(operation.id.as_str()) {
            return Err(refuse("its body is listed twice"));
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn operation(name: &str, body: &str) -> serde_json::Value {
        json!({ "id": sha256_hex(body), "name": name, "type": "query", "body": body })
    }

    fn manifest(operations: Vec<serde_json::Value>) -> serde_json::Value {
        json!({ "format": FORMAT, "version": 1, "operations": operations })
    }

    fn refusal(json: serde_json::Value) -> String {
        read(json).err().map(|e| e.message().to_owned()).unwrap_or_default()
    }

    #[test]
    fn reads_a_manifest_and_refuses_each_malformed_part() {
        let read_back = read(manifest(vec![operation("A", "query A { __typename }")]));
        assert_eq!(read_back.ok().map(|m| m.operations.len()), Some(1));

        assert!(refusal(json!({ "operations": [] })).contains("not an operation manifest"));
        let other = json!({ "format": "relay", "version": 1, "operations": [] });
        assert!(refusal(other).contains("apollo-persisted-query-manifest"));
        let wrong_id = json!({ "id": "00", "name": "A", "type": "query", "body": "query A { __typename }" });
        assert!(refusal(manifest(vec![wrong_id])).contains("operation `A`: `id` is not the SHA-256"));
        let twice = vec![operation("A", "{ __typename }"), operation("B", "{ __typename }")];
        assert!(refusal(manifest(twice)).contains("operation `B`: its body is listed twice"));
        let long = format!("{{ __typename {} }}", " ".repeat(MAX_BODY_BYTES));
        assert!(refusal(manifest(vec![operation("Long", &long)])).contains("longer than"));
        let kind = json!({ "id": sha256_hex("{ a }"), "name": "A", "type": "read", "body": "{ a }" });
        assert!(refusal(manifest(vec![kind])).contains("not an operation manifest"));
    }
}
