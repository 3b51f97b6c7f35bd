//! WasmPlugin objects → [`PluginInstance`]s in execution order, and per route the configurations that may
//! apply ([`RoutePlugin`]).
//!
//! why (Higress `ingress_config.go` `convertIstioWasmPlugin`, Istio `push_context.go`, wasm-go
//! `rule_matcher.go`): an instance uses the WasmPlugins of its own namespace; `pluginConfig`, when set, is
//! used verbatim (its `_rules_` become rules); `configDisable` drops a rule; `defaultConfigDisable` drops
//! the global configuration; a rule without ingress, domain or service is an error that keeps the previous
//! version of the whole plugin; order is creation time, then phase (AUTHN, AUTHZ, STATS, UNSPECIFIED),
//! then priority (higher first, none last); at request time the **first matching rule wins**, else the
//! global configuration. A rule with `ingress` matches by route name only (plus `service` when given).
//! A global configuration with no key besides `_rules_` is no global configuration when rules exist (wasm-go
//! `ParseRuleConfig` `keyCount`). Plugins that Higress parses with `ParseOverrideConfigBy` (`key-auth`,
//! `basic-auth`) build each rule from the global configuration: the registry's `effective_global_config` /
//! `effective_rule_config` give the configurations the instances are built from (and the IR keeps).
//!
//! oxigress fixes: several instances sharing a namespace pick their plugins with the label
//! `oxigress.io/instance` (Higress applies every plugin of the namespace to every instance there);
//! `ingress` entries accept `ns/*` globs; the plugin namespace is read even when it is not watched.

use oxigress_ir::{Phase, PluginInstance, PluginRule, Route, RoutePlugin, RouteRule, Snapshot, SourceRef, VirtualHost};
use oxigress_objects::wasm_plugin::{MatchRule, WasmPlugin};
use oxigress_objects::{Diagnostic, ObjectRef, Resources};
use serde_json::Value;

use crate::options::InstanceOptions;
use crate::select::instance_label_matches;

/// The plugins this instance applies, in execution order. A plugin whose configuration is invalid keeps
/// its version from `previous` (the last good snapshot), if any.
pub fn plugins(
    resources: &Resources,
    options: &InstanceOptions,
    previous: Option<&Snapshot>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<PluginInstance> {
    let mut selected: Vec<&WasmPlugin> = resources
        .wasm_plugins
        .values()
        .filter(|p| p.metadata.namespace.as_deref() == Some(options.instance_namespace.as_str()))
        .filter(|p| instance_label_matches(p.metadata.labels.as_ref(), options))
        .collect();
    selected.sort_by_cached_key(|p| {
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second());
        (created, p.metadata.name.clone().unwrap_or_default())
    });
    let mut out = Vec::new();
    for plugin in selected {
        let object = ObjectRef::new(
            "WasmPlugin",
            plugin.metadata.namespace.as_deref().unwrap_or(""),
            plugin.metadata.name.as_deref().unwrap_or(""),
        );
        let id = object.key().to_string();
        let fail_open = plugin.spec.fail_strategy.as_deref() == Some("FAIL_OPEN");
        // A version that failed itself is no last good version.
        let previous_version = || {
            previous
                .and_then(|s| s.plugins.iter().find(|p| p.id == id))
                .filter(|p| p.failed.is_none() && p.rules.iter().all(|r| r.failed.is_none()))
                .cloned()
        };
        match convert(plugin, &object, diagnostics) {
            Ok(Some(instance)) if instance.rules.iter().all(|r| r.failed.is_none()) => out.push(instance),
            Ok(Some(instance)) => {
                let kept = previous_version();
                let failed = instance.rules.iter().filter_map(|r| r.failed.as_deref());
                let suffix = match (&kept, fail_open) {
                    (Some(_), _) => "; its last good version stays active",
                    (None, true) => "; requests this rule matches bypass the plugin (failStrategy FAIL_OPEN)",
                    (None, false) => "; requests this rule matches are answered 503 (failStrategy FAIL_CLOSE)",
                };
                for problem in failed {
                    diagnostics.push(Diagnostic::error("InvalidWasmPlugin", Some(object.clone()), format!("{problem}{suffix}")));
                }
                out.push(kept.unwrap_or(instance));
            }
            Ok(None) => {}
            Err(problem) => {
                let kept = previous_version();
                let suffix = match (&kept, fail_open) {
                    (Some(_), _) => "; its last good version stays active",
                    (None, true) => "; not applied (failStrategy FAIL_OPEN)",
                    (None, false) => "; every request is answered 503 until it is fixed (failStrategy FAIL_CLOSE)",
                };
                diagnostics.push(Diagnostic::error("InvalidWasmPlugin", Some(object.clone()), format!("{problem}{suffix}")));
                match kept {
                    Some(kept) => out.push(kept),
                    None if !fail_open => out.push(failed_closed(plugin, &object, problem)),
                    None => {}
                }
            }
        }
    }
    // Stable: creation order within equal phase and priority.
    out.sort_by_key(|p| (p.phase, std::cmp::Reverse(p.priority.unwrap_or(i32::MIN))));
    out
}

/// One WasmPlugin → a plugin instance (`None` when it applies nowhere), or the first problem found.
fn convert(plugin: &WasmPlugin, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Result<Option<PluginInstance>, String> {
    let spec = &plugin.spec;
    let builtin = builtin_name(&spec.url).map_err(|e| format!("spec.url: {e}"))?;
    let phase = phase(plugin).unwrap_or_else(|other| {
        diagnostics.push(Diagnostic::warning(
            "InvalidWasmPlugin",
            Some(object.clone()),
            format!("spec.phase: unknown phase {other:?}, using UNSPECIFIED_PHASE"),
        ));
        Phase::Unspecified
    });
    let (raw_default, match_rules, base, default_field) = match &spec.plugin_config {
        Some(raw) => {
            let (default, rules) = split_raw_config(raw).map_err(|e| format!("spec.pluginConfig: {e}"))?;
            (Some(default), rules, "spec.pluginConfig._rules_", "spec.pluginConfig")
        }
        None => (spec.default_config.clone(), spec.match_rules.clone(), "spec.matchRules", "spec.defaultConfig"),
    };
    let mut kept = Vec::new();
    for (i, rule) in match_rules.iter().enumerate() {
        if rule.config_disable == Some(true) {
            continue;
        }
        if rule.ingress.is_empty() && rule.domain.is_empty() && rule.service.is_empty() {
            return Err(format!("{base}[{i}]: invalid match rule has no match condition"));
        }
        kept.push((i, rule));
    }
    let has_rules = !kept.is_empty();
    // why (wasm-go `ParseRuleConfig`, C++ `parseRuleConfig`): a global configuration without any key next
    // to `_rules_` is no global configuration when rules exist.
    let written_default = if spec.default_config_disable == Some(true) {
        None
    } else {
        Some(raw_default.unwrap_or(Value::Object(Default::default()))).filter(|c| !has_rules || !is_empty_config(c))
    };
    // why (wasm-go `ParseOverrideConfigBy`): some plugins derive their rules' configurations from the
    // global one (see `registry::effective_rule_config`).
    let default_config = match written_default
        .as_ref()
        .map(|c| oxigress_plugins::registry::effective_global_config(&builtin, c, has_rules))
    {
        None => None,
        Some(config) => match oxigress_plugins::registry::validate(&builtin, &config) {
            Ok(()) => Some(config),
            // why (wasm-go `ParseRuleConfig`): a global configuration that does not parse next to rules
            // only disables the global configuration.
            Err(e) if has_rules => {
                diagnostics.push(Diagnostic::warning(
                    "InvalidWasmPlugin",
                    Some(object.clone()),
                    format!("{}; the global configuration is disabled, the rules apply", at(default_field, &e)),
                ));
                None
            }
            Err(e) => return Err(at(default_field, &e)),
        },
    };
    let mut rules = Vec::new();
    for (i, rule) in kept {
        let field = format!("{base}[{i}].config");
        let written = rule.config.clone().unwrap_or(Value::Object(Default::default()));
        let checked = oxigress_plugins::registry::effective_rule_config(&builtin, written_default.as_ref(), &written)
            .and_then(|config| oxigress_plugins::registry::validate(&builtin, &config).map(|()| config));
        let (config, failed) = match checked {
            Ok(config) => (config, None),
            Err(e) => (Value::Null, Some(at(&field, &e))),
        };
        rules.push(PluginRule {
            ingress: rule.ingress.clone(),
            domain: rule.domain.clone(),
            service: rule.service.clone(),
            config,
            failed,
        });
    }
    if rules.is_empty() && default_config.is_none() {
        return Ok(None);
    }
    Ok(Some(PluginInstance {
        id: object.key().to_string(),
        builtin,
        source: SourceRef { kind: "WasmPlugin".into(), namespace: object.namespace.clone(), name: object.name.clone() },
        phase,
        priority: spec.priority,
        fail_open: spec.fail_strategy.as_deref() == Some("FAIL_OPEN"),
        default_config,
        rules,
        failed: None,
    }))
}

/// `spec.phase`, or the unknown value.
fn phase(plugin: &WasmPlugin) -> Result<Phase, String> {
    match plugin.spec.phase.as_deref().unwrap_or("UNSPECIFIED_PHASE") {
        "AUTHN" => Ok(Phase::Authn),
        "AUTHZ" => Ok(Phase::Authz),
        "STATS" => Ok(Phase::Stats),
        "UNSPECIFIED_PHASE" | "UNSPECIFIED" | "" => Ok(Phase::Unspecified),
        other => Err(other.to_string()),
    }
}

/// A `FAIL_CLOSE` plugin that could not be configured at all: on every route, answering 503.
fn failed_closed(plugin: &WasmPlugin, object: &ObjectRef, problem: String) -> PluginInstance {
    PluginInstance {
        id: object.key().to_string(),
        builtin: builtin_name(&plugin.spec.url).unwrap_or_else(|_| "unknown".into()),
        source: SourceRef { kind: "WasmPlugin".into(), namespace: object.namespace.clone(), name: object.name.clone() },
        phase: phase(plugin).unwrap_or(Phase::Unspecified),
        priority: plugin.spec.priority,
        fail_open: false,
        default_config: Some(Value::Null),
        rules: Vec::new(),
        failed: Some(problem),
    }
}

/// `null` or `{}`.
fn is_empty_config(config: &Value) -> bool {
    config.is_null() || config.as_object().is_some_and(|m| m.is_empty())
}

fn at(field: &str, error: &oxigress_plugins::ConfigError) -> String {
    if error.field.is_empty() {
        format!("{field}: {}", error.message)
    } else {
        format!("{field}.{}: {}", error.field, error.message)
    }
}

/// `pluginConfig` as the Wasm SDK reads it: `_rules_` entries with `_match_route_`, `_match_domain_`,
/// `_match_service_`; the rest is the global configuration.
fn split_raw_config(raw: &Value) -> Result<(Value, Vec<MatchRule>), String> {
    let Value::Object(map) = raw else { return Err("must be an object".into()) };
    let mut default = map.clone();
    let mut rules = Vec::new();
    if let Some(raw_rules) = default.remove("_rules_") {
        let Value::Array(items) = raw_rules else { return Err("_rules_ must be a list".into()) };
        for item in items {
            let Value::Object(mut rule) = item else { return Err("_rules_ entries must be objects".into()) };
            let list = |rule: &mut serde_json::Map<String, Value>, key: &str| -> Vec<String> {
                match rule.remove(key) {
                    Some(Value::Array(v)) => v.into_iter().filter_map(|s| s.as_str().map(String::from)).collect(),
                    _ => Vec::new(),
                }
            };
            let ingress = list(&mut rule, "_match_route_");
            let domain = list(&mut rule, "_match_domain_");
            let service = list(&mut rule, "_match_service_");
            rules.push(MatchRule { ingress, domain, service, config: Some(Value::Object(rule)), config_disable: None });
        }
    }
    Ok((Value::Object(default), rules))
}

/// The built-in plugin a WasmPlugin `url` names.
///
/// `oci://…/plugins/<name>:<tag>` selects the built-in `<name>` (Higress image prefixes `go-`, `cpp-`,
/// `rust-`, `wasm-` are dropped). Until the Wasm host lands, a `file://` or `http(s)://` URL of one of
/// Higress's own plugin modules (`…/<name>/plugin.wasm` or `…/<name>.wasm`) selects the built-in too.
pub fn builtin_name(url: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("oci", url));
    let name = match scheme {
        "oci" => {
            let last = rest.rsplit('/').next().unwrap_or(rest);
            last.split(['@', ':']).next().unwrap_or(last).to_string()
        }
        "file" | "http" | "https" => {
            let path = rest.split(['?', '#']).next().unwrap_or(rest);
            let mut segments = path.rsplit('/');
            let file = segments.next().unwrap_or("");
            match file.strip_suffix(".wasm") {
                Some("plugin") | Some("main") => segments.next().unwrap_or("").to_string(),
                Some(stem) => stem.to_string(),
                None => return Err(format!("{url:?} is not a Wasm module")),
            }
        }
        other => return Err(format!("unsupported scheme {other:?}")),
    };
    let name = name.replace('_', "-");
    let name = ["go-", "cpp-", "rust-", "wasm-"].iter().find_map(|p| name.strip_prefix(p)).unwrap_or(&name).to_string();
    if oxigress_plugins::registry::is_builtin(&name) {
        Ok(name)
    } else {
        Err(format!("{url:?} names plugin {name:?}, which is not built in (Wasm modules are not loaded yet)"))
    }
}

/// Fills `route.plugins` of every route.
pub fn attach(plugins: &[PluginInstance], virtual_hosts: &mut [VirtualHost], instance_namespace: &str) {
    if plugins.is_empty() {
        return;
    }
    for vhost in virtual_hosts {
        for route in &mut vhost.routes {
            route.plugins = plugins.iter().filter_map(|p| on_route(p, route, &vhost.host, instance_namespace)).collect();
        }
    }
}

fn on_route(plugin: &PluginInstance, route: &Route, host: &str, instance_namespace: &str) -> Option<RoutePlugin> {
    let mut rules = Vec::new();
    for (index, rule) in plugin.rules.iter().enumerate() {
        let candidate = if !rule.ingress.is_empty() {
            let by_route = rule.ingress.iter().any(|i| ingress_matches(i, route, instance_namespace));
            let by_service = rule.service.is_empty() || rule.service.iter().any(|s| service_matches(s, route));
            (by_route && by_service).then(Vec::new)
        } else if !rule.domain.is_empty() {
            domain_candidate(&rule.domain, host)
        } else {
            rule.service.iter().any(|s| service_matches(s, route)).then(Vec::new)
        };
        if let Some(hosts) = candidate {
            let unconditional = hosts.is_empty();
            rules.push(RouteRule { rule: index, hosts });
            if unconditional {
                break;
            }
        }
    }
    let default = plugin.default_config.is_some();
    if rules.is_empty() && !default {
        return None;
    }
    Some(RoutePlugin { plugin: plugin.id.clone(), rules, default })
}

/// For a route of virtual host `host`: `Some(vec![])` if the domain rule always applies, `Some(patterns)`
/// if it must be checked per request, `None` if it never applies.
fn domain_candidate(domains: &[String], host: &str) -> Option<Vec<String>> {
    if !host.contains('*') {
        let patterns: Vec<_> = domains.iter().map(|d| oxigress_plugins::HostPattern::parse(d)).collect();
        return patterns.iter().any(|p| p.matches(host)).then(Vec::new);
    }
    if domains.iter().any(|d| d == host) {
        return Some(Vec::new());
    }
    Some(domains.to_vec())
}

/// `ns/name` (or bare `name` in the instance namespace), `ns/*`, or `*`.
fn ingress_matches(entry: &str, route: &Route, instance_namespace: &str) -> bool {
    if entry == "*" || entry == route.name {
        return true;
    }
    if let Some(namespace) = entry.strip_suffix("/*") {
        return route.source.namespace == namespace;
    }
    // `ns/name` also names an Ingress of the instance namespace, whose route name is bare.
    entry.split_once('/').is_some_and(|(ns, name)| {
        ns == instance_namespace && route.source.namespace == ns && route.name == name
    })
}

/// `svc.ns.svc.cluster.local` or with `:port`, against the route's cluster `ns/svc:port`.
fn service_matches(entry: &str, route: &Route) -> bool {
    let oxigress_ir::RouteAction::Forward(forward) = &route.action;
    let Some((ns_svc, port)) = forward.cluster.rsplit_once(':') else { return false };
    let Some((ns, svc)) = ns_svc.split_once('/') else { return false };
    let fqdn = format!("{svc}.{ns}.svc.cluster.local");
    entry == fqdn || entry == format!("{fqdn}:{port}")
}


#[cfg(test)]
mod tests;
