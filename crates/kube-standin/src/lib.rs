//! # oxigress-kube-standin: a Kubernetes API server stand-in for integration tests.
//!
//! [`StandIn::start`] serves, on `127.0.0.1` over plain http, what kube-rs clients use of the real
//! kube-apiserver, generically for any `/api/v1/...` or `/apis/{group}/{version}/...` resource, with
//! objects held as JSON:
//!
//! - GET, LIST (label and field selectors, namespace scoping; one page, no `continue`), WATCH
//!   (history then live events, selector transitions as ADDED/DELETED, `timeoutSeconds`,
//!   `sendInitialEvents`, `410 Expired` as an `ERROR` event for a too-old resourceVersion);
//! - POST (409 AlreadyExists), PUT (409 Conflict on a stale `metadata.resourceVersion`), PATCH (merge,
//!   strategic merge = merge, JSON patch, server-side apply = merge that creates), DELETE;
//! - the `/status` subresource (only `.status` changes; main-resource writes keep `.status` for
//!   ingresses, services, wasmplugins, pods, nodes, namespaces);
//! - one global resourceVersion counter; `uid`, `creationTimestamp`, `generation` like the apiserver.
//!
//! Every request is logged ([`RequestRecord`]); [`StandIn::client`] builds a `kube::Client` per
//! controller name so tests can tell who wrote what. Test-side writes ([`StandIn::apply`]) are normal
//! writes that watchers see.

mod error;
mod kinds;
mod object;
mod patch;
mod path;
mod record;
mod selector;
mod server;
mod shared;
mod standin;
mod store;
mod watch;

pub use error::{ApiError, StandInError};
pub use kinds::Resource;
pub use record::RequestRecord;
pub use standin::StandIn;
