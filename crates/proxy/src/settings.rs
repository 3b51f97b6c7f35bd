//! [`SettingsRuntime`]: the gateway ConfigMap's settings ([`GatewaySettings`]) in the form the request
//! path uses, compiled with each snapshot (so a changed ConfigMap applies to the next request, without a
//! restart).

use std::time::Duration;

use oxigress_ir::GatewaySettings;
use pingora::protocols::http::v2::server::{default_h2_options, H2Options};

use crate::compression::GzipPolicy;

/// Envoy's `max_request_headers_kb` default, used when the setting is 0.
const DEFAULT_MAX_REQUEST_HEADERS_KB: u32 = 60;

/// The most of a request body the proxy buffers for plugins (and keeps, in pingora's retry buffer sized
/// per request, to send upstream), whatever the ConfigMap or a plugin asks for.
pub const MAX_BUFFERED_BODY: usize = oxigress_ir::MAX_BUFFERED_REQUEST_BODY as usize;

/// pingora's default HTTP/2 header-list bound, kept unless `maxRequestHeadersKb` asks for more.
const DEFAULT_MAX_HEADER_LIST: usize = 64 * 1024;

/// Instance-wide request-path settings.
#[derive(Debug)]
pub struct SettingsRuntime {
    /// Response compression, when enabled.
    pub gzip: Option<GzipPolicy>,
    /// HTTP/1 keep-alive idle timeout in seconds (pingora: 0 = no limit).
    pub keepalive_secs: u64,
    /// How long an HTTP/2 connection may have no stream open before it is closed (`None` = no limit);
    /// the same `downstream.idleTimeout` as HTTP/1's (Envoy's `common_http_protocol_options.idle_timeout`).
    pub h2_idle_timeout: Option<Duration>,
    /// Largest request head (header names + values + target) in bytes; larger ⇒ 431.
    pub max_request_headers: usize,
    /// Idle time of pooled upstream connections; `None` = no limit.
    pub upstream_idle: Option<Duration>,
    /// Timeout of routes without their own.
    pub route_timeout: Option<Duration>,
    /// Send `X-Real-IP` upstream.
    pub x_real_ip: bool,
    /// Largest request body a plugin may have buffered on an HTTP/1 connection (`downstream.
    /// connectionBufferLimits`, at most [`MAX_BUFFERED_BODY`], which 0 means); larger ⇒ 413.
    pub body_limit_h1: usize,
    /// The same on an HTTP/2 stream: Envoy bounds HTTP/2 stream buffers by the stream window
    /// (`downstream.http2.initialStreamWindowSize`), at most [`MAX_BUFFERED_BODY`].
    pub body_limit_h2: usize,
    /// The HTTP/2 settings a new client connection is opened with (`downstream.http2`).
    pub h2: H2Options,
}

impl SettingsRuntime {
    /// Compiles the settings of one snapshot.
    pub fn compile(settings: &GatewaySettings) -> Self {
        let seconds = |s: u32| (s > 0).then(|| Duration::from_secs(s.into()));
        let kb = match settings.downstream.max_request_headers_kb {
            0 => DEFAULT_MAX_REQUEST_HEADERS_KB,
            kb => kb,
        };
        Self {
            gzip: GzipPolicy::compile(&settings.gzip),
            keepalive_secs: settings.downstream.idle_timeout.into(),
            h2_idle_timeout: seconds(settings.downstream.idle_timeout),
            max_request_headers: kb as usize * 1024,
            upstream_idle: seconds(settings.upstream.idle_timeout),
            route_timeout: seconds(settings.downstream.route_timeout),
            x_real_ip: settings.add_x_real_ip_header,
            // why: 0 disables Envoy's buffer watermarks (no limit of its own), so only the replay cap is left.
            body_limit_h1: match settings.downstream.connection_buffer_limits {
                0 => MAX_BUFFERED_BODY,
                limit => (limit as usize).min(MAX_BUFFERED_BODY),
            },
            body_limit_h2: (settings.downstream.http2.initial_stream_window_size as usize).min(MAX_BUFFERED_BODY),
            h2: h2_options(settings, kb as usize * 1024),
        }
    }

    /// The largest request body a plugin may buffer on this kind of connection.
    pub fn body_limit(&self, http2: bool) -> usize {
        if http2 {
            self.body_limit_h2
        } else {
            self.body_limit_h1
        }
    }
}

/// pingora's bounded defaults with the ConfigMap's `downstream.http2` settings; the header-list bound is
/// raised when `maxRequestHeadersKb` allows larger heads (the exact 431 check is on the request path).
fn h2_options(settings: &GatewaySettings, max_request_headers: usize) -> H2Options {
    let http2 = &settings.downstream.http2;
    let mut options = default_h2_options();
    options
        .max_concurrent_streams(http2.max_concurrent_streams)
        .initial_window_size(http2.initial_stream_window_size)
        .initial_connection_window_size(http2.initial_connection_window_size);
    if max_request_headers > DEFAULT_MAX_HEADER_LIST {
        // h2 counts 32 bytes of overhead per header field on top of name and value.
        let bound = max_request_headers.saturating_mul(2);
        options.max_header_list_size(u32::try_from(bound).unwrap_or(u32::MAX));
    }
    options
}

impl Default for SettingsRuntime {
    fn default() -> Self {
        Self::compile(&GatewaySettings::default())
    }
}
