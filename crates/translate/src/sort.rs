//! THE one place that orders routes within a host (Higress `SortHTTPRoutes`, stable):
//! 1. ordinary routes, then the `app-root` redirect, then the user catch-all Prefix `/`, then
//!    `spec.defaultBackend` routes;
//! 2. among ordinary routes: Exact, then Prefix, then Regex; then the longer path (a Prefix without its
//!    trailing `/`); then routes with a method condition; then more header conditions; then more query
//!    conditions;
//! 3. otherwise Ingress creation order (the order routes were added).

use std::borrow::Borrow;

use oxigress_ir::PathMatch;

use crate::routes::PendingRoute;

/// Sorts one host's routes into match order.
pub fn sort_routes<R: Borrow<PendingRoute>>(routes: &mut [R]) {
    routes.sort_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        a.class
            .cmp(&b.class)
            .then(kind_rank(&a.route.path).cmp(&kind_rank(&b.route.path)))
            .then(b.origin_path_len.cmp(&a.origin_path_len))
            .then(a.route.methods.is_empty().cmp(&b.route.methods.is_empty()))
            .then(b.route.headers.len().cmp(&a.route.headers.len()))
            .then(b.route.query.len().cmp(&a.route.query.len()))
    });
}

fn kind_rank(path: &PathMatch) -> u8 {
    match path {
        PathMatch::Exact(_) => 0,
        PathMatch::Prefix(_) => 1,
        PathMatch::Regex(_) => 2,
    }
}
