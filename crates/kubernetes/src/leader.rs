//! Leader election: which replica of an instance makes the cluster writes (Ingress status, Events).
//!
//! Every replica of an instance runs a [`LeaderElector`] on the same `coordination.k8s.io/v1` Lease
//! (named after the instance, in the instance namespace). The holder renews it every `retry_period`;
//! the others take it over once it has not been renewed for `lease_duration`, or at once when its
//! holder released it. Leadership is published on a watch channel that the status writer and the
//! event publisher consult before every write. Higress has no leader election at all (every replica
//! writes status); this is the client-go `leaderelection` scheme with a Lease lock.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Where the lock lives, who we are, and the timing (client-go's `LeaderElectionConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the instance namespace).
    pub namespace: String,
    /// Name of the Lease (the instance name: one lock per instance).
    pub name: String,
    /// This replica's identity in `holderIdentity` (the pod name); unique among the replicas.
    pub identity: String,
    /// How long a lease is valid after its last renewal: the others wait this long before taking over
    /// from a holder that stopped renewing (client-go `LeaseDuration`, production 15 s).
    pub lease_duration: Duration,
    /// The leader steps down when it could not renew for this long; shorter than `lease_duration`, so
    /// it stops writing before anyone else may start (client-go `RenewDeadline`, production 10 s).
    pub renew_deadline: Duration,
    /// How often every replica acts: the leader renews, the others try to acquire (client-go
    /// `RetryPeriod`, production 2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// The production timing (15 s / 10 s / 2 s, as client-go's defaults) for `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A running elector.
///
/// Dropping the handle (or aborting `task`) stops the elector *without* releasing the Lease, as a
/// crash would: another replica takes over once the lease expires. [`LeaderHandle::release`] hands it
/// over at once.
#[derive(Debug)]
pub struct LeaderHandle {
    /// `true` while this replica holds the Lease. When the elector has stopped, the channel is closed
    /// (use [`is_leading`] rather than the bare value).
    pub is_leader: watch::Receiver<bool>,
    /// The election loop.
    pub task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl LeaderHandle {
    /// Stops the elector and, if it leads, steps down first and then clears `holderIdentity` so a
    /// successor takes over at its next try instead of waiting for the lease to expire.
    pub async fn release(mut self) {
        self.stop.send_replace(true);
        // A panicked or aborted task has nothing left to release.
        let _ = (&mut self.task).await;
    }
}

impl Drop for LeaderHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `is_leader` says "leader" and its elector is still running (a stopped elector's last value
/// may still read `true`).
pub fn is_leading(is_leader: &watch::Receiver<bool>) -> bool {
    *is_leader.borrow() && is_leader.has_changed().is_ok()
}

/// Runs leader election for one replica.
pub struct LeaderElector {
    leases: Api<Lease>,
    config: LeaseConfig,
    leading: watch::Sender<bool>,
    /// When this replica last wrote the lease successfully while leading.
    renewed: Option<Instant>,
}

impl LeaderElector {
    /// Starts the election loop on `client`; the first attempt runs right away.
    pub fn spawn(client: Client, config: LeaseConfig) -> LeaderHandle {
        let (leading, is_leader) = watch::channel(false);
        let (stop, stopped) = watch::channel(false);
        let leases = Api::namespaced(client, &config.namespace);
        let elector = Self { leases, config, leading, renewed: None };
        let task = tokio::spawn(elector.run(stopped));
        LeaderHandle { is_leader, task, stop }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            self.try_acquire_or_renew().await;
            tokio::select! {
                _ = tokio::time::sleep(self.config.retry_period) => {}
                _ = stop.changed() => break,
            }
        }
        self.release().await;
    }

    /// One round: create, renew or take over the lease, or observe someone else holding it.
    async fn try_acquire_or_renew(&mut self) {
        let now = Timestamp::now();
        let current = match self.leases.get_opt(&self.config.name).await {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(lease = %self.config.name, error = %e, "cannot read the leader lease");
                return self.check_deadline();
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(self.spec_from(now, &LeaseSpec::default(), 0)),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(_) => self.won(),
                Err(e) => self.write_failed("create", &e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = match holder {
            Some(h) if h == self.config.identity => self.spec_from(now, &spec, transitions),
            Some(h) if !expired(&spec, now) => {
                tracing::debug!(lease = %self.config.name, holder = h, "lease held by another replica");
                return self.set_leading(false);
            }
            _ => self.spec_from(now, &spec, transitions.saturating_add(1)),
        };
        lease.spec = Some(next);
        // `replace` carries the resourceVersion we read: a concurrent writer makes it 409 Conflict.
        match self.leases.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => self.won(),
            Err(e) => self.write_failed("update", &e),
        }
    }

    /// The spec naming this replica as holder at `now`; `acquireTime` kept when we already held it.
    fn spec_from(&self, now: Timestamp, previous: &LeaseSpec, transitions: i32) -> LeaseSpec {
        let ours = previous.holder_identity.as_deref() == Some(self.config.identity.as_str());
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(whole_seconds(self.config.lease_duration)),
            acquire_time: if ours { previous.acquire_time.clone() } else { Some(MicroTime(now)) },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..previous.clone()
        }
    }

    fn won(&mut self) {
        self.renewed = Some(Instant::now());
        self.set_leading(true);
    }

    fn write_failed(&mut self, what: &str, error: &kube::Error) {
        match error {
            kube::Error::Api(s) if s.code == 409 => {
                tracing::debug!(lease = %self.config.name, what, "lease changed meanwhile; re-reading next round")
            }
            _ => tracing::warn!(lease = %self.config.name, what, error = %error, "cannot write the leader lease"),
        }
        self.check_deadline();
    }

    /// Steps down when the last successful renewal is older than the renew deadline.
    fn check_deadline(&mut self) {
        if self.renewed.is_some_and(|at| at.elapsed() > self.config.renew_deadline) {
            self.set_leading(false);
        }
    }

    fn set_leading(&mut self, leading: bool) {
        if !leading {
            self.renewed = None;
        }
        let changed = self.leading.send_if_modified(|current| std::mem::replace(current, leading) != leading);
        if changed {
            let (lease, identity) = (&self.config.name, &self.config.identity);
            if leading {
                tracing::info!(lease = %lease, identity = %identity, "became leader");
            } else {
                tracing::info!(lease = %lease, identity = %identity, "no longer leader");
            }
        }
    }

    /// Steps down, then clears `holderIdentity` if the lease is still ours.
    async fn release(&mut self) {
        if !*self.leading.borrow() {
            return;
        }
        self.set_leading(false);
        let Ok(Some(mut lease)) = self.leases.get_opt(&self.config.name).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        let now = MicroTime(Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now.clone());
        spec.acquire_time = Some(now);
        match self.leases.replace(&self.config.name, &PostParams::default(), &lease).await {
            Ok(_) => tracing::info!(lease = %self.config.name, "released the leader lease"),
            Err(e) => tracing::warn!(lease = %self.config.name, error = %e, "cannot release the leader lease"),
        }
    }
}

/// Whether the lease ran out: `renewTime + leaseDurationSeconds` is in the past (no renewal recorded
/// counts as expired).
fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else { return true };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
    renewed.checked_add(duration).map_or(true, |until| until < now)
}

/// A duration in whole seconds for `leaseDurationSeconds`, rounded up, at least 1.
fn whole_seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(renewed_secs_ago: i64, duration: i32) -> LeaseSpec {
        let now = Timestamp::now();
        let renewed = now.checked_sub(SignedDuration::from_secs(renewed_secs_ago)).ok().map(MicroTime);
        LeaseSpec { renew_time: renewed, lease_duration_seconds: Some(duration), ..Default::default() }
    }

    #[test]
    fn expiry_is_renew_time_plus_duration() {
        assert!(!expired(&spec(5, 15), Timestamp::now()));
        assert!(expired(&spec(20, 15), Timestamp::now()));
        assert!(expired(&LeaseSpec::default(), Timestamp::now()));
    }

    #[test]
    fn lease_seconds_round_up() {
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(10)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(15)), 15);
    }
}
