//! `schema/schema.graphql` is an artefact: it must equal what `aeternum export-schema` prints.

use std::process::Command;

#[test]
fn the_committed_schema_matches_export_schema() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql"))
        .expect("schema/schema.graphql exists");
    let output = Command::new(env!("CARGO_BIN_EXE_aeternum"))
        .arg("export-schema")
        .env("AETERNUM_LOG__FILTER", "off")
        .output()
        .expect("aeternum export-schema runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let exported = String::from_utf8(output.stdout).unwrap();
    assert!(
        committed == exported,
        "schema/schema.graphql is out of date: run `cargo run -- export-schema --out schema/schema.graphql` and commit it"
    );
    assert_eq!(exported, aeternum::schema::sdl());
}
