//! Every GraphQL error leaves with a stable `extensions.code`.
//!
//! Errors from our use cases carry their code already (see [`crate::error`]), and resolvers read
//! context data through [`super::state::State`], which is coded too. This extension gives a code
//! to the errors async-graphql raises itself: parse and validation failures, the depth and
//! complexity limits, and, during execution, arguments that fail coercion or a validator, which
//! surface from a field's resolution without a code or a source error. Any other error without
//! a code is ours and unforeseen: it is logged and leaves as `INTERNAL`, its text withheld.
//!
//! It is the schema's one extension: the other steps every operation takes (its loaders, a
//! partner's scopes, its cost) are [`Stage`]s it runs inside its codes, once per operation, since
//! async-graphql passes every field through every registered extension.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use super::shape::ShapeLimits;
use super::stage::{Stage, Stages};

use crate::error::ErrorCode;

/// Codes that mean the request failed before execution, so the response carries no `data`.
pub const PRE_EXECUTION_CODES: [ErrorCode; 7] = [
    ErrorCode::BadRequest,
    ErrorCode::GraphqlParseFailed,
    ErrorCode::GraphqlValidationFailed,
    ErrorCode::QueryTooDeep,
    ErrorCode::QueryTooComplex,
    ErrorCode::MaxCostExceeded,
    ErrorCode::PersistedQueryRequired,
];

/// Factory of the extension that assigns error codes. It also guards the parser and validation:
/// a document nested deeper than `max_nesting` brackets is refused before it is parsed (see
/// [`super::nesting`]), and a parsed one must keep within `shape` (see [`super::shape`]) before
/// validation expands its fragments. Inside it, each operation goes through `stages`.
#[derive(Clone, Debug)]
pub struct ErrorCodes {
    /// Deepest bracket nesting a document may have.
    pub max_nesting: usize,
    /// Depth and size limits of the parsed document.
    pub shape: ShapeLimits,
    /// Highest complexity a validated document may have.
    pub max_complexity: usize,
    /// What every operation goes through besides, in order.
    pub stages: Stages,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            max_nesting: self.max_nesting,
            shape: self.shape,
            max_complexity: self.max_complexity,
            stages: self.stages.0.iter().map(|factory| factory.begin()).collect(),
        })
    }
}

/// One operation's codes and stages.
struct ErrorCodesExtension {
    max_nesting: usize,
    shape: ShapeLimits,
    max_complexity: usize,
    stages: Vec<Box<dyn Stage>>,
}

/// An error with `message` and `code`, raised outside any field.
pub(crate) fn coded(message: String, code: ErrorCode) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_code(&mut error, code);
    error
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for stage in self.stages.iter().rev() {
            stage.answered(ctx, &mut response);
        }
        for error in &mut response.errors {
            if code_of(error).is_none() {
                tracing::error!(error.message = %error.message, error.path = ?error.path, "an error without a code");
                error.message = "internal server error".to_owned();
                set_code(error, ErrorCode::Internal);
            }
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        next.run(ctx, info).await.map_err(|mut error| {
            if code_of(&error).is_none() && error.source.is_none() {
                set_code(&mut error, ErrorCode::BadUserInput);
            }
            error
        })
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Err(too_deep) = super::nesting::check(&request.query, self.max_nesting) {
            return Err(coded(too_deep.message(), ErrorCode::BadRequest));
        }
        let document = request.parsed_query().map_err(|mut error| {
            set_code(&mut error, ErrorCode::GraphqlParseFailed);
            error
        })?;
        if let Err(refused) = super::shape::check(document, self.shape) {
            return Err(coded(refused.message, refused.code));
        }
        if let Err(refused) = super::shape::check_variables(&request.variables) {
            return Err(coded(refused.message, refused.code));
        }
        for stage in &self.stages {
            request = stage.prepare(ctx, request).await?;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let parsed = async {
            for stage in &self.stages {
                stage.before_parsing(ctx, query)?;
            }
            let document = next.run(ctx, query, variables).await?;
            for stage in &self.stages {
                stage.parsed(ctx, &document)?;
            }
            Ok(document)
        };
        parsed.await.map_err(|mut error: ServerError| {
            // A stage may refuse the document with a code of its own.
            if code_of(&error).is_none() {
                set_code(&mut error, ErrorCode::GraphqlParseFailed);
            }
            error
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let code = |mut errors: Vec<ServerError>| {
            // A stage may refuse a valid document with a code of its own.
            for error in errors.iter_mut().filter(|error| code_of(error).is_none()) {
                set_code(error, ErrorCode::GraphqlValidationFailed);
            }
            errors
        };
        let result = next.run(ctx).await.map_err(code)?;
        if result.complexity > self.max_complexity {
            return Err(vec![coded("Query is too complex.".to_owned(), ErrorCode::QueryTooComplex)]);
        }
        for stage in &self.stages {
            stage.validated(ctx, &result).await.map_err(code)?;
        }
        Ok(result)
    }
}

/// The `extensions.code` of an error, if it has one.
pub fn code_of(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// Whether `error` carries `code`.
pub fn has_code(error: &ServerError, code: ErrorCode) -> bool {
    matches!(
        error.extensions.as_ref().and_then(|e| e.get("code")),
        Some(async_graphql::Value::String(c)) if c == code.as_str()
    )
}

/// Whether `error` refused its operation before anything ran (one of [`PRE_EXECUTION_CODES`]).
pub fn refused_before_execution(error: &ServerError) -> bool {
    PRE_EXECUTION_CODES.iter().any(|code| has_code(error, *code))
}

pub(crate) fn set_code(error: &mut ServerError, code: ErrorCode) {
    error.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        /// Fails the way an unforeseen error of ours would: converted from a foreign error type.
        async fn broken(&self) -> async_graphql::Result<i32> {
            Err(std::fmt::Error.into())
        }

        /// Takes a bounded argument.
        async fn echo(&self, #[graphql(validator(minimum = 1))] n: i32) -> i32 {
            n
        }
    }

    async fn codes(query: &str, variables: serde_json::Value) -> Vec<(String, Option<String>)> {
        let limits = ErrorCodes {
            max_nesting: 16,
            shape: ShapeLimits { max_depth: 8, max_introspection_depth: 8, max_selections: 100 },
            max_complexity: 3,
            stages: Stages::default(),
        };
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).extension(limits).finish();
        let request = Request::new(query).variables(Variables::from_json(variables));
        let response = schema.execute(request).await;
        response.errors.iter().map(|e| (e.message.clone(), code_of(e))).collect()
    }

    #[tokio::test]
    async fn an_error_without_a_code_is_internal_and_its_text_withheld() {
        let errors = codes("{ broken }", serde_json::json!({})).await;
        assert_eq!(errors, [("internal server error".to_owned(), Some("INTERNAL".to_owned()))]);
    }

    #[tokio::test]
    async fn a_bad_argument_is_bad_user_input() {
        let errors = codes("query($n: Int!) { echo(n: $n) }", serde_json::json!({ "n": 0 })).await;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].1.as_deref(), Some("BAD_USER_INPUT"), "{errors:?}");
    }

    #[tokio::test]
    async fn complexity_is_refused_by_its_measure() {
        let errors = codes("{ a: echo(n: 1) b: echo(n: 2) c: echo(n: 3) d: echo(n: 4) }", serde_json::json!({})).await;
        assert_eq!(errors, [("Query is too complex.".to_owned(), Some("QUERY_TOO_COMPLEX".to_owned()))]);
    }
}
