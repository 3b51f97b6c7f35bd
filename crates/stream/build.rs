//! Generates the gRPC messages and service from `proto/` with protox (a pure-Rust protobuf compiler), so
//! the build needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["oxigress/stream/v1/stream.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Snapshot bytes are shared between subscribers: `bytes::Bytes` clones without copying.
        .bytes(".oxigress.stream.v1.SnapshotMessage.snapshot_json")
        .compile_fds(descriptors)?;
    Ok(())
}
