use super::*;

#[tokio::test]
async fn schema_graphql_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("schema.db").display());
    let store = Store::connect(&crate::store::StoreOptions::new(&url))
        .await
        .unwrap();
    let schema = build_schema(store.clone(), Events::start(store), Limits::default());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");

    let current = std::fs::read_to_string(path).unwrap_or_default();
    // Until the CLI's `schema` command lands, CHARGEGRAPH_BLESS_SCHEMA=1
    // rewrites the file from the code.
    if std::env::var_os("CHARGEGRAPH_BLESS_SCHEMA").is_some() {
        std::fs::write(path, sdl(&schema)).unwrap();
        return;
    }

    assert!(
        current == sdl(&schema),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}
