//! GraphQL errors, each with a stable `extensions.code`.

use async_graphql::{ErrorExtensions, Response, Value};

/// Input the client can fix: a bad cursor, id or page size.
pub fn bad_user_input(message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT"))
}

/// Our fault; the cause is logged here once and never sent to the client.
pub fn internal(err: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %err, "graphql read failed");
    async_graphql::Error::new("internal error")
        .extend_with(|_, ext| ext.set("code", "INTERNAL_SERVER_ERROR"))
}

/// Gives every error of a response a code, including those async-graphql
/// raises itself while parsing, validating and coercing input.
pub fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        // Errors without a path happen before execution: the document or
        // its variables are wrong. With a path, an argument failed to coerce.
        let code = if error.path.is_empty() {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "BAD_USER_INPUT"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", Value::from(code));
    }
    response
}
