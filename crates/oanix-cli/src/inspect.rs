//! `oanix ns`, `oanix ls`, `oanix cat`: looking inside a manifest's namespace.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use oanix_env::{EnvBuilder, OanixEnv};
use oanix_vfs::{FileKind, FileService, read_file};

fn build(manifest: &Path) -> Result<OanixEnv> {
    let env = EnvBuilder::from_manifest_file(manifest)?.build()?;
    Ok(env)
}

/// Prints the mount table.
pub(crate) fn ns(manifest: &Path) -> Result<()> {
    print!("{}", build(manifest)?.mount_table());
    Ok(())
}

/// Lists a directory (or describes a file).
pub(crate) fn ls(manifest: &Path, path: &str, json: bool) -> Result<()> {
    let env = build(manifest)?;
    let ns = env.namespace();
    let md = ns.stat(path)?;
    let entries = if md.is_dir() {
        ns.readdir(path)?
    } else {
        vec![oanix_vfs::DirEntry::new(
            oanix_vfs::path::file_name(path).unwrap_or(path),
            md.kind,
            md.size,
            md.id,
        )]
    };
    if json {
        println!("{}", serde_json::to_string(&entries)?);
        return Ok(());
    }
    for e in entries {
        let (kind, suffix) = match e.kind {
            FileKind::Directory => ("d", "/".to_owned()),
            FileKind::File => ("-", String::new()),
            FileKind::Symlink => {
                let at = oanix_vfs::path::join(path, &e.name);
                let target = ns.readlink(&at).unwrap_or_else(|err| format!("? ({err})"));
                ("l", format!(" -> {target}"))
            }
            _ => ("?", String::new()),
        };
        println!("{kind} {:>10} {}{suffix}", e.size, e.name);
    }
    Ok(())
}

/// Prints a file's bytes as they are.
pub(crate) fn cat(manifest: &Path, path: &str) -> Result<()> {
    let env = build(manifest)?;
    let data = read_file(env.namespace(), path)?;
    std::io::stdout()
        .write_all(&data)
        .context("writing to standard output")?;
    Ok(())
}
