//! WATCH: a chunked stream of newline-delimited `{"type": ..., "object": ...}` events, served from the
//! store's history and then live, until `timeoutSeconds`, the stand-in's shutdown, or
//! [`crate::StandIn::expire_watch_history`].

use crate::error::ApiError;
use crate::kinds::Resource;
use crate::selector::Selectors;
use crate::shared::Shared;
use crate::store::{Change, ChangeType};
use axum::body::{Body, Bytes};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Watch timeout when the request sets none (the apiserver picks 30–60 minutes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What one watch request asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// The resource type.
    pub resource: Resource,
    /// Only this namespace, when given.
    pub namespace: Option<String>,
    /// Label and field selectors.
    pub selectors: Selectors,
    /// Start after this resourceVersion (ignored with `initial_events`).
    pub since: u64,
    /// First an ADDED event per existing object (`resourceVersion` `""`/`"0"`, or `sendInitialEvents=true`).
    pub initial_events: bool,
    /// `sendInitialEvents=true` with bookmarks: end the initial events with the `initial-events-end` bookmark.
    pub initial_events_end: bool,
    /// How long the stream lasts.
    pub timeout: Duration,
}

/// One open watch stream.
struct Watching {
    shared: Arc<Shared>,
    req: WatchRequest,
    initial: bool,
    last_rv: u64,
    epoch: u64,
    deadline: Instant,
    pending: VecDeque<Bytes>,
    done: bool,
    tick: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

/// The response body of a watch.
pub fn body(shared: Arc<Shared>, req: WatchRequest) -> Body {
    let epoch = shared.store().epoch;
    let state = Watching {
        tick: shared.tick.subscribe(),
        shutdown: shared.shutdown.subscribe(),
        shared,
        initial: req.initial_events,
        last_rv: req.since,
        epoch,
        deadline: Instant::now() + req.timeout,
        pending: VecDeque::new(),
        done: false,
        req,
    };
    Body::from_stream(futures::stream::unfold(state, next))
}

/// The next chunk; every wait is bounded by the watch deadline.
async fn next(mut w: Watching) -> Option<(Result<Bytes, Infallible>, Watching)> {
    loop {
        if let Some(chunk) = w.pending.pop_front() {
            return Some((Ok(chunk), w));
        }
        if w.done || *w.shutdown.borrow() {
            return None;
        }
        w.tick.borrow_and_update();
        w.collect();
        if !w.pending.is_empty() || w.done {
            continue;
        }
        tokio::select! {
            changed = w.tick.changed() => if changed.is_err() { return None },
            _ = tokio::time::sleep_until(w.deadline) => return None,
            _ = w.shutdown.changed() => return None,
        }
    }
}

impl Watching {
    /// Queues the events since `last_rv` (or the 410 error), ending the stream when history was expired.
    fn collect(&mut self) {
        let shared = Arc::clone(&self.shared);
        let store = shared.store();
        if store.epoch != self.epoch {
            self.done = true;
            return;
        }
        let (res, ns) = (self.req.resource.clone(), self.req.namespace.clone());
        let (res, ns) = (&res, ns.as_deref());
        if std::mem::take(&mut self.initial) {
            let objects: Vec<Value> = store.list(res, ns).filter(|o| self.req.selectors.matches(o)).cloned().collect();
            for obj in objects {
                self.push("ADDED", obj);
            }
            if self.req.initial_events_end {
                let mark = json!({
                    "kind": res.kind(), "apiVersion": res.api_version(),
                    "metadata": {
                        "resourceVersion": store.rv.to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                });
                self.push("BOOKMARK", mark);
            }
        } else {
            match store.changes_since(self.last_rv) {
                Ok(changes) => {
                    let events: Vec<_> =
                        changes.filter(|c| c.key.within(res, ns)).filter_map(|c| self.event_for(c)).collect();
                    for (kind, obj) in events {
                        self.push(kind, obj);
                    }
                }
                Err(expired) => {
                    self.push("ERROR", expired.to_status());
                    self.done = true;
                }
            }
        }
        self.last_rv = store.rv;
    }

    /// The event a change is for this watcher: an object that starts matching the selectors is
    /// ADDED, one that stops matching is DELETED (its old state at the change's resourceVersion).
    fn event_for(&self, change: &Change) -> Option<(&'static str, Value)> {
        let now = self.req.selectors.matches(&change.object);
        match change.kind {
            ChangeType::Added => now.then(|| ("ADDED", change.object.clone())),
            ChangeType::Deleted => now.then(|| ("DELETED", change.object.clone())),
            ChangeType::Modified => {
                let before = change.old.as_ref().is_some_and(|o| self.req.selectors.matches(o));
                match (before, now) {
                    (true, true) => Some(("MODIFIED", change.object.clone())),
                    (false, true) => Some(("ADDED", change.object.clone())),
                    (true, false) => {
                        let mut old = change.old.clone()?;
                        if let Some(rv) = old.pointer_mut("/metadata/resourceVersion") {
                            *rv = json!(change.rv.to_string());
                        }
                        Some(("DELETED", old))
                    }
                    (false, false) => None,
                }
            }
        }
    }

    fn push(&mut self, kind: &str, object: Value) {
        self.pending.push_back(Bytes::from(format!("{}\n", json!({"type": kind, "object": object}))));
    }
}

/// Parses the watch's `resourceVersion` (`""`/`"0"`: from the current state).
pub fn parse_since(rv: Option<&str>) -> Result<Option<u64>, ApiError> {
    match rv.unwrap_or("") {
        "" | "0" => Ok(None),
        rv => rv.parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}"))),
    }
}
