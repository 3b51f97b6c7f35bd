//! The gateway ConfigMap (Higress `higress-config`, data key `higress`, YAML) → [`GatewaySettings`].
//!
//! Which ConfigMap: in the instance namespace, `<instance-name>-config` (what the chart's release-scoped
//! name is: the release name is the instance name), else Higress's fixed `higress-config`; one labelled
//! `oxigress.io/instance` for another instance is skipped (instances sharing a namespace).
//!
//! why (Higress `pkg/ingress/kube/configmap/controller.go`, `gzip.go`, `global.go`): the YAML is read onto
//! the defaults, so a key left out keeps its default (also inside `gzip`, `downstream`, …); the whole
//! configuration is validated, and an invalid one changes nothing: here a diagnostic, and the last good
//! settings (from the previous snapshot) stay.

use oxigress_ir::{Downstream, GatewaySettings, Gzip, Snapshot, Upstream, MAX_BUFFERED_REQUEST_BODY, MAX_BUFFERED_UPSTREAM_DATA};
use oxigress_objects::k8s_openapi::api::core::v1::ConfigMap;
use oxigress_objects::{Diagnostic, ObjectKey, ObjectRef, Resources};
use serde::Deserialize;

use crate::options::InstanceOptions;
use crate::select::instance_label_matches;

/// Higress's fixed ConfigMap name.
pub const HIGRESS_CONFIG_MAP: &str = "higress-config";
/// The data key holding the YAML.
pub const DATA_KEY: &str = "higress";

/// The instance's settings: from its ConfigMap, else Higress's defaults; an invalid ConfigMap keeps the
/// settings of `previous`.
pub fn settings(
    resources: &Resources,
    options: &InstanceOptions,
    previous: Option<&Snapshot>,
    diagnostics: &mut Vec<Diagnostic>,
) -> GatewaySettings {
    let Some(config_map) = config_map(resources, options) else {
        return GatewaySettings::default();
    };
    let object = ObjectRef::new(
        "ConfigMap",
        config_map.metadata.namespace.as_deref().unwrap_or(""),
        config_map.metadata.name.as_deref().unwrap_or(""),
    );
    let Some(text) = config_map.data.as_ref().and_then(|d| d.get(DATA_KEY)) else {
        return GatewaySettings::default();
    };
    match parse(text, &object, diagnostics) {
        Ok(settings) => settings,
        Err(problem) => {
            let kept = previous.map(|p| p.settings.clone());
            let suffix = if kept.is_some() { "; the last good settings stay" } else { "; Higress's defaults apply" };
            diagnostics.push(Diagnostic::warning(
                "InvalidGatewayConfig",
                Some(object),
                format!("data.{DATA_KEY}: {problem}{suffix}"),
            ));
            kept.unwrap_or_default()
        }
    }
}

/// The ConfigMap this instance reads, if any.
pub fn config_map<'r>(resources: &'r Resources, options: &InstanceOptions) -> Option<&'r ConfigMap> {
    let own = format!("{}-config", options.instance_name);
    let found = [own.as_str(), HIGRESS_CONFIG_MAP].into_iter().find_map(|name| {
        resources
            .config_maps
            .get(&ObjectKey::new(options.instance_namespace.as_str(), name))
            .filter(|c| instance_label_matches(c.metadata.labels.as_ref(), options))
    });
    found
}

/// The `higress` key as Higress reads it (unknown keys ignored, as Go's JSON decoding).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct HigressConfig {
    gzip: Option<GzipInput>,
    downstream: Option<Downstream>,
    upstream: Option<Upstream>,
    add_x_real_ip_header: bool,
    /// Accepted: oxigress never adds `x-envoy-*` headers.
    #[allow(dead_code)]
    disable_x_envoy_headers: bool,
    tracing: Option<serde_yaml_ng::Value>,
    mcp_server: Option<serde_yaml_ng::Value>,
}

/// Higress's `Gzip` with its defaults (`NewDefaultGzip`).
#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GzipInput {
    enable: bool,
    min_content_length: i64,
    content_type: Vec<String>,
    disable_on_etag_header: bool,
    memory_level: i64,
    window_bits: i64,
    chunk_size: i64,
    compression_level: String,
    compression_strategy: String,
}

impl Default for GzipInput {
    fn default() -> Self {
        let gzip = Gzip::default();
        Self {
            enable: gzip.enable,
            min_content_length: gzip.min_content_length.into(),
            content_type: gzip.content_type,
            disable_on_etag_header: gzip.disable_on_etag_header,
            memory_level: gzip.memory_level.into(),
            window_bits: gzip.window_bits.into(),
            chunk_size: gzip.chunk_size.into(),
            compression_level: "BEST_COMPRESSION".into(),
            compression_strategy: "DEFAULT_STRATEGY".into(),
        }
    }
}

const STRATEGIES: &[&str] = &["DEFAULT_STRATEGY", "FILTERED", "HUFFMAN_ONLY", "RLE", "FIXED"];

/// Parses and validates; settings that are valid but have no effect in oxigress are reported.
fn parse(text: &str, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Result<GatewaySettings, String> {
    let config: HigressConfig = if text.trim().is_empty() {
        HigressConfig::default()
    } else {
        serde_yaml_ng::from_str::<Option<HigressConfig>>(text).map_err(|e| e.to_string())?.unwrap_or_default()
    };
    let gzip = gzip(config.gzip.unwrap_or_default())?;
    let downstream = config.downstream.unwrap_or_default();
    validate_downstream(&downstream)?;
    let upstream = config.upstream.unwrap_or_default();
    let mut report = |what: String| {
        diagnostics.push(Diagnostic::warning(
            "PartialGatewayConfig",
            Some(object.clone()),
            format!("data.{DATA_KEY}: {what} (docs/gateway-config.md)"),
        ))
    };
    let buffer_limits = downstream.connection_buffer_limits;
    if buffer_limits == 0 || buffer_limits > MAX_BUFFERED_REQUEST_BODY {
        report(format!(
            "downstream.connectionBufferLimits {buffer_limits} is applied as {MAX_BUFFERED_REQUEST_BODY}: oxigress \
             buffers at most 100 MiB of a request body for plugins"
        ));
    }
    let upstream_limit = upstream.connection_buffer_limits;
    if upstream_limit != 0 && upstream_limit < MAX_BUFFERED_UPSTREAM_DATA {
        report(format!(
            "upstream.connectionBufferLimits {upstream_limit} is not applied: oxigress may hold up to \
             {MAX_BUFFERED_UPSTREAM_DATA} bytes of an upstream connection's data (64 KiB reads, 4 queued)"
        ));
    }
    let mut partial = |what: &str| report(format!("{what} is accepted but has no effect in oxigress"));
    let defaults = GatewaySettings::default();
    if (gzip.memory_level, gzip.window_bits, gzip.chunk_size)
        != (defaults.gzip.memory_level, defaults.gzip.window_bits, defaults.gzip.chunk_size)
    {
        partial("gzip.memoryLevel/windowBits/chunkSize");
    }
    if config.tracing.is_some() {
        partial("tracing");
    }
    if config.mcp_server.is_some() {
        partial("mcpServer");
    }
    Ok(GatewaySettings { gzip, downstream, upstream, add_x_real_ip_header: config.add_x_real_ip_header })
}

/// Higress `validGzip`, then the IR form (level as a number, media types lower case).
fn gzip(input: GzipInput) -> Result<Gzip, String> {
    if input.min_content_length <= 0 {
        return Err("gzip.minContentLength must be greater than zero".into());
    }
    if input.content_type.is_empty() {
        return Err("gzip.contentType must not be empty".into());
    }
    if !(1..=9).contains(&input.memory_level) {
        return Err("gzip.memoryLevel must be between 1 and 9".into());
    }
    if !(9..=15).contains(&input.window_bits) {
        return Err("gzip.windowBits must be between 9 and 15".into());
    }
    if input.chunk_size <= 0 {
        return Err("gzip.chunkSize must be greater than zero".into());
    }
    let level = match input.compression_level.as_str() {
        "BEST_COMPRESSION" => 9,
        "BEST_SPEED" => 1,
        other => other
            .strip_prefix("COMPRESSION_LEVEL_")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=9).contains(n))
            .ok_or_else(|| {
                format!("gzip.compressionLevel {other:?} is not BEST_COMPRESSION, BEST_SPEED or COMPRESSION_LEVEL_1..9")
            })?,
    };
    if !STRATEGIES.contains(&input.compression_strategy.as_str()) {
        return Err(format!("gzip.compressionStrategy must be one of {}", STRATEGIES.join(",")));
    }
    let number = |n: i64| u32::try_from(n).map_err(|_| format!("gzip value {n} is too large"));
    Ok(Gzip {
        enable: input.enable,
        min_content_length: number(input.min_content_length)?,
        content_type: input.content_type.iter().map(|t| t.trim().to_ascii_lowercase()).collect(),
        disable_on_etag_header: input.disable_on_etag_header,
        level,
        memory_level: number(input.memory_level)?,
        window_bits: number(input.window_bits)?,
        chunk_size: number(input.chunk_size)?,
    })
}

/// Higress `validGlobal`.
fn validate_downstream(downstream: &Downstream) -> Result<(), String> {
    if downstream.max_request_headers_kb > 8192 {
        return Err("downstream.maxRequestHeadersKb must be at most 8192".into());
    }
    let http2 = &downstream.http2;
    if !(1..=2_147_483_647).contains(&http2.max_concurrent_streams) {
        return Err("downstream.http2.maxConcurrentStreams must be between 1 and 2147483647".into());
    }
    if !(65535..=2_147_483_647).contains(&http2.initial_stream_window_size) {
        return Err("downstream.http2.initialStreamWindowSize must be between 65535 and 2147483647".into());
    }
    if !(65535..=2_147_483_647).contains(&http2.initial_connection_window_size) {
        return Err("downstream.http2.initialConnectionWindowSize must be between 65535 and 2147483647".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
