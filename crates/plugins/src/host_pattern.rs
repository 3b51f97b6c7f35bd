//! WasmPlugin `matchRules[].domain` patterns, as Higress's SDK matches them against `:authority` (port
//! stripped, case-sensitive): `*.x` (suffix `.x`, not the apex), `x*` (prefix), otherwise exact.

/// One domain pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Equal.
    Exact(String),
    /// `*.example.com`: ends with `.example.com`.
    Suffix(String),
    /// `api.*`-style `x*`: starts with `x`.
    Prefix(String),
}

impl HostPattern {
    /// Parses a `domain` entry.
    pub fn parse(pattern: &str) -> Self {
        if let Some(rest) = pattern.strip_prefix('*') {
            Self::Suffix(rest.to_string())
        } else if let Some(rest) = pattern.strip_suffix('*') {
            Self::Prefix(rest.to_string())
        } else {
            Self::Exact(pattern.to_string())
        }
    }

    /// Whether `host` matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => host == h,
            Self::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
            Self::Prefix(p) => host.starts_with(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HostPattern;

    #[test]
    fn patterns() {
        assert!(HostPattern::parse("*.foo.com").matches("a.foo.com"));
        assert!(!HostPattern::parse("*.foo.com").matches("foo.com"));
        assert!(HostPattern::parse("api*").matches("api.foo.com"));
        assert!(HostPattern::parse("foo.com").matches("foo.com"));
        assert!(!HostPattern::parse("foo.com").matches("Foo.com"));
    }
}
