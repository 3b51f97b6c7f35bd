//! Command-line flags. Instance flags mirror Higress's controller flags (`--ingressClass`,
//! `--watchNamespace`, `POD_NAMESPACE`), with several watched namespaces allowed.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use oxigress_translate::InstanceOptions;

/// oxigress: a Higress-compatible gateway.
#[derive(Debug, Parser)]
#[command(name = "oxigress", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Kubernetes manifests of a directory (watched for changes).
    Standalone(StandaloneArgs),
    /// Kubernetes mode: watch the API server, translate, stream snapshots to the instance's gateways.
    Controller(ControllerArgs),
    /// Kubernetes mode: serve traffic with the snapshots streamed by the instance's controller.
    Gateway(GatewayArgs),
    /// Print the IR and diagnostics an instance would serve for a directory, then exit.
    Translate(TranslateArgs),
    /// Run a small echo backend (answers every request with a JSON description of it).
    Echo(EchoArgs),
    /// Run a small OpenAI-compatible LLM stand-in (chat completions, streaming or not; needs a Bearer key).
    LlmMock(LlmMockArgs),
}

/// Which objects an instance owns.
#[derive(Debug, Clone, Args)]
pub struct InstanceArgs {
    /// IngressClass to serve: `nginx` also takes Ingresses without a class, "" takes all.
    #[arg(long, default_value = "higress")]
    pub ingress_class: String,
    /// Namespaces to watch (comma-separated or repeated); none = all.
    #[arg(long, value_delimiter = ',')]
    pub watch_namespace: Vec<String>,
    /// Instance name (metrics label `instance`, label `oxigress.io/instance`).
    #[arg(long, default_value = "higress-gateway")]
    pub instance_name: String,
    /// The instance's own namespace (Higress POD_NAMESPACE): route names, WasmPlugins, ConfigMaps.
    #[arg(long, default_value = "higress-system")]
    pub instance_namespace: String,
}

impl InstanceArgs {
    /// The translation options these flags describe.
    pub fn options(&self) -> InstanceOptions {
        InstanceOptions {
            instance_name: self.instance_name.clone(),
            instance_namespace: self.instance_namespace.clone(),
            ingress_class: self.ingress_class.clone(),
            watch_namespaces: self.watch_namespace.iter().filter(|n| !n.is_empty()).cloned().collect(),
        }
    }
}

/// `oxigress standalone`.
#[derive(Debug, Clone, Args)]
pub struct StandaloneArgs {
    /// Directory of manifests (*.yaml, *.yml, *.json, recursively).
    #[arg(long)]
    pub manifests: PathBuf,
    /// Instance selection.
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Listeners.
    #[command(flatten)]
    pub listen: ListenArgs,
}

/// `oxigress translate`.
#[derive(Debug, Clone, Args)]
pub struct TranslateArgs {
    /// Directory of manifests.
    #[arg(long)]
    pub manifests: PathBuf,
    /// Instance selection.
    #[command(flatten)]
    pub instance: InstanceArgs,
}

/// `oxigress echo`.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    pub port: u16,
    /// Reported as `namespace`.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Reported as `pod`.
    #[arg(long, default_value = "echo")]
    pub pod: String,
    /// Reported as `service`.
    #[arg(long, default_value = "")]
    pub service: String,
}

/// `oxigress llm-mock`.
#[derive(Debug, Clone, Args)]
pub struct LlmMockArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    pub port: u16,
    /// Reported as `system_fingerprint` in answers.
    #[arg(long, default_value = "oxigress-llm-mock")]
    pub name: String,
}

/// Listener flags shared by `standalone` and `gateway`.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// HTTP port (0 = any free port, see the `started` log line).
    #[arg(long, default_value_t = 80)]
    pub http_port: u16,
    /// HTTPS port (0 = any free port).
    #[arg(long, default_value_t = 443)]
    pub https_port: u16,
    /// Admin port: readiness, metrics, debug (0 = any free port).
    #[arg(long, default_value_t = 15021)]
    pub admin_port: u16,
    /// Address of the HTTP and HTTPS listeners.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Address of the admin listener (`0.0.0.0` in a pod, for probes and scraping).
    #[arg(long, default_value = "127.0.0.1")]
    pub admin_bind: IpAddr,
    /// Longest wait for in-flight requests on SIGTERM, in seconds.
    #[arg(long, default_value_t = 15)]
    pub drain_timeout: u64,
    /// Longest time a connection may take to finish its TLS handshake, and to send each request head
    /// (from the head's first byte on keep-alive connections), in seconds (slowloris; nginx's
    /// `client_header_timeout`).
    #[arg(long, default_value_t = 60)]
    pub header_timeout: u64,
    /// Upstream keep-alive connections kept per instance (should cover peak concurrency).
    #[arg(long, default_value_t = 1024)]
    pub upstream_pool_size: usize,
    /// Data-plane worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Share connections between the data-plane threads (one work-stealing runtime) instead of keeping each
    /// connection on the thread that accepted it (the default: faster per core).
    #[arg(long)]
    pub work_stealing: bool,
    /// Read and write every response body. By default a large body no plugin or compression touches is
    /// passed from the upstream's connection to the client's with `splice(2)` on plain HTTP/1, never
    /// entering the gateway; this turns that off.
    #[arg(long)]
    pub no_splice: bool,
}

/// `oxigress controller`.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Instance selection.
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Write `status.loadBalancer` of the Ingresses this instance owns (leader only).
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub enable_status: bool,
    /// The gateway Service (instance namespace) whose addresses go into Ingress status
    /// (default: `<instance-name>-gateway`).
    #[arg(long)]
    pub gateway_service: Option<String>,
    /// Port gateways connect to for snapshots.
    #[arg(long, default_value_t = 15051)]
    pub xds_port: u16,
    /// Address of the snapshot stream listener.
    #[arg(long, default_value = "0.0.0.0")]
    pub xds_bind: IpAddr,
    /// Admin port: readiness, metrics, debug (0 = any free port).
    #[arg(long, default_value_t = 8888)]
    pub admin_port: u16,
    /// Address of the admin listener.
    #[arg(long, default_value = "127.0.0.1")]
    pub admin_bind: IpAddr,
    /// Kubeconfig file (default: in-cluster config, then `$KUBECONFIG` / `~/.kube/config`).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// This replica's identity for leader election (default: `$POD_NAME`, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// File holding the token gateways must present (e.g. a mounted Secret).
    #[arg(long)]
    pub stream_token_file: Option<PathBuf>,
    /// TLS certificate (PEM) of the snapshot stream.
    #[arg(long, requires = "stream_tls_key")]
    pub stream_tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of the snapshot stream.
    #[arg(long, requires = "stream_tls_cert")]
    pub stream_tls_key: Option<PathBuf>,
    /// CA (PEM) gateway client certificates must chain to (mTLS).
    #[arg(long)]
    pub stream_client_ca: Option<PathBuf>,
}

/// `oxigress gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// The instance's controller, `HOST:PORT` or a URL.
    #[arg(long)]
    pub controller: String,
    /// Instance name (must match the controller's).
    #[arg(long, default_value = "higress-gateway")]
    pub instance_name: String,
    /// This gateway's id towards the controller (default: `$POD_NAME`, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub gateway_id: Option<String>,
    /// Listeners.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// File holding the token to present to the controller.
    #[arg(long)]
    pub stream_token_file: Option<PathBuf>,
    /// CA (PEM) the controller's certificate must chain to (enables TLS).
    #[arg(long)]
    pub stream_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS.
    #[arg(long, requires = "stream_key")]
    pub stream_cert: Option<PathBuf>,
    /// Client private key (PEM) for mTLS.
    #[arg(long, requires = "stream_cert")]
    pub stream_key: Option<PathBuf>,
    /// Name to verify the controller's certificate against (default: the host of `--controller`).
    #[arg(long)]
    pub stream_server_name: Option<String>,
}
