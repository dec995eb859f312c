//! GraphQL errors, each with a stable `extensions.code`.
//!
//! Resolvers raise the codes below through these helpers; errors that
//! async-graphql raises itself (parse, validation, limits, coercion) are
//! given theirs by the request hooks (`hooks`): parse errors as they parse,
//! the others by `with_codes` before a response leaves the server.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, Response, ServerError, ServerResult, Value};

/// Input the client can fix: a bad cursor, id, page size or argument.
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
/// The document does not parse.
pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// The document does not validate against the schema.
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// The document is more complex than the configured limit.
pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
/// The document nests deeper than the configured limit.
pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
/// An automatic persisted query's hash is not in the cache: send the query.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// The request needs credentials it did not bring.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
/// The credentials do not allow this.
pub const FORBIDDEN: &str = "FORBIDDEN";
/// A mutation or subscription sent with GET, or a subscription over HTTP.
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// Our fault.
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";

fn coded(message: impl Into<String>, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code))
}

/// Input the client can fix: a bad cursor, id, page size or argument.
pub fn bad_user_input(message: impl Into<String>) -> async_graphql::Error {
    coded(message, BAD_USER_INPUT)
}

/// The credentials do not allow this, e.g. operator data for a party caller.
pub fn forbidden(message: impl Into<String>) -> async_graphql::Error {
    coded(message, FORBIDDEN)
}

/// Our fault; the cause is logged here once and never sent to the client.
pub fn internal(err: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %err, "graphql read failed");
    coded("internal error", INTERNAL_SERVER_ERROR)
}

/// The code of an error, when it has one.
pub fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        _ => None,
    }
}

fn set_code(error: &mut ServerError, code: &str) {
    if code_of(error).is_none() {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", Value::from(code));
    }
}

/// The code of an error async-graphql raised while validating a document.
fn validation_code(message: &str) -> &'static str {
    if message == "Query is too complex." {
        QUERY_TOO_COMPLEX
    } else if message == "Query is nested too deep." {
        QUERY_TOO_DEEP
    } else if message.starts_with("Invalid value for argument")
        || (message.starts_with("Variable") && message.contains("must not be null"))
    {
        // Argument and variable values that do not coerce to their types.
        BAD_USER_INPUT
    } else {
        GRAPHQL_VALIDATION_FAILED
    }
}

/// Gives a parse error its code.
pub fn parse_failed(mut err: ServerError) -> ServerError {
    set_code(&mut err, GRAPHQL_PARSE_FAILED);
    err
}

fn asks_introspection(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => matches!(f.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(i) => asks_introspection(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

/// Refuses `__schema` and `__type` when introspection is switched off
/// (async-graphql would answer them with null, which looks like an empty
/// schema rather than a refusal).
pub fn refuse_introspection(doc: &ExecutableDocument) -> ServerResult<()> {
    let in_operations = doc
        .operations
        .iter()
        .any(|(_, op)| asks_introspection(&op.node.selection_set.node));
    let in_fragments = doc
        .fragments
        .values()
        .any(|f| asks_introspection(&f.node.selection_set.node));
    if in_operations || in_fragments {
        let mut err = ServerError::new("introspection is disabled on this server", None);
        set_code(&mut err, GRAPHQL_VALIDATION_FAILED);
        return Err(err);
    }
    Ok(())
}

/// Whether a response refuses the request as a whole: it never reached
/// execution, so it has no data and none of its errors has a path. (A field
/// error that nulled the whole data still has its path.)
pub fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Gives every error of a response a code: validation and limit errors,
/// coercion errors, unknown operations, persisted queries.
pub fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        if code_of(error).is_some() {
            continue;
        }
        let code = if error.message == "PersistedQueryNotFound" {
            PERSISTED_QUERY_NOT_FOUND
        } else if !error.path.is_empty() {
            // With a path, an argument failed to coerce during execution.
            BAD_USER_INPUT
        } else if error.message.contains("PersistedQuery")
            || error.message == "provided sha does not match query"
        {
            BAD_USER_INPUT
        } else {
            // No path: the document was refused before execution.
            validation_code(&error.message)
        };
        set_code(error, code);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_map_to_codes() {
        assert_eq!(validation_code("Query is too complex."), QUERY_TOO_COMPLEX);
        assert_eq!(validation_code("Query is nested too deep."), QUERY_TOO_DEEP);
        assert_eq!(
            validation_code("Invalid value for argument \"first\", expected type \"Int\""),
            BAD_USER_INPUT
        );
        assert_eq!(
            validation_code("Unknown field \"x\" on type \"Query\"."),
            GRAPHQL_VALIDATION_FAILED
        );
    }
}
