//! `watchfloor backup PATH`: a consistent copy of the database, safe while the daemon runs.
//!
//! The copy is written in a private folder beside PATH, checked, synced, and only then given
//! its name, so a file at PATH is always a complete, checked backup: a crash or a full disk
//! leaves at most a `.NAME.partial-PID` folder, never a half-written PATH. PATH is never the
//! live database, nor anything but a regular file (see [`check_target`]).

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, load_settings};
use crate::error::error_chain;
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

/// A private folder beside PATH (mode 0700, created by this run, so no other user can put a
/// link or a device in it) holding the copy until it is checked and renamed into place.
/// Removed with what is left in it, unless the copy became the backup.
struct Staging {
    dir: PathBuf,
    copy: PathBuf,
    keep: bool,
}

impl Staging {
    fn create(beside: &Path, name: &std::ffi::OsStr) -> anyhow::Result<Staging> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = beside.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        // Left by an earlier run that died with the same process id.
        let _ = std::fs::remove_file(dir.join("copy"));
        let _ = std::fs::remove_file(dir.join("copy-journal"));
        let _ = std::fs::remove_dir(&dir);
        // `create` fails on anything already there, a symbolic link included.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("{}: cannot create the staging folder", dir.display()))?;
        Ok(Staging {
            copy: dir.join("copy"),
            dir,
            keep: false,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.copy);
        }
        let _ = std::fs::remove_file(journal_of(&self.copy));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn journal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-journal");
    PathBuf::from(name)
}

/// The database and the files SQLite keeps beside it while it is open.
fn live_files(database: &Path) -> Vec<PathBuf> {
    let mut files = vec![database.to_owned()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

/// Refuses a PATH a backup must never replace: anything but an absent path or a regular file
/// (a directory, a device such as /dev/full, a symbolic link, a pipe), the live database or
/// one of its companion files, however reached (by device and inode, so through hard links
/// too), and an existing file without `--force`.
fn check_target(target: &Path, database: &Path, force: bool) -> Result<(), UsageError> {
    use std::os::unix::fs::MetadataExt;
    let found = match std::fs::symlink_metadata(target) {
        Ok(found) => found,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(UsageError(format!(
                "{}: cannot inspect: {e}",
                target.display()
            )));
        }
    };
    let kind = found.file_type();
    if !kind.is_file() {
        let what = if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        return Err(UsageError(format!(
            "{}: {what}; a backup replaces only a regular file",
            target.display()
        )));
    }
    for live in live_files(database) {
        if let Ok(live_meta) = std::fs::metadata(&live)
            && (live_meta.dev(), live_meta.ino()) == (found.dev(), found.ino())
        {
            return Err(UsageError(format!(
                "{}: is the live database {} (or a file of it): a backup never replaces it",
                target.display(),
                live.display()
            )));
        }
    }
    if !force {
        return Err(UsageError(format!(
            "{}: already exists; pass --force to replace it",
            target.display()
        )));
    }
    Ok(())
}

pub fn run(global: &GlobalArgs, args: &BackupArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let target = &args.path;
    check_target(target, &settings.database, args.force)?;
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
    let mut partial = Staging::create(&dir, name)?;

    let source = Store::open_read_only(&settings.database)?;
    let progress = CopyProgress::start(&settings.database, &partial.copy);
    let copied = source.vacuum_into(&partial.copy);
    progress.finish();
    copied.map_err(|e| {
        anyhow::anyhow!(
            "{}: copying {} failed: {}",
            partial.copy.display(),
            settings.database.display(),
            error_chain(&e)
        )
    })?;
    drop(source);
    let report = Store::check_copy(&partial.copy)
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
    File::open(&partial.copy)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("{}: cannot sync the copy", partial.copy.display()))?;

    if args.force {
        std::fs::rename(&partial.copy, target)
            .with_context(|| format!("{}: cannot write the backup", target.display()))?;
        partial.keep = true;
    } else {
        // A hard link never replaces a file that appeared since the check above.
        match std::fs::hard_link(&partial.copy, target) {
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
                std::fs::rename(&partial.copy, target)
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

/// A progress bar on a terminal while the copy grows: `VACUUM INTO` is one statement, so the
/// copy's size on disk, against the database's, is what there is to show. Nothing when stderr
/// is not a terminal (a cron job's log gets only the result).
struct CopyProgress {
    watcher: Option<(std::thread::JoinHandle<()>, std::sync::mpsc::Sender<()>)>,
}

impl CopyProgress {
    fn start(database: &Path, copy: &Path) -> CopyProgress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return CopyProgress { watcher: None };
        }
        let total = std::fs::metadata(database).map_or(0, |m| m.len());
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "copying {bar:40} {bytes}/{total_bytes}, {bytes_per_sec}",
            )
            .expect("valid template"),
        );
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let copy = copy.to_owned();
        let watcher = std::thread::spawn(move || {
            loop {
                bar.set_position(std::fs::metadata(&copy).map_or(0, |m| m.len()).min(total));
                match stopped.recv_timeout(std::time::Duration::from_millis(100)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            bar.finish_and_clear();
        });
        CopyProgress {
            watcher: Some((watcher, stop)),
        }
    }

    fn finish(self) {
        if let Some((watcher, stop)) = self.watcher {
            drop(stop);
            let _ = watcher.join();
        }
    }
}
