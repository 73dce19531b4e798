//! What a partner API key runs and reaches: only its partner's registered operations, each root
//! field a scope opens, and nothing else.
//!
//! A partner is refused, before anything runs, any document that is not the one its request was
//! resolved to from the partner's active manifest (`PERSISTED_QUERY_REQUIRED`: see
//! [`crate::graphql::persisted`]; checked here too, so that an entry point that forgot to resolve
//! fails closed), and any operation whose root fields its key's scopes do not open (`FORBIDDEN`,
//! naming the field). The fields inside are then guarded as for anyone: `orders:read` grants the
//! permission to read every order, and nothing grants a partner the private side of the catalog.
//! A root field missing from [`REACHES`] is closed to partners, so a new field is never open to
//! them by accident.
//!
//! [`SchemaCheck`] checks a manifest's operations against the schema and the scopes when they
//! are registered.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult};

use super::AppSchema;
use crate::config::{GraphqlSettings, Settings};
use crate::digest::sha256_hex;
use crate::error::{AppError, ErrorCode};
use crate::graphql::persisted::Trusted;
use crate::graphql::stage::{Stage, Stages};
use crate::identity::viewer::{Scope, Viewer};
use crate::partner::manifest::{Operation, OperationCheck, OperationKind};

/// The root fields each scope opens to a partner key, by operation type.
pub const REACHES: &[(OperationType, &str, Scope)] = &[
    (OperationType::Query, "node", Scope::CatalogRead),
    (OperationType::Query, "products", Scope::CatalogRead),
    (OperationType::Query, "product", Scope::CatalogRead),
    (OperationType::Query, "categories", Scope::CatalogRead),
    (OperationType::Query, "category", Scope::CatalogRead),
    (OperationType::Query, "vendor", Scope::CatalogRead),
    (OperationType::Query, "search", Scope::CatalogRead),
    (OperationType::Query, "similar", Scope::CatalogRead),
    (OperationType::Query, "searchSuggestions", Scope::CatalogRead),
    (OperationType::Subscription, "stockChanged", Scope::CatalogRead),
    (OperationType::Query, "order", Scope::OrdersRead),
    (OperationType::Query, "orders", Scope::OrdersRead),
    (OperationType::Query, "fulfilments", Scope::OrdersRead),
    (OperationType::Subscription, "orderPlaced", Scope::OrdersRead),
    (OperationType::Subscription, "orderStatusChanged", Scope::OrdersRead),
];

/// Whether `scopes` open the root field `name` of an operation of type `kind`. Introspection
/// and `__typename` are open to every key.
pub fn opens(scopes: &[Scope], kind: OperationType, name: &str) -> bool {
    name.starts_with("__")
        || REACHES.iter().any(|(k, field, scope)| *k == kind && *field == name && scopes.contains(scope))
}

/// The stage that refuses a partner's out-of-scope operations.
#[derive(Clone, Copy)]
pub struct PartnerScopes;

/// The scopes of a partner's key, when a partner calls.
fn partner_scopes<'a>(ctx: &'a ExtensionContext<'_>) -> Option<&'a [Scope]> {
    match ctx.data_opt::<Viewer>() {
        Some(Viewer::Partner { scopes, .. }) => Some(scopes),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Stage for PartnerScopes {
    fn before_parsing(&self, ctx: &ExtensionContext<'_>, query: &str) -> ServerResult<()> {
        if partner_scopes(ctx).is_some()
            && ctx.data_opt::<Trusted>().is_none_or(|trusted| trusted.hash != sha256_hex(query))
        {
            let refusal = AppError::new(
                ErrorCode::PersistedQueryRequired,
                "a partner key runs only its partner's registered operations, by id",
            );
            return Err(async_graphql::Error::from(refusal).into_server_error(Default::default()));
        }
        Ok(())
    }

    fn parsed(&self, ctx: &ExtensionContext<'_>, document: &ExecutableDocument) -> ServerResult<()> {
        if let Some(scopes) = partner_scopes(ctx)
            && let Some(field) = first_closed(document, scopes)
        {
            let refusal = AppError::forbidden(format!("this API key's scopes do not reach `{field}`"));
            return Err(async_graphql::Error::from(refusal).into_server_error(Default::default()));
        }
        Ok(())
    }
}

/// Checks manifest operations on a copy of the schema that validates and never executes.
pub struct SchemaCheck {
    /// The limits requests have (depth, complexity, nesting).
    graphql: GraphqlSettings,
    /// The copy, built when the first operation is checked (registrations are rare; starts are
    /// not).
    schema: std::sync::OnceLock<AppSchema>,
    /// A partner key's cost bucket: an operation costing more could never run.
    max_cost: usize,
}

impl SchemaCheck {
    /// A check with the limits of `settings` (depth, complexity, nesting, a partner key's cost
    /// bucket), as requests have.
    pub fn new(settings: &Settings) -> Self {
        let max_cost = usize::try_from(settings.limits.partner.capacity).unwrap_or(usize::MAX);
        Self { graphql: settings.graphql.clone(), schema: std::sync::OnceLock::new(), max_cost }
    }

    fn schema(&self) -> &AppSchema {
        self.schema
            .get_or_init(|| super::schema_builder(&self.graphql, Stages::default()).extension(ValidateOnly).finish())
    }
}

#[async_trait::async_trait]
impl OperationCheck for SchemaCheck {
    async fn refusal(&self, operation: &Operation, scopes: &[Scope]) -> Option<String> {
        let document = match async_graphql::parser::parse_query(&operation.body) {
            Ok(document) => document,
            Err(error) => return Some(format!("the body does not parse: {error}")),
        };
        let mut operations: Vec<_> = match &document.operations {
            DocumentOperations::Single(operation) => vec![(None, operation)],
            DocumentOperations::Multiple(operations) => operations.iter().map(|(n, o)| (Some(n), o)).collect(),
        };
        let Some((name, only)) = operations.pop().filter(|_| operations.is_empty()) else {
            return Some("the body must hold exactly one operation".to_owned());
        };
        if name.is_none_or(|name| name.as_str() != operation.name) {
            return Some(format!("the body's operation must be named `{}`", operation.name));
        }
        let kind = match only.node.ty {
            OperationType::Query => OperationKind::Query,
            OperationType::Mutation => OperationKind::Mutation,
            OperationType::Subscription => OperationKind::Subscription,
        };
        if kind != operation.kind {
            return Some(format!("the body is a {}, not a {}", kind.as_str(), operation.kind.as_str()));
        }
        let checked = self.schema().execute(async_graphql::Request::new(operation.body.clone())).await;
        if let Some(error) = checked.errors.first() {
            return Some(format!("the body is not valid: {}", error.message));
        }
        let cost = match checked.extensions.get(COST) {
            Some(async_graphql::Value::Number(cost)) => cost.as_u64().and_then(|c| usize::try_from(c).ok()),
            _ => None,
        };
        if let Some(cost) = cost.filter(|cost| *cost > self.max_cost) {
            return Some(format!(
                "it costs {cost}, more than a partner key's bucket of {} (`limits.partner`): it could never run",
                self.max_cost
            ));
        }
        first_closed(&document, scopes).map(|field| {
            let granted: Vec<_> = scopes.iter().map(|s| s.name()).collect();
            format!("the partner's keys' scopes ({}) do not reach `{field}`", granted.join(", "))
        })
    }
}

/// The extension of a checked operation's answer that holds its static cost.
const COST: &str = "cost";

/// Stops every operation after validation, answering its static cost: nothing runs.
struct ValidateOnly;

/// One checked operation: its cost, once validated.
struct Validated(std::sync::Mutex<Option<usize>>);

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Validated(std::sync::Mutex::new(None)))
    }
}

#[async_trait::async_trait]
impl Extension for Validated {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result.complexity);
        Ok(result)
    }

    async fn execute(&self, _: &ExtensionContext<'_>, _: Option<&str>, _: NextExecute<'_>) -> Response {
        let mut response = Response::new(async_graphql::Value::Null);
        if let Some(cost) = *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            response.extensions.insert(COST.to_owned(), async_graphql::Value::from(cost));
        }
        response
    }
}

/// The first root field of any of `document`'s operations that `scopes` do not open.
fn first_closed(document: &ExecutableDocument, scopes: &[Scope]) -> Option<String> {
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values().collect(),
    };
    operations.into_iter().find_map(|operation| {
        let kind = operation.node.ty;
        let mut roots = Vec::new();
        root_fields(document, &operation.node.selection_set.node, &mut roots, 0);
        roots.into_iter().find(|name| !opens(scopes, kind, name))
    })
}

/// The names of the fields of `selection`, through fragments (bounded, as cycles are refused
/// later by validation).
fn root_fields(document: &ExecutableDocument, selection: &SelectionSet, into: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    for item in &selection.items {
        match &item.node {
            Selection::Field(field) => into.push(field.node.name.node.to_string()),
            Selection::InlineFragment(fragment) => {
                root_fields(document, &fragment.node.selection_set.node, into, depth + 1);
            }
            Selection::FragmentSpread(spread) => match document.fragments.get(&spread.node.fragment_name.node) {
                Some(fragment) => root_fields(document, &fragment.node.selection_set.node, into, depth + 1),
                // An unknown fragment: validation refuses the document anyway; refuse it here.
                None => into.push(spread.node.fragment_name.node.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(query: &str, scopes: &[Scope]) -> Option<String> {
        let document = async_graphql::parser::parse_query(query).ok()?;
        first_closed(&document, scopes)
    }

    #[test]
    fn every_root_field_is_checked_through_fragments() {
        let catalog = [Scope::CatalogRead];
        assert_eq!(closed("{ products { totalCount } categories { name } __typename }", &catalog), None);
        assert_eq!(
            closed("{ products { totalCount } orders { edges { cursor } } }", &catalog).as_deref(),
            Some("orders")
        );
        assert_eq!(
            closed("{ ...F } fragment F on Query { orders { edges { cursor } } }", &catalog).as_deref(),
            Some("orders")
        );
        assert_eq!(closed("{ ... on Query { me { id } } }", &catalog).as_deref(), Some("me"));
        assert_eq!(
            closed("mutation { openCart { token } }", &[Scope::CatalogRead, Scope::OrdersRead]).as_deref(),
            Some("openCart")
        );
        assert_eq!(closed("subscription { orderPlaced { eventId } }", &catalog).as_deref(), Some("orderPlaced"));
        assert_eq!(closed("subscription { orderPlaced { eventId } }", &[Scope::OrdersRead]), None);
        // Every operation of the document, not only the one asked for.
        assert_eq!(
            closed(
                "query A { products { totalCount } } query B { adminDashboard(currencyCode: \"EUR\") { from } }",
                &catalog
            )
            .as_deref(),
            Some("adminDashboard")
        );
    }
}
