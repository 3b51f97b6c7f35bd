//! oxigress patch: the keep-alive pool of idle upstream connections behind [`super::TransportConnector`]
//! (`reused_stream` takes from it, `release_stream` returns to it), in place of pingora-pool's
//! `ConnectionPool`.
//!
//! pingora's pool wraps every released connection in an `Arc<Mutex<_>>`, records it in an LRU list, a
//! concurrent map and a lock-free queue, and spawns one task per release that watches the idle
//! connection (a read, a timer and two channels) until it is taken again: about 10,000 instructions per
//! proxied keep-alive request, a third of the gap to nginx's whole request. Here:
//! - idle connections sit in shards, one per worker thread: a thread returns connections to its own
//!   shard and takes from it first (an uncontended lock, a hash lookup, a `Vec` pop), and only on a miss
//!   looks into the other shards, before a new connection would be made;
//! - the most recently returned connection is taken first (as nginx's upstream keep-alive cache), so
//!   the older ones are those that reach their idle timeout;
//! - a connection is checked when it is taken (the idle timeout, and `test_reusable_stream`: closed by
//!   the peer or holding unexpected data, as pingora checks), and one task per pool sweeps every
//!   [`SWEEP_EVERY`], closing connections past their idle timeout or found closed, so no watcher task
//!   runs per connection;
//! - the pool's capacity is split between the shards; a full shard drops its longest-idle connection.

use super::{test_reusable_stream, PoolCallback};
use crate::protocols::Stream;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// How often a pool closes connections past their idle timeout or closed by the peer.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Idle upstream connections by reuse key (`Peer::reuse_hash`), in per-thread shards.
pub(crate) struct IdlePool {
    shared: Arc<Shared>,
    /// Whether the sweeping task has been started (on the first release, inside a runtime).
    sweeping: AtomicBool,
}

/// What the pool and its sweeping task share; the task holds it weakly and ends once the pool is gone.
struct Shared {
    shards: Box<[Mutex<Shard>]>,
    /// Connections one shard holds at most.
    shard_capacity: usize,
    /// pingora's count of idle connections found holding data the peer sent unasked.
    unexpected_data: Arc<AtomicU64>,
    /// Told how long a connection was idle when the pool drops it to make room.
    on_evict: Option<PoolCallback>,
}

/// One thread's idle connections.
#[derive(Default)]
struct Shard {
    /// Per reuse key, in the order they were returned (the last one is taken first).
    by_key: HashMap<u64, Vec<Idle>, BuildHasherDefault<KeyHasher>>,
    /// Connections in `by_key`.
    len: usize,
}

/// A connection waiting for reuse.
struct Idle {
    stream: Stream,
    since: Instant,
    /// When its idle timeout runs out; `None` = no limit.
    deadline: Option<Instant>,
}

impl Idle {
    fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }
}

impl IdlePool {
    /// A pool of at most `capacity` connections in `shards` shards (the number of worker threads).
    pub(crate) fn new(
        capacity: usize,
        shards: usize,
        unexpected_data: Arc<AtomicU64>,
        on_evict: Option<PoolCallback>,
    ) -> Self {
        let shards = shards.max(1);
        IdlePool {
            shared: Arc::new(Shared {
                shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
                shard_capacity: capacity.div_ceil(shards),
                unexpected_data,
                on_evict,
            }),
            sweeping: AtomicBool::new(false),
        }
    }

    /// Takes the most recently returned connection for `key` that is still within its idle timeout,
    /// from this thread's shard, else from another shard not locked right now. The caller still checks
    /// that it is open and connected to the right peer.
    pub(crate) fn take(&self, key: u64) -> Option<Stream> {
        self.take_at(own_shard(self.shared.shards.len()), key)
    }

    /// [`Self::take`] for a thread whose shard is `own`.
    fn take_at(&self, own: usize, key: u64) -> Option<Stream> {
        let shards = &self.shared.shards;
        let mut now = None;
        for step in 0..shards.len() {
            let index = (own + step) % shards.len();
            loop {
                let idle = if step == 0 {
                    shards[index].lock().pop(key)
                } else {
                    shards[index].try_lock().and_then(|mut shard| shard.pop(key))
                };
                let Some(idle) = idle else { break };
                // dropped (closed) outside the shard's lock
                if !idle.expired(*now.get_or_insert_with(Instant::now)) {
                    return Some(idle.stream);
                }
            }
        }
        None
    }

    /// Returns a connection for reuse under `key`, to be closed after `idle_timeout` unused.
    pub(crate) fn put(&self, key: u64, stream: Stream, idle_timeout: Option<Duration>) {
        self.put_at(own_shard(self.shared.shards.len()), key, stream, idle_timeout);
    }

    /// [`Self::put`] for a thread whose shard is `own`.
    fn put_at(&self, own: usize, key: u64, stream: Stream, idle_timeout: Option<Duration>) {
        let shared = &self.shared;
        if shared.shard_capacity == 0 {
            return;
        }
        self.start_sweeping();
        let since = Instant::now();
        let idle = Idle {
            stream,
            since,
            deadline: idle_timeout.and_then(|timeout| since.checked_add(timeout)),
        };
        let evicted = {
            let mut shard = shared.shards[own].lock();
            let evicted = if shard.len >= shared.shard_capacity {
                shard.pop_oldest()
            } else {
                None
            };
            shard.by_key.entry(key).or_default().push(idle);
            shard.len += 1;
            evicted
        };
        if let (Some(evicted), Some(on_evict)) = (evicted, &shared.on_evict) {
            on_evict(evicted.since.elapsed());
        }
    }

    /// Starts the sweeping task on the current runtime, once.
    fn start_sweeping(&self) {
        if self.sweeping.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime here: connections are still checked when taken
        };
        if !self.sweeping.swap(true, Ordering::Relaxed) {
            runtime.spawn(sweep_until_dropped(Arc::downgrade(&self.shared)));
        }
    }

    /// Closes connections past their idle timeout or no longer reusable (see [`Shared::sweep`]).
    #[cfg(test)]
    pub(crate) fn sweep(&self, now: Instant) {
        self.shared.sweep(now);
    }

    /// Connections held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shared.shards.iter().map(|shard| shard.lock().len).sum()
    }
}

/// Sweeps `shared` every [`SWEEP_EVERY`] until the pool is dropped.
async fn sweep_until_dropped(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.sweep(Instant::now());
    }
}

impl Shared {
    /// Closes every connection past its idle timeout, closed by its peer or holding unexpected data,
    /// and forgets reuse keys left without connections.
    fn sweep(&self, now: Instant) {
        for shard in self.shards.iter() {
            let mut gone = Vec::new();
            {
                let mut shard = shard.lock();
                for idles in shard.by_key.values_mut() {
                    gone.extend(idles.extract_if(.., |idle| {
                        idle.expired(now)
                            || !test_reusable_stream(&mut idle.stream, &self.unexpected_data)
                    }));
                }
                shard.by_key.retain(|_, idles| !idles.is_empty());
                shard.len -= gone.len();
            }
            drop(gone); // closed outside the lock
        }
    }
}

impl Shard {
    /// The most recently returned connection for `key`.
    fn pop(&mut self, key: u64) -> Option<Idle> {
        let idle = self.by_key.get_mut(&key)?.pop()?;
        self.len -= 1;
        Some(idle)
    }

    /// The connection idle the longest (the first of some key's list).
    fn pop_oldest(&mut self) -> Option<Idle> {
        let (_, key) = self
            .by_key
            .iter()
            .filter_map(|(key, idles)| idles.first().map(|idle| (idle.since, *key)))
            .min()?;
        let idles = self.by_key.get_mut(&key)?;
        self.len -= 1;
        Some(idles.remove(0))
    }
}

/// The numbers worker threads are known by here, given out in the order threads first use a pool: a
/// thread's shard in every pool is its number modulo the pool's shard count.
static NEXT_THREAD_NUMBER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_NUMBER: usize = NEXT_THREAD_NUMBER.fetch_add(1, Ordering::Relaxed);
}

fn own_shard(shards: usize) -> usize {
    THREAD_NUMBER.with(|number| *number) % shards
}

/// Reuse keys are hashes already (`Peer::reuse_hash`): used as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // only u64 keys are hashed (write_u64); fold anything else in
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair: the pool's side as a [`Stream`], and the peer's.
    async fn pair() -> (Stream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap());
        let (ours, theirs) = tokio::join!(ours, listener.accept());
        let ours: crate::protocols::l4::stream::Stream = ours.unwrap().into();
        (Box::new(ours), theirs.unwrap().0)
    }

    fn pool(capacity: usize) -> IdlePool {
        IdlePool::new(capacity, 2, Arc::new(AtomicU64::new(0)), None)
    }

    #[tokio::test]
    async fn the_last_returned_connection_is_taken_first_and_only_under_its_key() {
        let pool = pool(8);
        let (first, _peer1) = pair().await;
        let (second, _peer2) = pair().await;
        let (first_id, second_id) = (first.id(), second.id());
        pool.put(1, first, None);
        pool.put(1, second, None);
        assert!(pool.take(2).is_none());
        assert_eq!(pool.take(1).map(|s| s.id()), Some(second_id));
        assert_eq!(pool.take(1).map(|s| s.id()), Some(first_id));
        assert!(pool.take(1).is_none());
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn a_connection_past_its_idle_timeout_is_not_taken_and_is_swept() {
        let pool = pool(8);
        let (stream, _peer) = pair().await;
        pool.put(1, stream, Some(Duration::ZERO));
        assert!(pool.take(1).is_none(), "expired at once");
        let (stream, _peer) = pair().await;
        pool.put(1, stream, Some(Duration::from_secs(60)));
        pool.sweep(Instant::now());
        assert_eq!(pool.len(), 1, "still within its timeout");
        pool.sweep(Instant::now() + Duration::from_secs(61));
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn a_connection_its_peer_closed_is_swept() {
        let pool = pool(8);
        let (stream, mut peer) = pair().await;
        pool.put(1, stream, None);
        peer.shutdown().await.unwrap();
        drop(peer);
        // the close reaches the pool's socket through the runtime's driver: sweep until seen (bounded)
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.len() > 0 && Instant::now() < deadline {
            tokio::task::yield_now().await;
            pool.sweep(Instant::now());
        }
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn a_full_pool_drops_its_longest_idle_connection() {
        let evicted = Arc::new(AtomicUsize::new(0));
        let counter = evicted.clone();
        let on_evict: PoolCallback = Arc::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        // capacity 4 over 2 shards: 2 in shard 0, where every connection goes
        let pool = IdlePool::new(4, 2, Arc::new(AtomicU64::new(0)), Some(on_evict));
        let mut peers = Vec::new();
        let mut ids = Vec::new();
        for key in [1, 2, 2] {
            let (stream, peer) = pair().await;
            ids.push(stream.id());
            peers.push(peer);
            pool.put_at(0, key, stream, None);
        }
        assert_eq!(pool.len(), 2);
        assert_eq!(evicted.load(Ordering::Relaxed), 1);
        assert!(pool.take_at(0, 1).is_none(), "key 1's connection was the oldest");
        assert_eq!(pool.take_at(0, 2).map(|s| s.id()), Some(ids[2]));
        assert_eq!(pool.take_at(0, 2).map(|s| s.id()), Some(ids[1]));
    }

    #[tokio::test]
    async fn a_thread_takes_a_connection_another_thread_returned() {
        let pool = pool(8);
        let (stream, _peer) = pair().await;
        let id = stream.id();
        pool.put_at(1, 7, stream, None);
        assert_eq!(pool.take_at(0, 7).map(|s| s.id()), Some(id), "found in the other shard");
        assert!(pool.take_at(1, 7).is_none());
    }
}
