//! Parse an apiserver URL path (`/api/v1/...`, `/apis/{group}/{version}/...`) into a [`Target`].

use crate::kinds::Resource;

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The resource type.
    pub resource: Resource,
    /// The namespace in the path (`None`: cluster-scoped, or a list across all namespaces).
    pub namespace: Option<String>,
    /// The object name (`None`: the collection).
    pub name: Option<String>,
    /// Whether the path ends in `/status`.
    pub status: bool,
}

/// Parses a path; `None` when it is not a resource path this stand-in serves.
pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    // `namespaces/{ns}/{plural}...`, except the namespace object's own `namespaces/{name}/status`.
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if *plural != "status" => (Some(ns.to_string()), {
            let mut r = vec![*plural];
            r.extend_from_slice(tail);
            r
        }),
        _ => (None, rest.to_vec()),
    };
    let (plural, name, status) = match rest.as_slice() {
        [plural] => (*plural, None, false),
        [plural, name] => (*plural, Some(name.to_string()), false),
        [plural, name, "status"] => (*plural, Some(name.to_string()), true),
        _ => return None,
    };
    let resource = Resource { group: group.to_string(), version: version.to_string(), plural: plural.to_string() };
    // A cluster-scoped kind has no namespace; a namespaced object needs one (its collection need not).
    let misplaced =
        matches!((resource.cluster_scoped(), &namespace, &name), (true, Some(_), _) | (false, None, Some(_)));
    (!misplaced).then_some(Target { resource, namespace, name, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse("/apis/networking.k8s.io/v1/namespaces/a/ingresses/x/status").expect("parses");
        assert_eq!(
            (t.resource.plural.as_str(), t.namespace.as_deref(), t.name.as_deref(), t.status),
            ("ingresses", Some("a"), Some("x"), true)
        );
        let t = parse("/apis/networking.k8s.io/v1/ingresses").expect("parses");
        assert_eq!((t.namespace, t.name), (None, None));
        let t = parse("/api/v1/namespaces/default").expect("parses");
        assert_eq!((t.resource.plural.as_str(), t.name.as_deref()), ("namespaces", Some("default")));
        assert!(parse("/api/v1/namespaces/default/status").is_some_and(|t| t.status));
        assert!(parse("/apis/networking.k8s.io/v1/namespaces/a/ingressclasses/x").is_none());
        assert!(parse("/api/v1/pods/x").is_none());
        assert!(parse("/healthz").is_none());
    }
}
