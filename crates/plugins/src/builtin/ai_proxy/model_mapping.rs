//! `modelMapping` (provider.go `getMappedModel`): an exact key, then `prefix*` keys, then `~regex` keys
//! (the model rewritten with `$1`-style captures), then `"*"`. A mapping to `""` keeps the model.
//!
//! oxigress differences: Higress tries prefix and regex keys in Go map order (random when several
//! match); here longer keys are tried first, then alphabetically. Bad regexes are configuration errors
//! (Higress panics at request time).

use regex::Regex;
use serde_json::Value;

use crate::builtin::consumer_auth::gjson_text;

/// A compiled `modelMapping`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModelMapping {
    exact: Vec<(String, String)>,
    prefixes: Vec<(String, String)>,
    regexes: Vec<(Regex, String)>,
    default: Option<String>,
}

impl ModelMapping {
    /// Compiles the `modelMapping` object (anything else is an empty mapping, as gjson's `.Map()`).
    pub(crate) fn from_json(json: Option<&Value>) -> Result<Self, String> {
        let mut mapping = Self::default();
        let Some(Value::Object(entries)) = json else {
            return Ok(mapping);
        };
        for (key, value) in entries {
            let value = gjson_text(value);
            mapping.exact.push((key.clone(), value.clone()));
            if key == "*" {
                mapping.default = Some(value);
            } else if let Some(prefix) = key.strip_suffix('*') {
                mapping.prefixes.push((prefix.to_string(), value));
            } else if let Some(pattern) = key.strip_prefix('~') {
                let regex = Regex::new(pattern).map_err(|e| format!("{key:?}: {e}"))?;
                mapping.regexes.push((regex, value));
            }
        }
        mapping.prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(mapping)
    }

    /// The model to send for `model`.
    pub(crate) fn map(&self, model: &str) -> String {
        match self.lookup(model) {
            Some(mapped) if !mapped.is_empty() => mapped,
            _ => model.to_string(),
        }
    }

    fn lookup(&self, model: &str) -> Option<String> {
        if let Some((_, value)) = self.exact.iter().find(|(key, _)| key == model) {
            return Some(value.clone());
        }
        if let Some((_, value)) = self.prefixes.iter().find(|(prefix, _)| model.starts_with(prefix.as_str())) {
            return Some(value.clone());
        }
        if let Some((regex, value)) = self.regexes.iter().find(|(regex, _)| regex.is_match(model)) {
            return Some(regex.replace_all(model, value.as_str()).into_owned());
        }
        self.default.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_prefix_regex_then_default() {
        let mapping = ModelMapping::from_json(Some(&json!({
            "gpt-3": "qwen-turbo",
            "gpt-4-*": "qwen-max",
            "gpt-4-turbo*": "qwen-max-longcontext",
            "~^claude-(.*)$": "anthropic-$1",
            "keep": "",
            "*": "qwen-plus"
        })))
        .unwrap();
        assert_eq!(mapping.map("gpt-3"), "qwen-turbo");
        assert_eq!(mapping.map("gpt-4-0613"), "qwen-max");
        assert_eq!(mapping.map("gpt-4-turbo-preview"), "qwen-max-longcontext", "the longer prefix wins");
        assert_eq!(mapping.map("claude-3"), "anthropic-3");
        assert_eq!(mapping.map("keep"), "keep", "an empty mapping keeps the model");
        assert_eq!(mapping.map("llama"), "qwen-plus");
        assert_eq!(ModelMapping::default().map("llama"), "llama");
        assert!(ModelMapping::from_json(Some(&json!({"~(": "x"}))).is_err());
    }
}
