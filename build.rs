//! Embeds the OpenAPI fragments `docs/openapi/*.json` (one per surface or area, written by
//! whoever adds the endpoints) so `/openapi.json` is assembled from them at start.

use std::{env, error::Error, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let dir = root.join("docs/openapi");
    println!("cargo:rerun-if-changed=docs/openapi");
    println!("cargo:rerun-if-changed=docs/openapi-base.json");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = String::from("/// `(file name, contents)` of every `docs/openapi/*.json`.\n");
    out.push_str("pub const FRAGMENTS: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("openapi_fragments.rs"),
        out,
    )?;
    Ok(())
}
