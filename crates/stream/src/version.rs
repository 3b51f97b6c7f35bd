//! Snapshot versions and the wire form of a snapshot, computed once per version on the server and shared
//! by every subscriber. The wire JSON is the IR's serde JSON plus the certificates' private keys (which
//! the IR never serializes, so dumps carry none): the gateway needs them and has no Kubernetes access.

use std::sync::{Arc, Mutex};

use oxigress_ir::Snapshot;

use crate::proto::SnapshotMessage;

/// The version of a snapshot: the first 16 hex digits of the SHA-256 of its wire JSON. Deterministic (the
/// IR serializes byte-stably), so the same input gives the same version in any controller process.
pub fn snapshot_version(snapshot: &Snapshot) -> String {
    match wire_json(snapshot) {
        Ok(json) => version_of(&json),
        // Unreachable with string-keyed maps; still a stable, distinct value.
        Err(error) => version_of(error.to_string().as_bytes()),
    }
}

/// The snapshot as sent: its JSON with `key_pem` filled in for every certificate.
fn wire_json(snapshot: &Snapshot) -> Result<Vec<u8>, serde_json::Error> {
    let mut value = serde_json::to_value(snapshot)?;
    if let Some(certificates) = value.get_mut("certificates").and_then(serde_json::Value::as_object_mut) {
        for (id, certificate) in certificates {
            let key = snapshot.certificates.get(id).map(|c| c.key_pem.clone()).unwrap_or_default();
            if let Some(fields) = certificate.as_object_mut() {
                fields.insert("key_pem".to_string(), key.into());
            }
        }
    }
    serde_json::to_vec(&value)
}

fn version_of(json: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, json);
    digest.as_ref().iter().take(8).map(|byte| format!("{byte:02x}")).collect()
}

/// Encodes snapshots into messages, keeping the last one so that subscribers share its bytes.
#[derive(Default)]
pub(crate) struct Encoder {
    last: Mutex<Option<(Arc<Snapshot>, SnapshotMessage)>>,
}

impl Encoder {
    /// The message for `snapshot` (encoded unless it is the one encoded last).
    pub(crate) fn encode(&self, snapshot: &Arc<Snapshot>) -> Result<SnapshotMessage, serde_json::Error> {
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((cached, message)) = last.as_ref() {
            if Arc::ptr_eq(cached, snapshot) {
                return Ok(message.clone());
            }
        }
        let json = wire_json(snapshot)?;
        let message = SnapshotMessage {
            version: version_of(&json),
            instance: snapshot.instance.clone(),
            snapshot_json: json.into(),
        };
        *last = Some((snapshot.clone(), message.clone()));
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_hash_of_the_encoded_json() {
        let snapshot = Arc::new(Snapshot { instance: "a".into(), ..Snapshot::default() });
        let encoder = Encoder::default();
        let message = encoder.encode(&snapshot).unwrap();
        assert_eq!(message.version, snapshot_version(&snapshot));
        assert_eq!(message.version.len(), 16);
        let again = encoder.encode(&snapshot).unwrap();
        assert_eq!(again.snapshot_json.as_ptr(), message.snapshot_json.as_ptr(), "bytes are shared");
        let other = Snapshot { instance: "b".into(), ..Snapshot::default() };
        assert_ne!(snapshot_version(&other), message.version);
    }

    #[test]
    fn private_keys_travel_on_the_wire() {
        let mut snapshot = Snapshot { instance: "a".into(), ..Snapshot::default() };
        let certificate = oxigress_ir::Certificate { id: "ns/tls".into(), chain_pem: "CHAIN".into(), key_pem: "KEY".into() };
        snapshot.certificates.insert(certificate.id.clone(), certificate);
        let message = Encoder::default().encode(&Arc::new(snapshot.clone())).unwrap();
        let decoded: Snapshot = serde_json::from_slice(&message.snapshot_json).unwrap();
        assert_eq!(decoded, snapshot);
        assert!(!snapshot.to_json().contains("KEY"), "the IR dump still has no keys");
    }
}
