//! Canary annotations (ASAP): `canary: "true"` marks an Ingress whose routes merge into the routes of the
//! base Ingress with the same host, path and match conditions (Higress `canary.go`, ingress-nginx
//! precedence header > cookie > weight). Header and cookie canaries become an extra route, tried before
//! the base route, with the base's match plus the canary condition; a weight canary sends `weight` of
//! every `canary-weight-total` requests of the base route to the canary. A canary without a base route
//! is ignored.

use oxigress_ir::{HeaderMatch, MatchKind};
use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{Diagnostic, ObjectRef};

use super::{regex_escape, Annotations};

/// What a canary Ingress asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// The header or cookie condition of the canary route (header > cookie).
    pub condition: Option<HeaderMatch>,
    /// Weighted share: (weight, total).
    pub weight: Option<(u32, u32)>,
}

/// Whether `ingress` is a canary (`canary: "true"`).
pub fn is_canary(ingress: &Ingress) -> bool {
    Annotations::new(ingress.metadata.annotations.as_ref()).asap("canary").is_some_and(|v| v.trim() == "true")
}

impl Canary {
    /// Reads the canary annotations of a canary Ingress.
    pub fn parse(annotations: &Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Self {
        let text = |key: &str| annotations.asap(key).map(str::trim).filter(|v| !v.is_empty());
        let condition = if let Some(header) = text("canary-by-header") {
            let name = header.to_ascii_lowercase();
            Some(if let Some(value) = text("canary-by-header-value") {
                HeaderMatch { name, kind: MatchKind::Regex, value: format!("always|{}", regex_escape(value)) }
            } else if let Some(pattern) = text("canary-by-header-pattern") {
                HeaderMatch { name, kind: MatchKind::Regex, value: format!(".*{pattern}.*") }
            } else {
                HeaderMatch { name, kind: MatchKind::Exact, value: "always".into() }
            })
        } else {
            text("canary-by-cookie").map(|cookie| HeaderMatch {
                name: "cookie".into(),
                kind: MatchKind::Regex,
                value: format!(r"(.*?;\s*)?({}=always)(;.*)?", regex_escape(cookie)),
            })
        };
        let mut number = |key: &str, default: u32| match text(key) {
            None => Some(default),
            Some(v) => v.parse::<u32>().ok().or_else(|| {
                diagnostics.push(super::invalid_annotation(object, format!("{key}: {v:?} is not a whole number")));
                None
            }),
        };
        let total = number("canary-weight-total", 100).filter(|t| *t > 0).unwrap_or(100);
        let weight = match text("canary-weight") {
            None => None,
            Some(_) => number("canary-weight", 0).map(|w| (w.min(total), total)),
        };
        Self { condition, weight }
    }
}
