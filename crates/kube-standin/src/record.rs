//! The request log: one [`RequestRecord`] per API request, for tests to assert who did what.

/// One request the stand-in answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method (`GET`, `PATCH`, ...).
    pub method: String,
    /// URL path (`/apis/networking.k8s.io/v1/namespaces/a/ingresses/x/status`).
    pub path: String,
    /// Raw query string (`""` when none).
    pub query: String,
    /// The `fieldManager` query parameter, when given.
    pub field_manager: Option<String>,
    /// The `User-Agent` header, when given.
    pub user_agent: Option<String>,
    /// Which client sent it: the `x-standin-client` header ([`crate::StandIn::client`] sets it), else
    /// the `User-Agent`.
    pub client: Option<String>,
    /// HTTP status of the answer (a watch counts as 200 when its stream starts).
    pub status: u16,
}

impl RequestRecord {
    /// Whether this request changed something (POST, PUT, PATCH, DELETE) and succeeded.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && (200..300).contains(&self.status)
    }
}
