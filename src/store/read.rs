//! Queries behind the GraphQL API and the OCPI GET endpoints.
