//! The `oxigress` binary: parses flags, sets up logging and the runtime, runs a subcommand.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use oxigress_cli::args::{
    Cli, Command, ControllerArgs, EchoArgs, GatewayArgs, ListenArgs, LlmMockArgs, StandaloneArgs, TranslateArgs,
};
use oxigress_cli::cluster_writes::ClusterWritesConfig;
use oxigress_cli::controller::{ControllerConfig, ControllerProcess};
use oxigress_cli::echo::EchoApp;
use oxigress_cli::gateway::{GatewayProcess, GatewayProcessConfig};
use oxigress_cli::standalone::{Instance, StandaloneConfig};
use oxigress_proxy::{AppServer, GatewayConfig};
use oxigress_stream::{ClientOptions, ClientTls, ServerTls};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    oxigress_cli::logging::init(cli.log_format);
    // The data plane has runtimes of its own (`--threads`, see oxigress_proxy::Gateway); this one runs the
    // control side: the manifest or snapshot stream, translation, admin.
    let threads = match &cli.command {
        Command::Controller(_) => 2,
        _ => 1,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("oxigress: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Standalone(args) => standalone(args).await,
            Command::Controller(args) => controller(args).await,
            Command::Gateway(args) => gateway(args).await,
            Command::Translate(args) => translate(args),
            Command::Echo(args) => echo(args).await,
            Command::LlmMock(args) => llm_mock(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("oxigress: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn listen(args: &ListenArgs) -> GatewayConfig {
    GatewayConfig {
        http: Some(SocketAddr::new(args.bind, args.http_port)),
        https: Some(SocketAddr::new(args.bind, args.https_port)),
        admin: Some(SocketAddr::new(args.admin_bind, args.admin_port)),
        upstream_pool_size: args.upstream_pool_size,
        header_timeout: Duration::from_secs(args.header_timeout),
        threads: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        work_stealing: args.work_stealing,
        splice: !args.no_splice,
    }
}

async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let config =
        StandaloneConfig { manifests: args.manifests.clone(), instance: args.instance.options(), listen: listen(&args.listen) };
    let instance = Instance::start(config)?;
    wait_for_signal(|| {
        tracing::info!("SIGHUP: re-reading the manifests");
        instance.reload();
    })
    .await?;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let left = instance.shutdown(Duration::from_secs(args.listen.drain_timeout)).await;
    if left > 0 {
        tracing::warn!(requests = left, "drain timeout reached with requests still running");
    }
    Ok(())
}

async fn controller(args: ControllerArgs) -> anyhow::Result<()> {
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    let instance = args.instance.options();
    let stream_tls = match (&args.stream_tls_cert, &args.stream_tls_key) {
        (Some(cert), Some(key)) => Some(ServerTls {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
            client_ca_pem: args.stream_client_ca.as_deref().map(read).transpose()?,
        }),
        _ => None,
    };
    let config = ControllerConfig {
        stream: SocketAddr::new(args.xds_bind, args.xds_port),
        admin: Some(SocketAddr::new(args.admin_bind, args.admin_port)),
        stream_token: args.stream_token_file.as_deref().map(read_token).transpose()?,
        stream_tls,
        writes: ClusterWritesConfig::new(
            args.enable_status,
            args.gateway_service.clone().unwrap_or_else(|| format!("{}-gateway", instance.instance_name)),
            args.identity.clone().unwrap_or_else(host_name),
        ),
        sync_timeout: Duration::from_secs(120),
        instance,
    };
    let process = ControllerProcess::start(client, config).await?;
    wait_for_signal(ignore_hangup).await?;
    tracing::info!("shutting down: releasing leadership, closing the snapshot stream");
    process.shutdown().await;
    Ok(())
}

async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let mut stream = ClientOptions::new(args.controller.clone(), args.instance_name.clone());
    if let Some(id) = args.gateway_id.clone().or_else(|| Some(host_name())) {
        stream.gateway_id = id;
    }
    stream.token = args.stream_token_file.as_deref().map(read_token).transpose()?;
    if let Some(ca) = &args.stream_ca {
        let identity = match (&args.stream_cert, &args.stream_key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        stream.tls = Some(ClientTls { ca_pem: read(ca)?, identity, server_name: args.stream_server_name.clone() });
    }
    let process = GatewayProcess::start(GatewayProcessConfig { stream, listen: listen(&args.listen) })?;
    wait_for_signal(ignore_hangup).await?;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let left = process.shutdown(Duration::from_secs(args.listen.drain_timeout)).await;
    if left > 0 {
        tracing::warn!(requests = left, "drain timeout reached with requests still running");
    }
    Ok(())
}

async fn kube_client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await.context("no in-cluster config and no kubeconfig")?,
    };
    Ok(kube::Client::try_from(config)?)
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    Ok(String::from_utf8(read(path)?).context("the token file is not UTF-8")?.trim().to_string())
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("oxigress-{}", std::process::id()))
}

/// Waits for SIGTERM or SIGINT. SIGHUP runs `on_hangup` and keeps waiting.
///
/// why: without a handler, SIGHUP (nginx users' reflex to reload, or a closing terminal) would kill the
/// process and every request in flight.
async fn wait_for_signal(on_hangup: impl Fn()) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            result = tokio::signal::ctrl_c() => return Ok(result?),
            _ = hangup.recv() => on_hangup(),
        }
    }
}

/// SIGHUP where there is nothing to re-read (the configuration streams in, or there is none).
fn ignore_hangup() {
    tracing::info!("SIGHUP ignored: this process has no configuration files to re-read");
}

fn translate(args: TranslateArgs) -> anyhow::Result<()> {
    let snapshot = oxigress_sources::ManifestDir::new(&args.manifests).reload();
    let translation = oxigress_translate::translate(&snapshot.resources, &args.instance.options());
    let mut diagnostics = snapshot.diagnostics;
    diagnostics.extend(translation.diagnostics);
    let out = serde_json::json!({ "ir": translation.snapshot, "diagnostics": diagnostics });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn llm_mock(args: LlmMockArgs) -> anyhow::Result<()> {
    let app = oxigress_cli::llm_mock::LlmMockApp { name: args.name };
    let server = AppServer::start(SocketAddr::from(([127, 0, 0, 1], args.port)), "oxigress-llm-mock", app)?;
    tracing::info!(addr = %server.addr, "LLM mock listening");
    wait_for_signal(ignore_hangup).await?;
    server.stop().await;
    Ok(())
}

async fn echo(args: EchoArgs) -> anyhow::Result<()> {
    let app = EchoApp { namespace: args.namespace, pod: args.pod, service: args.service };
    let server = AppServer::start(SocketAddr::from(([127, 0, 0, 1], args.port)), "oxigress-echo", app)?;
    tracing::info!(addr = %server.addr, "echo backend listening");
    wait_for_signal(ignore_hangup).await?;
    server.stop().await;
    Ok(())
}
