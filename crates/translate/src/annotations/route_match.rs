//! `higress.io/{exact|prefix|regex}-match-{header|pseudo-header|query}-<name>` and `higress.io/match-method`
//! (H only): extra conditions added to every route of the Ingress, and part of its conflict key.

use oxigress_ir::{HeaderMatch, MatchKind};
use oxigress_objects::{Diagnostic, ObjectRef};

use super::Annotations;

/// Extra match conditions from annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteMatchExtras {
    /// Header matches (pseudo-headers as `:name`), sorted by name.
    pub headers: Vec<HeaderMatch>,
    /// Query parameter matches, sorted by name.
    pub query: Vec<HeaderMatch>,
    /// Allowed methods (upper case), sorted.
    pub methods: Vec<String>,
}

impl RouteMatchExtras {
    /// Reads the match annotations.
    pub fn parse(annotations: &Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Self {
        let mut extras = Self::default();
        for (key, value) in annotations.higress_only() {
            if key == "match-method" {
                extras.methods = value.split_whitespace().map(str::to_ascii_uppercase).collect();
                continue;
            }
            let Some((kind, rest)) = split_kind(key) else { continue };
            let (target, name) = if let Some(name) = rest.strip_prefix("match-pseudo-header-") {
                (&mut extras.headers, format!(":{}", name.to_ascii_lowercase()))
            } else if let Some(name) = rest.strip_prefix("match-header-") {
                (&mut extras.headers, name.to_ascii_lowercase())
            } else if let Some(name) = rest.strip_prefix("match-query-") {
                (&mut extras.query, name.to_string())
            } else {
                continue;
            };
            if name.is_empty() || name == ":" {
                diagnostics.push(super::invalid_annotation(object, format!("higress.io/{key}: no header or query name")));
                continue;
            }
            target.push(HeaderMatch { name, kind, value: value.to_string() });
        }
        extras.headers.sort_by(|a, b| a.name.cmp(&b.name));
        extras.query.sort_by(|a, b| a.name.cmp(&b.name));
        extras.methods.sort();
        extras.methods.dedup();
        extras
    }

    /// The part of a route's conflict key these conditions contribute.
    pub fn conflict_key(&self) -> String {
        let render = |m: &HeaderMatch| format!("{:?}:{}={}", m.kind, m.name, m.value);
        format!(
            "methods={};headers={};query={}",
            self.methods.join(","),
            self.headers.iter().map(render).collect::<Vec<_>>().join(","),
            self.query.iter().map(render).collect::<Vec<_>>().join(",")
        )
    }
}

fn split_kind(key: &str) -> Option<(MatchKind, &str)> {
    if let Some(rest) = key.strip_prefix("exact-") {
        Some((MatchKind::Exact, rest))
    } else if let Some(rest) = key.strip_prefix("prefix-") {
        Some((MatchKind::Prefix, rest))
    } else {
        key.strip_prefix("regex-").map(|rest| (MatchKind::Regex, rest))
    }
}
