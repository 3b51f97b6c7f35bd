//! The object store: objects by key, the one global `resourceVersion` counter, and the bounded
//! change history that watches are served from.

use crate::error::ApiError;
use crate::kinds::Resource;
use crate::object::{meta_mut, meta_str, now};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// How many changes the history keeps; a watch from before the oldest kept change gets 410 Expired.
pub const HISTORY_CAP: usize = 4096;

/// Where an object lives (the API version is not part of it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource name.
    pub plural: String,
    /// Namespace, `""` for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl Key {
    /// The key of `name` in `namespace` for `resource`.
    pub fn new(resource: &Resource, namespace: &str, name: &str) -> Self {
        Self {
            group: resource.group.clone(),
            plural: resource.plural.clone(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Whether this key belongs to `resource`, within `namespace` when one is given.
    pub fn within(&self, resource: &Resource, namespace: Option<&str>) -> bool {
        self.group == resource.group
            && self.plural == resource.plural
            && namespace.is_none_or(|ns| ns == self.namespace)
    }
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

/// One entry of the history.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion this change got.
    pub rv: u64,
    /// The object's key.
    pub key: Key,
    /// What happened.
    pub kind: ChangeType,
    /// The object after the change (for a deletion: its last state, with the deletion's rv).
    pub object: Value,
    /// The object before a modification.
    pub old: Option<Value>,
}

/// How a write treats `.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMode {
    /// A write to the main resource: kinds with a status subresource keep their stored status.
    Main,
    /// A write to `/status`: only `.status` changes.
    Only,
    /// Test seeding: the object is stored as given, status included.
    Raw,
}

/// All objects, the resourceVersion counter and the history.
#[derive(Debug, Default)]
pub struct Store {
    /// The latest resourceVersion handed out.
    pub rv: u64,
    /// Bumped by [`Store::expire`]; open watches end when it changes.
    pub epoch: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Change>,
    /// Changes up to this rv may be missing from the history.
    floor: u64,
}

impl Store {
    /// The object at `key`.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    /// The objects of `resource`, in `namespace` when one is given, ordered by namespace and name.
    pub fn list<'a>(
        &'a self,
        resource: &'a Resource,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |(k, _)| k.within(resource, namespace)).map(|(_, v)| v)
    }

    /// The changes after `rv`, or 410 Expired when some of them were dropped from the history.
    pub fn changes_since(&self, rv: u64) -> Result<impl Iterator<Item = &Change>, ApiError> {
        if rv < self.floor {
            return Err(ApiError::expired(rv, self.floor));
        }
        Ok(self.history.iter().filter(move |c| c.rv > rv))
    }

    /// Drops the whole history and ends open watches: every resourceVersion handed out so far is now
    /// too old to watch from (as after an apiserver restart with a compacted etcd).
    pub fn expire(&mut self) {
        self.rv += 1;
        self.floor = self.rv;
        self.history.clear();
        self.epoch += 1;
    }

    /// Creates an object of `resource` in `namespace` (`""` for cluster-scoped); `generateName` works.
    pub fn create(
        &mut self,
        resource: &Resource,
        namespace: &str,
        mut obj: Value,
        mode: StatusMode,
    ) -> Result<Value, ApiError> {
        let next = self.rv + 1;
        let meta = meta_mut(&mut obj)?;
        let name = match (meta.get("name").and_then(Value::as_str), meta.get("generateName").and_then(Value::as_str)) {
            (Some(name), _) if !name.is_empty() => name.to_string(),
            (_, Some(prefix)) => format!("{prefix}{next:05x}"),
            _ => {
                return Err(ApiError { code: 422, reason: "Invalid", message: "metadata.name: Required value".into() })
            }
        };
        match meta.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != namespace && !resource.cluster_scoped() => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => {}
        }
        meta.insert("uid".into(), json!(format!("00000000-0000-4000-8000-{next:012x}")));
        meta.insert("creationTimestamp".into(), now());
        meta.insert("generation".into(), json!(1));
        let key = Key::new(resource, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(format!("{} {name:?}", resource.plural)));
        }
        if mode != StatusMode::Raw && resource.has_status() {
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
        Ok(self.commit(resource, key, ChangeType::Added, obj, None))
    }

    /// Replaces the object at `key`: 409 Conflict when `obj` carries a different resourceVersion.
    pub fn replace(
        &mut self,
        resource: &Resource,
        key: &Key,
        mut obj: Value,
        mode: StatusMode,
    ) -> Result<Value, ApiError> {
        let old = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("{} {:?}", key.plural, key.name)))?;
        let body_name = meta_str(&obj, "name");
        if !body_name.is_empty() && body_name != key.name {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        let rv = meta_str(&obj, "resourceVersion");
        if !rv.is_empty() && rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(format!("{} {:?}", key.plural, key.name)));
        }
        let keep_status = mode == StatusMode::Main && resource.has_status();
        if mode == StatusMode::Only {
            let status = obj.get("status").cloned();
            obj = old.clone();
            set_field(&mut obj, "status", status);
        } else if keep_status {
            set_field(&mut obj, "status", old.get("status").cloned());
        }
        let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        let generation = if spec_of(&old) == spec_of(&obj) { generation } else { generation + 1 };
        let meta = meta_mut(&mut obj)?;
        for field in ["uid", "creationTimestamp"] {
            if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
                meta.insert(field.into(), v.clone());
            }
        }
        meta.insert("generation".into(), json!(generation));
        Ok(self.commit(resource, key.clone(), ChangeType::Modified, obj, Some(old)))
    }

    /// Deletes the object at `key`, returning its last state.
    pub fn delete(&mut self, resource: &Resource, key: &Key) -> Result<Value, ApiError> {
        let old = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("{} {:?}", key.plural, key.name)))?;
        Ok(self.commit(resource, key.clone(), ChangeType::Deleted, old, None))
    }

    /// Stamps a new resourceVersion on `obj`, stores (or removes) it and records the change.
    fn commit(&mut self, resource: &Resource, key: Key, kind: ChangeType, mut obj: Value, old: Option<Value>) -> Value {
        self.rv += 1;
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), json!(resource.api_version()));
            if !map.get("kind").is_some_and(Value::is_string) {
                map.insert("kind".into(), json!(resource.kind()));
            }
        }
        if let Ok(meta) = meta_mut(&mut obj) {
            meta.insert("name".into(), json!(key.name));
            meta.remove("generateName");
            if key.namespace.is_empty() {
                meta.remove("namespace");
            } else {
                meta.insert("namespace".into(), json!(key.namespace));
            }
            meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        }
        if kind == ChangeType::Deleted {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key.clone(), obj.clone());
        }
        self.history.push_back(Change { rv: self.rv, key, kind, object: obj.clone(), old });
        while self.history.len() > HISTORY_CAP {
            if let Some(dropped) = self.history.pop_front() {
                self.floor = dropped.rv;
            }
        }
        obj
    }
}

/// Sets or removes a top-level field.
fn set_field(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => map.insert(field.into(), v),
            None => map.remove(field),
        };
    }
}

/// The object without metadata and status: what `generation` counts changes of.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        for field in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(field);
        }
    }
    v
}
