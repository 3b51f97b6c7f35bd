//! The Higress `WasmPlugin` custom resource (`extensions.higress.io/v1alpha1`), field for field as its
//! CRD (`api/extensions/v1alpha1/wasmplugin.proto`), so existing Higress YAML loads unchanged.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `apiVersion` of WasmPlugin.
pub const API_VERSION: &str = "extensions.higress.io/v1alpha1";

/// A WasmPlugin object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmPlugin {
    /// Always `extensions.higress.io/v1alpha1`.
    pub api_version: String,
    /// Always `WasmPlugin`.
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: WasmPluginSpec,
}

/// `spec` of a WasmPlugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmPluginSpec {
    /// `oci://…/<name>:<tag>`, `file://…`, `http(s)://…`; no scheme means `oci://`.
    #[serde(default)]
    pub url: String,
    /// Module checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `IfNotPresent` / `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// Pull secret name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
    /// Raw plugin configuration; when set, `defaultConfig` and `matchRules` are ignored (as Higress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_config: Option<Value>,
    /// Envoy `root_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_name: Option<String>,
    /// `UNSPECIFIED_PHASE`, `AUTHN`, `AUTHZ`, `STATS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Higher runs first within a phase; absent runs last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `FAIL_CLOSE` (default) or `FAIL_OPEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_strategy: Option<String>,
    /// Global configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<Value>,
    /// Per-Ingress / domain / service configurations, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_rules: Vec<MatchRule>,
    /// Disables the global configuration (rules still apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config_disable: Option<bool>,
}

/// One entry of `matchRules`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchRule {
    /// Route names: `ns/name` (bare `name` in the instance namespace); `ns/*` globs accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<String>,
    /// Hosts: exact, `*.suffix` or `prefix*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain: Vec<String>,
    /// Services: `fqdn` or `fqdn:port`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<String>,
    /// Configuration for matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Drops this rule (Higress: the rule is skipped, the plugin is not disabled for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_disable: Option<bool>,
}
