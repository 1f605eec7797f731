//! `watchfloor backup PATH`: a consistent copy of the database, safe while the daemon runs.
//!
//! The copy is written under a hidden temporary name beside PATH, checked, synced, and only
//! then given its name, so a file at PATH is always a complete, checked backup: a crash or a
//! full disk leaves at most a `.NAME.partial-PID` file, never a half-written PATH.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, load_settings};
use crate::pipeline::error_chain;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy; refused if something is there already, unless --force
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Replace PATH if it exists
    #[arg(long)]
    pub force: bool,
}

/// The temporary copy, removed unless it became the backup.
struct Partial {
    path: PathBuf,
    keep: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_file(journal_of(&self.path));
        }
    }
}

fn journal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-journal");
    PathBuf::from(name)
}

pub fn run(global: &GlobalArgs, args: &BackupArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let target = &args.path;
    // symlink_metadata: a dangling symlink is something there too.
    if !args.force && std::fs::symlink_metadata(target).is_ok() {
        return Err(UsageError(format!(
            "{}: already exists; pass --force to replace it",
            target.display()
        ))
        .into());
    }
    let Some(name) = target.file_name() else {
        return Err(UsageError(format!("{}: not a file name", target.display())).into());
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(UsageError(format!("{}: no such directory", dir.display())).into());
    }
    let mut partial = Partial {
        path: dir.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        )),
        keep: false,
    };
    // Left by an earlier run that died with the same process id; VACUUM INTO will not
    // overwrite it.
    let _ = std::fs::remove_file(&partial.path);

    let source = Store::open_read_only(&settings.database)?;
    source.vacuum_into(&partial.path).map_err(|e| {
        anyhow::anyhow!(
            "{}: copying {} failed: {}",
            partial.path.display(),
            settings.database.display(),
            error_chain(&e)
        )
    })?;
    drop(source);
    let report = Store::check_copy(&partial.path)
        .map_err(|e| anyhow::anyhow!("checking the copy failed: {}", error_chain(&e)))?;
    if report.integrity != "ok" {
        eprintln!(
            "watchfloor: error: the copy of {} fails PRAGMA integrity_check: {}; nothing written \
             to {}",
            settings.database.display(),
            report.integrity,
            target.display()
        );
        return Ok(EXIT_FINDINGS);
    }
    File::open(&partial.path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("{}: cannot sync the copy", partial.path.display()))?;

    if args.force {
        std::fs::rename(&partial.path, target)
            .with_context(|| format!("{}: cannot write the backup", target.display()))?;
        partial.keep = true;
    } else {
        // A hard link never replaces a file that appeared since the check above.
        match std::fs::hard_link(&partial.path, target) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(UsageError(format!(
                    "{}: already exists; pass --force to replace it",
                    target.display()
                ))
                .into());
            }
            // Some file systems have no hard links; then only the check above guards PATH.
            Err(_) => {
                std::fs::rename(&partial.path, target)
                    .with_context(|| format!("{}: cannot write the backup", target.display()))?;
                partial.keep = true;
            }
        }
    }
    drop(partial);
    // The new name must survive a crash too.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    println!(
        "{}: {} bytes ({:.1} MiB), schema version {}, integrity_check: {}",
        target.display(),
        report.bytes,
        report.bytes as f64 / 1_048_576.0,
        report.schema_version,
        report.integrity
    );
    Ok(EXIT_OK)
}
