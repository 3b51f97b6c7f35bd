//! The shared bearer token: the client adds `authorization: Bearer <token>`, the server compares it in
//! constant time.

use subtle::ConstantTimeEq;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::Status;

use crate::StreamError;

/// The `authorization` header value for `token`.
pub(crate) fn bearer(token: &str) -> Result<AsciiMetadataValue, StreamError> {
    format!("Bearer {token}").parse().map_err(|_| StreamError::Token)
}

/// Checks the request's token against `expected` (no token configured: everything passes).
pub(crate) fn check(expected: Option<&str>, metadata: &MetadataMap) -> Result<(), Status> {
    let Some(expected) = expected else { return Ok(()) };
    let presented = metadata
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(Status::unauthenticated("invalid bearer token"))
    }
}
