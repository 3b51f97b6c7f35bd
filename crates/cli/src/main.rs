//! The `oxigress` binary: parses flags, sets up logging and the runtime, runs a subcommand.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use oxigress_cli::args::{Cli, Command, EchoArgs, StandaloneArgs, TranslateArgs};
use oxigress_cli::echo::EchoApp;
use oxigress_cli::standalone::{Instance, StandaloneConfig};
use oxigress_proxy::{AppServer, GatewayConfig};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    oxigress_cli::logging::init(cli.log_format);
    let threads = match &cli.command {
        Command::Standalone(args) => args.threads,
        _ => Some(1),
    }
    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
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
            Command::Translate(args) => translate(args),
            Command::Echo(args) => echo(args).await,
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


async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let config = StandaloneConfig {
        manifests: args.manifests.clone(),
        instance: args.instance.options(),
        listen: GatewayConfig {
            http: Some(SocketAddr::new(args.bind, args.http_port)),
            https: Some(SocketAddr::new(args.bind, args.https_port)),
            admin: Some(SocketAddr::new(args.admin_bind, args.admin_port)),
            upstream_pool_size: args.upstream_pool_size,
        },
    };
    let instance = Instance::start(config)?;
    wait_for_signal().await?;
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let left = instance.shutdown(Duration::from_secs(args.drain_timeout)).await;
    if left > 0 {
        tracing::warn!(requests = left, "drain timeout reached with requests still running");
    }
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        result = tokio::signal::ctrl_c() => result?,
    }
    Ok(())
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

async fn echo(args: EchoArgs) -> anyhow::Result<()> {
    let app = EchoApp { namespace: args.namespace, pod: args.pod, service: args.service };
    let server = AppServer::start(SocketAddr::from(([127, 0, 0, 1], args.port)), "oxigress-echo", app)?;
    tracing::info!(addr = %server.addr, "echo backend listening");
    wait_for_signal().await?;
    server.stop().await;
    Ok(())
}
