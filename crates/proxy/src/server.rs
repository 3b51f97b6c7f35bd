//! Starting and stopping one instance's listeners: HTTP and HTTPS on the instance's own data-plane runtime,
//! admin on the current tokio runtime.
//!
//! Sockets are bound here first (so a busy port is a clean error and port 0 gives an ephemeral port), then
//! handed to pingora as pre-opened descriptors. Several instances can run in one process.
//!
//! The data plane runs, by default, on one single-threaded runtime per thread (pingora's
//! `work_stealing: false`): a connection stays on the thread that accepted it, which saves the
//! cross-thread wake-ups and atomics of a work-stealing scheduler (measured in `bench/`).

use std::net::{SocketAddr, TcpListener};
use std::os::fd::IntoRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pingora::apps::http_app::HttpServer;
use pingora::apps::HttpServerOptions;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::ServerConf;
use pingora::server::{Fds, ListenFds};
use pingora::services::listening::Service;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::AdminApp;
use crate::header_deadline::{HeaderDeadline, TlsHandshake};
use crate::live_h2::LiveH2;
use crate::service::GatewayProxy;
use crate::state::ProxyState;
use crate::tls::{CertificateSelector, DEFAULT_CIPHERS};

/// The write buffer of an HTTPS connection. BoringSSL writes each TLS record (up to 16 KiB) on its
/// own; this buffer gathers the records written between two flushes (a response, or an h2 turn's
/// frames), so a 64 KiB response leaves in one or two system calls instead of one per record. It
/// holds more than 4 KiB only while such a burst is buffered (pingora-core's `WriteBuffer`).
const TLS_WRITE_BUFFER_SIZE: usize = 64 * 1024;

/// Where one instance listens; `None` disables a listener. Port 0 picks a free port.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Plain HTTP (HTTP/1.1 and h2c).
    pub http: Option<SocketAddr>,
    /// HTTPS (HTTP/1.1 and h2 by ALPN).
    pub https: Option<SocketAddr>,
    /// Admin endpoints.
    pub admin: Option<SocketAddr>,
    /// Upstream keep-alive pool size (connections kept per instance).
    pub upstream_pool_size: usize,
    /// Longest time a connection may take to finish its TLS handshake, and to send each request head
    /// (slowloris); see [`crate::header_deadline`].
    pub header_timeout: Duration,
    /// Data-plane worker threads (at least one is used).
    pub threads: usize,
    /// One work-stealing runtime for all data-plane threads instead of one runtime per thread.
    pub work_stealing: bool,
    /// Large response bodies no plugin or compression touches go from the upstream's connection to the
    /// client's with `splice(2)` on plain HTTP/1 (see [`crate::GatewayProxy`]).
    pub splice: bool,
}

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The data-plane runtime could not be started.
    #[error("data-plane runtime: {0}")]
    Runtime(std::io::Error),
}

/// The runtime the HTTP and HTTPS listeners of one instance run on.
enum DataPlane {
    /// One current-thread runtime per thread (pingora's no-steal runtime; `None` once dropped).
    PerThread(Option<pingora_runtime::Runtime>),
    /// One tokio multi-thread runtime (`None` once shut down).
    Stealing(Option<tokio::runtime::Runtime>),
}

impl DataPlane {
    fn new(threads: usize, work_stealing: bool) -> Result<Self, StartError> {
        let threads = threads.max(1);
        if !work_stealing {
            return Ok(Self::PerThread(Some(pingora_runtime::Runtime::new_no_steal(threads, "oxigress-proxy"))));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("oxigress-proxy")
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        Ok(Self::Stealing(Some(runtime)))
    }

    /// Where to spawn a listener (for the per-thread runtime: one of its threads; each accepted connection
    /// then goes to a thread of its own choosing).
    fn handle(&self) -> Option<tokio::runtime::Handle> {
        match self {
            Self::PerThread(runtime) => runtime.as_ref().map(|r| r.get_handle().clone()),
            Self::Stealing(runtime) => runtime.as_ref().map(|r| r.handle().clone()),
        }
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        match self {
            // why: dropping a tokio runtime inside an async context panics; this one may be dropped there.
            Self::Stealing(runtime) => {
                if let Some(runtime) = runtime.take() {
                    runtime.shutdown_background();
                }
            }
            // why: pingora finds a no-steal thread's runtime through a `thread_local::ThreadLocal`, whose
            // entries outlive their thread and whose ids are recycled: if these threads ended, a thread
            // started later (the next instance's, in tests) could inherit the dead runtime and drop every
            // connection it accepts. The threads stay parked instead (one per data-plane thread, only when a
            // process starts several instances, i.e. in tests). TODO: per-thread listeners of our own.
            Self::PerThread(runtime) => std::mem::forget(runtime.take()),
        }
    }
}

/// A running instance: its bound addresses and how to stop it.
pub struct Gateway {
    /// The proxy state (apply snapshots here).
    pub state: Arc<ProxyState>,
    /// Bound HTTP address.
    pub http_addr: Option<SocketAddr>,
    /// Bound HTTPS address.
    pub https_addr: Option<SocketAddr>,
    /// Bound admin address.
    pub admin_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _data_plane: DataPlane,
}

impl Gateway {
    /// Binds the listeners and starts serving on the current tokio runtime.
    pub fn start(config: &GatewayConfig, state: Arc<ProxyState>, admin: AdminApp) -> Result<Self, StartError> {
        let fds: ListenFds = Arc::new(Mutex::new(Fds::new()));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let server_conf =
            // why: upstream certificates are verified only against the CA of the Ingress's `proxy-ssl-secret`
            // (never the system store), and each of pingora's four upstream connectors would parse every
            // system CA certificate (~1.1 MiB each).
            Arc::new(ServerConf {
                upstream_keepalive_pool_size: config.upstream_pool_size,
                upstream_system_ca: false,
                ..Default::default()
            });
        let data_plane = DataPlane::new(config.threads, config.work_stealing)?;
        // (service, runs on the data plane)
        let mut services: Vec<(Box<dyn pingora::services::Service>, bool)> = Vec::new();

        let http_addr = config.http.map(|addr| bind(addr, &fds)).transpose()?;
        if let Some(addr) = http_addr {
            let mut proxy = pingora::proxy::http_proxy(&server_conf, GatewayProxy::new(state.clone(), false, config.splice));
            let mut options = HttpServerOptions::default();
            options.h2c = true;
            proxy.server_options = Some(options);
            let proxy = LiveH2::new(proxy, state.clone());
            let mut service =
                Service::new("oxigress-http".to_string(), HeaderDeadline::new(proxy, config.header_timeout));
            // Plain HTTP reads go straight into pingora's request buffers: pingora's default 64 KiB L4
            // read buffer was allocated zeroed for every connection and copied every read once more
            // (it pays off under TLS, whose small record reads it batches: the HTTPS listener keeps it).
            service.add_listener(
                ListenerConfig::tcp(addr.to_string()).l4_buffer(L4BufferSettings::default().read(0)),
            );
            services.push((Box::new(service), true));
        }

        let https_addr = config.https.map(|addr| bind(addr, &fds)).transpose()?;
        if let Some(addr) = https_addr {
            let proxy = pingora::proxy::http_proxy(&server_conf, GatewayProxy::new(state.clone(), true, config.splice));
            let proxy = LiveH2::new(proxy, state.clone());
            // TLS is done by HeaderDeadline (so the handshake has a deadline): a plain TCP listener.
            let tls = TlsHandshake::new(Box::new(CertificateSelector::new(state.clone())), DEFAULT_CIPHERS)
                .map_err(|e| StartError::Tls(e.to_string()))?;
            let app = HeaderDeadline::new(proxy, config.header_timeout).with_tls(tls);
            let mut service = Service::new("oxigress-https".to_string(), app);
            service.add_listener(
                ListenerConfig::tcp(addr.to_string())
                    .l4_buffer(L4BufferSettings::default().write(TLS_WRITE_BUFFER_SIZE)),
            );
            services.push((Box::new(service), true));
        }

        let admin_addr = config.admin.map(|addr| bind(addr, &fds)).transpose()?;
        if let Some(addr) = admin_addr {
            let mut service = Service::new("oxigress-admin".to_string(), HttpServer::new_app(admin));
            service.add_tcp(&addr.to_string());
            services.push((Box::new(service), false));
        }

        let tasks = services
            .into_iter()
            .map(|(mut service, data)| {
                let fds = fds.clone();
                let shutdown = shutdown_rx.clone();
                let task = async move { service.start_service(Some(fds), shutdown, 1).await };
                match data_plane.handle().filter(|_| data) {
                    Some(handle) => handle.spawn(task),
                    None => tokio::spawn(task),
                }
            })
            .collect();
        Ok(Self { state, http_addr, https_addr, admin_addr, shutdown, tasks, _data_plane: data_plane })
    }

    /// Stops accepting connections, then waits (at most `drain`) for in-flight requests to finish.
    /// Returns the number of requests still running when the wait ended.
    pub async fn shutdown(self, drain: Duration) -> usize {
        // The receivers live in the listener tasks; if they are gone there is nothing left to stop.
        let _ = self.shutdown.send(true);
        let deadline = Instant::now() + drain;
        for task in self.tasks {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, task).await.is_err() {
                break;
            }
        }
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while self.state.in_flight() > 0 && Instant::now() < deadline {
            tick.tick().await;
        }
        self.state.in_flight()
    }
}

/// Binds `addr` now and records the socket for pingora under its actual address.
fn bind(addr: SocketAddr, fds: &ListenFds) -> Result<SocketAddr, StartError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(|source| StartError::Bind { addr, source })?;
    fds.lock().add(bound.to_string(), listener.into_raw_fd());
    Ok(bound)
}

/// A plain HTTP application (e.g. a test echo backend) served on its own listener.
pub struct AppServer {
    /// Bound address.
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl AppServer {
    /// Binds `addr` (port 0 picks a free port) and serves `app` on the current tokio runtime.
    pub fn start<A>(addr: SocketAddr, name: &str, app: A) -> Result<Self, StartError>
    where
        A: pingora::apps::http_app::ServeHttp + Send + Sync + 'static,
    {
        let fds: ListenFds = Arc::new(Mutex::new(Fds::new()));
        let bound = bind(addr, &fds)?;
        let mut service = Service::new(name.to_string(), HttpServer::new_app(app));
        service.add_tcp(&bound.to_string());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            pingora::services::Service::start_service(&mut service, Some(fds), shutdown_rx, 1).await
        });
        Ok(Self { addr: bound, shutdown, task })
    }

    /// Stops accepting connections and waits for the listener to close.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
