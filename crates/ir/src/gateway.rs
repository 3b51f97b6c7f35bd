//! [`GatewaySettings`]: instance-wide settings from the gateway ConfigMap (Higress `higress-config`, data
//! key `higress`): response compression, downstream and upstream connection settings, `X-Real-IP`.
//! The defaults are Higress's (`pkg/ingress/kube/configmap/{gzip,global}.go`, helm `values.yaml`), so an
//! instance without a ConfigMap behaves as a Higress gateway with its chart defaults.

use serde::{Deserialize, Serialize};

/// Settings of the whole instance; the default is Higress's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewaySettings {
    /// Response compression.
    pub gzip: Gzip,
    /// Client-side connections.
    pub downstream: Downstream,
    /// Upstream connections.
    pub upstream: Upstream,
    /// Send `X-Real-IP: <client address>` upstream (replacing a client-sent one).
    pub add_x_real_ip_header: bool,
}

impl GatewaySettings {
    /// Whether these are the defaults (golden files and dumps leave them out then).
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// Gzip response compression (Envoy's compressor filter semantics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Gzip {
    /// Compress at all.
    pub enable: bool,
    /// Responses with a known `Content-Length` below this are sent as they are.
    pub min_content_length: u32,
    /// Media types (without parameters, lower case) that are compressed.
    pub content_type: Vec<String>,
    /// Responses with an `ETag` are sent as they are (otherwise a strong `ETag` is weakened).
    pub disable_on_etag_header: bool,
    /// zlib level 1 (fastest) to 9 (smallest).
    pub level: u32,
    /// zlib memory level 1–9 (validated; the deflate implementation chooses its own).
    pub memory_level: u32,
    /// zlib window bits 9–15 (validated; the deflate implementation uses 15).
    pub window_bits: u32,
    /// Compressor output chunk size in bytes (validated; output is flushed per upstream chunk).
    pub chunk_size: u32,
}

impl Default for Gzip {
    fn default() -> Self {
        Self {
            enable: true,
            min_content_length: 1024,
            content_type: [
                "text/html",
                "text/css",
                "text/plain",
                "text/xml",
                "application/json",
                "application/javascript",
                "application/xhtml+xml",
                "image/svg+xml",
            ]
            .map(String::from)
            .to_vec(),
            disable_on_etag_header: true,
            level: 9,
            memory_level: 5,
            window_bits: 12,
            chunk_size: 4096,
        }
    }
}

/// The largest request body the proxy buffers for plugins, whatever the gateway ConfigMap says (100 MiB,
/// the limit Higress's ai-proxy sets for itself): a larger `connectionBufferLimits` /
/// `initialStreamWindowSize`, or 0 (no limit in Envoy), bounds bodies at this.
pub const MAX_BUFFERED_REQUEST_BODY: u32 = 100 * 1024 * 1024;

/// The most of an upstream connection's data the proxy holds in memory: pingora reads an upstream
/// response in 64 KiB chunks and queues at most 4 of them toward the client (flow-controlled). An
/// `upstream.connectionBufferLimits` at or above this bound (Higress's default is 10 MiB) is kept.
pub const MAX_BUFFERED_UPSTREAM_DATA: u32 = 5 * 64 * 1024;

/// Client-side connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Downstream {
    /// Seconds an idle HTTP/1 keep-alive connection is kept open; 0 = no limit.
    pub idle_timeout: u32,
    /// Largest request head (all header names and values) in KiB; larger ⇒ 431.
    pub max_request_headers_kb: u32,
    /// Per-connection buffer limit in bytes: the largest HTTP/1 request body a plugin may buffer (larger ⇒
    /// 413); at most [`MAX_BUFFERED_REQUEST_BODY`] is applied.
    pub connection_buffer_limits: u32,
    /// HTTP/2 settings of new client connections.
    pub http2: Http2,
    /// Default route timeout in seconds for routes without their own; 0 = none.
    pub route_timeout: u32,
}

impl Default for Downstream {
    fn default() -> Self {
        Self {
            idle_timeout: 180,
            max_request_headers_kb: 60,
            connection_buffer_limits: 32768,
            http2: Http2::default(),
            route_timeout: 0,
        }
    }
}

/// HTTP/2 settings of client connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Http2 {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`.
    pub max_concurrent_streams: u32,
    /// `SETTINGS_INITIAL_WINDOW_SIZE`; also the largest HTTP/2 request body a plugin may buffer (Envoy
    /// bounds HTTP/2 stream buffers by it; at most [`MAX_BUFFERED_REQUEST_BODY`] is applied).
    pub initial_stream_window_size: u32,
    /// Connection-level flow-control window.
    pub initial_connection_window_size: u32,
}

impl Default for Http2 {
    fn default() -> Self {
        Self { max_concurrent_streams: 100, initial_stream_window_size: 65535, initial_connection_window_size: 1_048_576 }
    }
}

/// Upstream connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Upstream {
    /// Seconds an idle pooled upstream connection is kept; 0 = no limit.
    pub idle_timeout: u32,
    /// Per-connection buffer limit in bytes: kept when at least [`MAX_BUFFERED_UPSTREAM_DATA`] (pingora's
    /// fixed upstream buffers stay below it), not applied below it.
    pub connection_buffer_limits: u32,
}

impl Default for Upstream {
    fn default() -> Self {
        Self { idle_timeout: 10, connection_buffer_limits: 10_485_760 }
    }
}
