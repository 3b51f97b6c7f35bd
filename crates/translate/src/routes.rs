//! The route table under construction: routes per host with their conflict keys, first (oldest) wins.

use std::borrow::Cow;

use oxigress_ir::{PathMatch, Route, VirtualHost};
use oxigress_objects::{Diagnostic, ObjectRef};

use crate::FastMap;

/// Where a route sorts within its host, before path-based precedence applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteClass {
    /// An ordinary route.
    Normal,
    /// The `app-root` redirect of `/` (Higress prepends it without a path type: after every Exact and
    /// Prefix route, before the catch-all).
    AppRoot,
    /// A user catch-all: Prefix `/` with no header, query or method condition.
    CatchAll,
    /// A `spec.defaultBackend` route.
    DefaultBackend,
}

/// A route waiting for its host's final sort.
#[derive(Debug, Clone)]
pub struct PendingRoute {
    /// The route itself.
    pub route: Route,
    /// Its sort class.
    pub class: RouteClass,
    /// Length of the Ingress path, a Prefix without its trailing `/` (Higress `OriginPath`; longer sorts first).
    pub origin_path_len: usize,
}

/// Routes by host, with the conflict keys already taken (hosts, keys, owners and routes borrowed from the
/// plans; a route is copied when a canary changes it, and when the table is finished).
#[derive(Default)]
pub struct RouteTable<'p> {
    hosts: FastMap<&'p str, Vec<Cow<'p, PendingRoute>>>,
    /// Conflict key → the Ingress that took it and the index of its route in `hosts[host]`.
    keys: FastMap<&'p str, (&'p ObjectRef, usize)>,
}

impl<'p> RouteTable<'p> {
    /// Adds `route` of `owner` to `host` unless `key` was taken by an earlier route, which is reported as
    /// `DuplicatedRoute` (Higress keeps the oldest Ingress' route).
    pub fn add(
        &mut self,
        host: &'p str,
        key: &'p str,
        pending: &'p PendingRoute,
        owner: &'p ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> bool {
        if let Some((first, _)) = self.keys.get(key) {
            diagnostics.push(Diagnostic::warning(
                "DuplicatedRoute",
                Some(owner.clone()),
                format!("host {host} and path {} is already defined in {first}; route dropped", describe(&pending.route.path)),
            ));
            return false;
        }
        let index = self.push(host, Cow::Borrowed(pending));
        self.keys.insert(key, (owner, index));
        true
    }

    /// Appends a route to `host`; returns its index there.
    fn push(&mut self, host: &'p str, pending: Cow<'p, PendingRoute>) -> usize {
        let routes = self.hosts.entry(host).or_default();
        routes.push(pending);
        routes.len() - 1
    }

    /// The base route that took `key` on `host` (canaries merge into it).
    pub fn base_mut(&mut self, host: &str, key: &str) -> Option<&mut PendingRoute> {
        let (_, index) = self.keys.get(key)?;
        self.hosts.get_mut(host)?.get_mut(*index).map(Cow::to_mut)
    }

    /// Adds a canary's condition route (never conflict-checked, as Higress).
    pub fn add_unkeyed(&mut self, host: &'p str, pending: PendingRoute) {
        self.push(host, Cow::Owned(pending));
    }

    /// Whether `host` already has a user catch-all route of `owner`.
    pub fn has_catch_all_of(&self, host: &str, owner: &ObjectRef) -> bool {
        self.hosts.get(host).is_some_and(|routes| {
            routes.iter().any(|p| {
                p.class == RouteClass::CatchAll
                    && p.route.source.namespace == owner.namespace
                    && p.route.source.name == owner.name
            })
        })
    }

    /// The virtual hosts, each with its routes in precedence order.
    pub fn finish(self) -> Vec<VirtualHost> {
        let mut hosts: Vec<(&str, Vec<Cow<'p, PendingRoute>>)> = self.hosts.into_iter().collect();
        hosts.sort_unstable_by_key(|(host, _)| *host);
        hosts
            .into_iter()
            .map(|(host, mut routes)| {
                crate::sort::sort_routes(&mut routes);
                VirtualHost { host: host.to_string(), routes: routes.into_iter().map(|p| p.into_owned().route).collect() }
            })
            .collect()
    }
}

fn describe(path: &PathMatch) -> String {
    match path {
        PathMatch::Exact(p) => format!("{p} (Exact)"),
        PathMatch::Prefix(p) => format!("{p} (Prefix)"),
        PathMatch::Regex(p) => format!("{p} (Regex)"),
    }
}
