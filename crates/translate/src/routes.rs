//! One host's route table under construction: its routes with their conflict keys, first (oldest) wins.

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

/// One host's routes under construction, with the conflict keys already taken (keys, owners and routes
/// borrowed from the plans; a route is copied when a canary changes it, and when the host is finished).
#[derive(Default)]
pub struct HostRoutes<'p> {
    routes: Vec<Cow<'p, PendingRoute>>,
    /// Conflict key → the Ingress that took it and the index of its route in `routes`.
    keys: FastMap<&'p str, (&'p ObjectRef, usize)>,
}

impl<'p> HostRoutes<'p> {
    /// Adds `route` of `owner` unless `key` was taken by an earlier route, which is reported as
    /// `DuplicatedRoute` (Higress keeps the oldest Ingress' route).
    pub fn add(
        &mut self,
        host: &str,
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
        self.routes.push(Cow::Borrowed(pending));
        self.keys.insert(key, (owner, self.routes.len() - 1));
        true
    }

    /// The base route that took `key` (canaries merge into it).
    pub fn base_mut(&mut self, key: &str) -> Option<&mut PendingRoute> {
        let (_, index) = self.keys.get(key)?;
        self.routes.get_mut(*index).map(Cow::to_mut)
    }

    /// Adds a canary's condition route (never conflict-checked, as Higress).
    pub fn add_unkeyed(&mut self, pending: PendingRoute) {
        self.routes.push(Cow::Owned(pending));
    }

    /// Whether the host already has a user catch-all route of `owner`.
    pub fn has_catch_all_of(&self, owner: &ObjectRef) -> bool {
        self.routes.iter().any(|p| {
            p.class == RouteClass::CatchAll && p.route.source.namespace == owner.namespace && p.route.source.name == owner.name
        })
    }

    /// The virtual host `host` with its routes in precedence order; `None` without routes.
    pub fn finish(mut self, host: &str) -> Option<VirtualHost> {
        if self.routes.is_empty() {
            return None;
        }
        crate::sort::sort_routes(&mut self.routes);
        Some(VirtualHost { host: host.to_string(), routes: self.routes.into_iter().map(|p| p.into_owned().route).collect() })
    }
}

fn describe(path: &PathMatch) -> String {
    match path {
        PathMatch::Exact(p) => format!("{p} (Exact)"),
        PathMatch::Prefix(p) => format!("{p} (Prefix)"),
        PathMatch::Regex(p) => format!("{p} (Regex)"),
    }
}
