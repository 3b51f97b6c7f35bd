//! Label and field selectors, as the apiserver parses them from `labelSelector` and `fieldSelector`.

use crate::error::ApiError;
use crate::object::field_str;
use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// Parsed `labelSelector` + `fieldSelector` of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selectors {
    labels: Vec<Label>,
    /// (field path, wanted value, equal?)
    fields: Vec<(String, String, bool)>,
}

impl Selectors {
    /// Parses both selectors (`None` or empty: everything matches).
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, ApiError> {
        let labels = split_terms(labels.unwrap_or("")).into_iter().map(parse_label).collect::<Result<_, _>>()?;
        let fields = split_terms(fields.unwrap_or(""))
            .into_iter()
            .map(|t| {
                let (k, v, eq) = match t.split_once("!=") {
                    Some((k, v)) => (k, v, false),
                    None => {
                        let (k, v) = t.split_once("==").or_else(|| t.split_once('=')).ok_or_else(|| bad(t))?;
                        (k, v, true)
                    }
                };
                Ok((k.trim().to_string(), v.trim().to_string(), eq))
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Self { labels, fields })
    }

    /// Whether `obj` satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| obj.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str);
        self.labels.iter().all(|req| match req {
            Label::Eq(k, v) => label(k) == Some(v.as_str()),
            Label::Ne(k, v) => label(k) != Some(v.as_str()),
            Label::Exists(k) => label(k).is_some(),
            Label::Absent(k) => label(k).is_none(),
            Label::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Label::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
        }) && self.fields.iter().all(|(path, want, eq)| (field_str(obj, path) == *want) == *eq)
    }
}

fn bad(term: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {term:?}"))
}

/// Splits at commas outside parentheses, dropping empty terms.
fn split_terms(s: &str) -> Vec<&str> {
    let (mut terms, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms.into_iter().map(str::trim).filter(|t| !t.is_empty()).collect()
}

fn parse_label(term: &str) -> Result<Label, ApiError> {
    let owned = |s: &str| s.trim().to_string();
    if let (Some(open), Some(close)) = (term.find('('), term.rfind(')')) {
        let values = term.get(open + 1..close).ok_or_else(|| bad(term))?;
        let values = values.split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect();
        return match term[..open].split_whitespace().collect::<Vec<_>>().as_slice() {
            [k, "in"] => Ok(Label::In(owned(k), values)),
            [k, "notin"] => Ok(Label::NotIn(owned(k), values)),
            _ => Err(bad(term)),
        };
    }
    let label = if let Some(k) = term.strip_prefix('!') {
        Label::Absent(owned(k))
    } else if let Some((k, v)) = term.split_once("!=") {
        Label::Ne(owned(k), owned(v))
    } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        Label::Eq(owned(k), owned(v))
    } else {
        Label::Exists(owned(term))
    };
    match &label {
        Label::Absent(k) | Label::Exists(k) | Label::Eq(k, _) | Label::Ne(k, _) if k.is_empty() || k.contains(' ') => {
            Err(bad(term))
        }
        _ => Ok(label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_selectors() {
        let obj = json!({"metadata": {"name": "x", "namespace": "a", "labels": {"app": "web", "tier": "front"}}});
        let yes = |l: &str, f: &str| Selectors::parse(Some(l), Some(f)).expect("parses").matches(&obj);
        assert!(yes("app=web,tier in (front, back),!gone,env notin (prod)", "metadata.name=x,metadata.namespace!=b"));
        assert!(yes("app==web,tier", ""));
        assert!(!yes("app!=web", ""));
        assert!(!yes("tier notin (front)", ""));
        assert!(!yes("", "metadata.namespace=b"));
        assert!(Selectors::parse(Some("a b"), None).is_err());
        assert!(Selectors::parse(None, Some("nofield")).is_err());
    }
}
