//! [`SettingsRuntime`]: the gateway ConfigMap's settings ([`GatewaySettings`]) in the form the request
//! path uses, compiled with each snapshot (so a changed ConfigMap applies to the next request, without a
//! restart).

use std::time::Duration;

use oxigress_ir::GatewaySettings;

use crate::compression::GzipPolicy;

/// Envoy's `max_request_headers_kb` default, used when the setting is 0.
const DEFAULT_MAX_REQUEST_HEADERS_KB: u32 = 60;

/// Instance-wide request-path settings.
#[derive(Debug)]
pub struct SettingsRuntime {
    /// Response compression, when enabled.
    pub gzip: Option<GzipPolicy>,
    /// HTTP/1 keep-alive idle timeout in seconds (pingora: 0 = no limit).
    pub keepalive_secs: u64,
    /// Largest request head (header names + values + target) in bytes; larger ⇒ 431.
    pub max_request_headers: usize,
    /// Idle time of pooled upstream connections; `None` = no limit.
    pub upstream_idle: Option<Duration>,
    /// Timeout of routes without their own.
    pub route_timeout: Option<Duration>,
    /// Send `X-Real-IP` upstream.
    pub x_real_ip: bool,
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
            max_request_headers: kb as usize * 1024,
            upstream_idle: seconds(settings.upstream.idle_timeout),
            route_timeout: seconds(settings.downstream.route_timeout),
            x_real_ip: settings.add_x_real_ip_header,
        }
    }
}

impl Default for SettingsRuntime {
    fn default() -> Self {
        Self::compile(&GatewaySettings::default())
    }
}
