//! Compiles `proto/originhub/v1/*.proto` with protox (no system `protoc`) and generates the tonic
//! services and prost messages, plus the encoded descriptor set the reflection service serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "audit.proto",
        "canonical.proto",
        "member.proto",
        "operator.proto",
    ]
    .map(|name| proto_root.join("originhub/v1").join(name));
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let descriptors = protox::compile(&files, [&proto_root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // The reflection service serves these bytes.
    std::fs::write(
        out.join("originhub_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
