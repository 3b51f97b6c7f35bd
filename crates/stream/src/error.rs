//! The errors of the stream crate: bad configuration (address, token, TLS) and a failed link.

/// What can go wrong setting up or running a snapshot stream.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The controller address is not a valid URI.
    #[error("invalid controller address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// The token cannot be sent as an HTTP header value.
    #[error("the token must be visible ASCII")]
    Token,
    /// Connecting, TLS setup or serving failed.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The other side ended the stream with an error status.
    #[error("{}: {}", .0.code(), .0.message())]
    Status(Box<tonic::Status>),
}

impl From<tonic::Status> for StreamError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(Box::new(status))
    }
}
