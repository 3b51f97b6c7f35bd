//! The state shared by the HTTP server, open watches and the test API: the store, the request log, and
//! the signals (a tick bumped on every change, the shutdown flag).

use crate::record::RequestRecord;
use crate::store::Store;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// Shared state; one per [`crate::StandIn`].
#[derive(Debug)]
pub struct Shared {
    store: Mutex<Store>,
    requests: Mutex<Vec<RequestRecord>>,
    /// Bumped after every write and every logged request; watches and `wait_for` wait on it.
    pub tick: watch::Sender<u64>,
    /// Set to `true` when the stand-in is dropped: the server and open watches stop.
    pub shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Empty state.
    pub fn new() -> Self {
        Self {
            store: Mutex::default(),
            requests: Mutex::default(),
            tick: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
        }
    }

    /// Locks the store for reading (a poisoned lock is still usable: every write is one short step).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write on the store, then wakes watches and waiters.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let out = f(&mut self.store());
        self.tick.send_modify(|t| *t += 1);
        out
    }

    /// Appends to the request log.
    pub fn record(&self, record: RequestRecord) {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).push(record);
        self.tick.send_modify(|t| *t += 1);
    }

    /// A copy of the request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
