//! The UI's TypeScript IPC types are generated from Rust and committed; this
//! fails when the committed file is stale. `COFFER_UPDATE_BINDINGS=1 cargo
//! test -p coffer-client --test bindings` rewrites it.

use std::path::Path;

#[test]
fn committed_typescript_bindings_match_the_rust_types() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/ipc/bindings.ts");
    let generated = coffer_client::bindings::typescript();
    if std::env::var_os("COFFER_UPDATE_BINDINGS").is_some() {
        std::fs::write(&file, &generated).expect("write bindings.ts");
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/lib/ipc/bindings.ts is stale: run `COFFER_UPDATE_BINDINGS=1 cargo test -p coffer-client --test bindings` and commit it"
    );
}
