//! Kubernetes Events for diagnostics: the leader tells `kubectl describe ingress` users what is wrong.
//!
//! The controller loop's diagnostics (source + translation) come in; each distinct diagnostic about
//! an Ingress or a WasmPlugin becomes one `events.k8s.io/v1` Event on that object (reason = the
//! diagnostic code, note = its message, type `Warning`), reported by controller `oxigress.io/<instance>`.
//! A diagnostic is published once while it persists; one that went away is forgotten, so a recurrence
//! is published again. Only the leader publishes (a replica that gains leadership publishes the current
//! ones). Failures are logged, never fatal.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use oxigress_objects::{Diagnostic, Resources, Severity};
use oxigress_sources::SourceSnapshot;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::leader::is_leading;

/// The Event `action` of every diagnostic Event.
pub const EVENT_ACTION: &str = "Translate";

/// Longest Event note the API server accepts.
const MAX_NOTE: usize = 1024;

/// Publishes diagnostics as Events, only while this replica leads.
pub struct EventPublisher {
    client: Client,
    /// `oxigress.io/<instance>`.
    controller: String,
    /// This replica (the pod name).
    identity: String,
    is_leader: watch::Receiver<bool>,
    /// Diagnostics already handled (published, or not publishable) and still current.
    handled: BTreeSet<Diagnostic>,
}

impl EventPublisher {
    /// A publisher for `instance`'s replica `identity`, gated by `is_leader` (from
    /// [`crate::LeaderHandle`]).
    pub fn new(client: Client, instance: &str, identity: &str, is_leader: watch::Receiver<bool>) -> Self {
        Self {
            client,
            controller: format!("oxigress.io/{instance}"),
            identity: identity.to_string(),
            is_leader,
            handled: BTreeSet::new(),
        }
    }

    /// Publishes the diagnostics of `diagnostics` not published yet (object uids looked up in
    /// `resources`); returns how many Events were created. Not leading: publishes nothing and forgets
    /// what was published, so the current diagnostics are published when leadership comes.
    pub async fn publish(&mut self, diagnostics: &[Diagnostic], resources: &Resources) -> usize {
        if !is_leading(&self.is_leader) {
            self.handled.clear();
            return 0;
        }
        let current: BTreeSet<&Diagnostic> = diagnostics.iter().collect();
        self.handled.retain(|d| current.contains(d));
        let mut created = 0;
        for diagnostic in current {
            if self.handled.contains(diagnostic) {
                continue;
            }
            if !is_leading(&self.is_leader) {
                break;
            }
            let Some(event) = event_for(diagnostic, resources, &self.controller, &self.identity) else {
                tracing::debug!(code = %diagnostic.code, "diagnostic not about an Ingress or WasmPlugin: no Event");
                self.handled.insert(diagnostic.clone());
                continue;
            };
            let namespace = event.metadata.namespace.clone().unwrap_or_default();
            let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
            match api.create(&PostParams::default(), &event).await {
                Ok(_) => {
                    tracing::debug!(code = %diagnostic.code, object = ?diagnostic.object, "published Event");
                    self.handled.insert(diagnostic.clone());
                    created += 1;
                }
                Err(e) => tracing::warn!(code = %diagnostic.code, error = %e, "cannot create Event; retried next time"),
            }
        }
        created
    }

    /// Publishes on every new `diagnostics` value and whenever leadership changes, until either channel
    /// closes. `source` only supplies object uids.
    pub fn spawn(
        mut self,
        mut diagnostics: watch::Receiver<Arc<Vec<Diagnostic>>>,
        source: watch::Receiver<Arc<SourceSnapshot>>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let current = Arc::clone(&diagnostics.borrow_and_update());
                let snapshot = Arc::clone(&source.borrow());
                self.publish(&current, &snapshot.resources).await;
                tokio::select! {
                    changed = diagnostics.changed() => if changed.is_err() { break },
                    changed = self.is_leader.changed() => if changed.is_err() { break },
                }
            }
        })
    }
}

/// The Event for `diagnostic`, when it is about a namespaced Ingress or WasmPlugin.
pub fn event_for(diagnostic: &Diagnostic, resources: &Resources, controller: &str, identity: &str) -> Option<Event> {
    let object = diagnostic.object.as_ref().filter(|o| !o.namespace.is_empty())?;
    let key = object.key();
    let (api_version, uid) = match object.kind.as_str() {
        "Ingress" => ("networking.k8s.io/v1", resources.ingresses.get(&key).and_then(|o| o.metadata.uid.clone())),
        "WasmPlugin" => (
            oxigress_objects::wasm_plugin::API_VERSION,
            resources.wasm_plugins.get(&key).and_then(|o| o.metadata.uid.clone()),
        ),
        _ => return None,
    };
    let event_type = match diagnostic.severity {
        // Kubernetes has only Normal and Warning; every diagnostic reports a problem.
        Severity::Warning | Severity::Error => "Warning",
    };
    Some(Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.", object.name)),
            namespace: Some(object.namespace.clone()),
            ..Default::default()
        },
        event_time: Some(MicroTime(Timestamp::now())),
        action: Some(EVENT_ACTION.to_string()),
        reason: Some(diagnostic.code.clone()),
        note: Some(truncate(&diagnostic.message, MAX_NOTE)),
        type_: Some(event_type.to_string()),
        regarding: Some(ObjectReference {
            api_version: Some(api_version.to_string()),
            kind: Some(object.kind.clone()),
            namespace: Some(object.namespace.clone()),
            name: Some(object.name.clone()),
            uid,
            ..Default::default()
        }),
        reporting_controller: Some(controller.to_string()),
        reporting_instance: Some(identity.to_string()),
        ..Default::default()
    })
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use oxigress_objects::ObjectRef;

    #[test]
    fn events_only_for_ingresses_and_wasm_plugins() {
        let on = |kind: &str| Diagnostic::error("Bad", Some(ObjectRef::new(kind, "a", "x")), "why");
        let resources = Resources::default();
        let event = event_for(&on("Ingress"), &resources, "oxigress.io/p", "pod-0").unwrap();
        assert_eq!(event.reason.as_deref(), Some("Bad"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.regarding.unwrap().api_version.as_deref(), Some("networking.k8s.io/v1"));
        assert!(event_for(&on("WasmPlugin"), &resources, "c", "i").is_some());
        assert!(event_for(&on("Service"), &resources, "c", "i").is_none());
        assert!(event_for(&Diagnostic::error("Bad", None, "why"), &resources, "c", "i").is_none());
    }

    #[test]
    fn notes_are_cut_at_a_char_boundary() {
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
