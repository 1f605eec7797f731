//! WAL checkpoints on a thread of their own, so that polls do not wait for the disk.
//!
//! By default SQLite copies the write-ahead log back into the database file (a checkpoint)
//! inside the commit that takes the log past 1,000 pages, and that copy ends in two fsyncs.
//! On a stream of polls this stalled the pipeline thread for a fifth of its time
//! (`watchfloor bench ingest`: 2.6–2.7 s for the first pass, 2.1 s with the checkpoints moved
//! here). With a [`Checkpointer`], the writing connection's WAL hook only reports how long
//! the log is; a thread with a connection of its own runs PASSIVE checkpoints, which never
//! take the write lock and never wait for readers.
//!
//! A PASSIVE checkpoint copies the frames committed before it began, and the log starts over
//! only once a checkpoint has copied all of it. Under continuous writing the thread is always
//! a little behind, so the log would grow for as long as the writing lasts. When it reaches
//! [`CheckpointPolicy::log_limit`] frames, the writer therefore checkpoints at the end of its
//! commit, as SQLite would, after any background run has ended: what is left to copy is only
//! what was written during that run, and the next transaction starts the log over.
//!
//! A checkpoint that fails (a full disk, a reader holding an old snapshot) loses nothing: the
//! frames stay in the log, readers see them there, and the next checkpoint copies them. A
//! log that grew behind a long reader is cut back to twice [`CheckpointPolicy::log_bytes`]
//! when it next starts over (`journal_size_limit`), so a backup does not leave a large -wal
//! file.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use super::StoreError;

/// When checkpoints run, in WAL frames (one frame holds one 4 KiB page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Frames committed since the last checkpoint that wake the thread: SQLite's own
    /// autocheckpoint threshold, so the disk sees checkpoints as often as it would without
    /// the thread.
    pub step: i32,
    /// Log length at which the writer checkpoints itself, so that the log starts over.
    pub log_limit: i32,
}

impl CheckpointPolicy {
    /// The size of a log of `log_limit` frames of 4 KiB pages (each frame has a 24-byte header,
    /// the file a 32-byte one); the -wal file is cut back to twice this when the log starts
    /// over.
    pub fn log_bytes(&self) -> i64 {
        32 + i64::from(self.log_limit) * (4096 + 24)
    }
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        // 8,000 frames are about 32 MB of log: a bound on the -wal file, and about one
        // writer-side checkpoint per 10,000 stored items while polls never pause.
        CheckpointPolicy {
            step: 1_000,
            log_limit: 8_000,
        }
    }
}

/// The checkpoint thread, and what the writer's hook shares with it. Dropping it stops the
/// thread after the run in progress.
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    policy: CheckpointPolicy,
}

#[derive(Default)]
struct State {
    /// A commit took the log a step past what was last copied.
    wanted: bool,
    /// A checkpoint is under way (on the thread or in the writer).
    running: bool,
    stop: bool,
    /// Frames of the log that the last checkpoint had copied.
    copied: i32,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait_while<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        busy: impl FnMut(&mut State) -> bool,
    ) -> MutexGuard<'a, State> {
        self.changed
            .wait_while(guard, busy)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the outcome of a checkpoint and lets the other side go on.
    fn finish(&self, outcome: Result<(i32, i32), rusqlite::Error>, whose: &str) {
        let mut state = self.lock();
        state.running = false;
        match outcome {
            Ok((_log, copied)) => state.copied = copied,
            // Another process's connection was checkpointing (a CLI command does, at its own
            // commits); what it copies is copied.
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                tracing::debug!("WAL checkpoint ({whose}) skipped: another one is running");
            }
            Err(e) => {
                tracing::warn!("WAL checkpoint ({whose}) failed, to be retried: {e}");
            }
        }
        drop(state);
        self.changed.notify_all();
    }
}

impl Checkpointer {
    /// Opens a second connection to the database at `path` and starts the thread; then
    /// [`Checkpointer::attach`] hands the writer's checkpoints to it.
    pub(super) fn start(path: &Path, policy: CheckpointPolicy) -> Result<Checkpointer, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_error)?;
        // A PASSIVE checkpoint never calls the busy handler, but opening a read of the
        // schema can meet a lock; waiting briefly is better than failing the run.
        conn.busy_timeout(Duration::from_secs(1))
            .map_err(open_error)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            policy,
        });
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || checkpoint_loop(&conn, &shared)
            })
            .map_err(StoreError::Checkpointer)?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Installs the WAL hook on the writing connection. SQLite's own autocheckpoint is a WAL
    /// hook too, so this replaces it.
    pub(super) fn attach(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        conn.wal_hook(Some(move |wal: &mut Wal, frames: i32| {
            after_commit(&shared, wal, frames);
            // The commit has happened whatever this returns; an error would only make the
            // statement that committed report one.
            Ok(())
        }))?;
        Ok(())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer's side, run by SQLite at the end of every commit with the log's length.
fn after_commit(shared: &Shared, wal: &mut Wal, frames: i32) {
    let policy = shared.policy;
    let mut state = shared.lock();
    if frames < state.copied {
        // The log started over since the last checkpoint.
        state.copied = 0;
    }
    if frames >= policy.log_limit {
        let mut state = shared.wait_while(state, |s| s.running);
        state.running = true;
        drop(state);
        let outcome = wal.checkpoint_v2(CheckpointMode::PASSIVE);
        shared.finish(outcome, "writer");
        return;
    }
    if frames - state.copied >= policy.step && !state.wanted {
        state.wanted = true;
        drop(state);
        shared.changed.notify_all();
    }
}

fn checkpoint_loop(conn: &Connection, shared: &Shared) {
    loop {
        let mut state = shared.wait_while(shared.lock(), |s| !s.stop && (s.running || !s.wanted));
        if state.stop {
            return;
        }
        state.wanted = false;
        state.running = true;
        drop(state);
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i32>(1)?, row.get::<_, i32>(2)?))
        });
        shared.finish(outcome, "background");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::store::Store;

    const PAGE: u64 = 4096;

    fn store_with_table(dir: &tempfile::TempDir, policy: CheckpointPolicy) -> Store {
        let mut store = Store::open(&dir.path().join("w.db")).expect("open");
        store
            .conn
            .execute_batch("CREATE TABLE blobs (data BLOB NOT NULL)")
            .expect("table");
        store.checkpoint_with(policy).expect("checkpointer");
        store
    }

    /// Commits `count` transactions of about five pages each, as polls would.
    fn write(store: &mut Store, count: usize) {
        for n in 0..count {
            let tx = store.conn.transaction().expect("begin");
            tx.execute(
                "INSERT INTO blobs (data) VALUES (?1)",
                [vec![n as u8; 5 * PAGE as usize]],
            )
            .expect("insert");
            tx.commit().expect("commit");
        }
    }

    fn size(path: std::path::PathBuf) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    #[test]
    fn the_thread_copies_the_log_into_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store_with_table(
            &dir,
            CheckpointPolicy {
                step: 50,
                log_limit: 1_000_000,
            },
        );
        write(&mut store, 40);
        // Only a checkpoint writes the database file; the writer appends to the log alone,
        // and never checkpoints itself under this policy. The thread copies all but the last
        // step's worth of frames (under 50, about eight transactions).
        let database = dir.path().join("w.db");
        let deadline = Instant::now() + Duration::from_secs(20);
        while size(database.clone()) <= 30 * 5 * PAGE && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            size(database.clone()) > 30 * 5 * PAGE,
            "database file {} bytes",
            size(database)
        );
    }

    #[test]
    fn the_writer_keeps_the_log_bounded_and_loses_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let limit = 200;
        let mut store = store_with_table(
            &dir,
            CheckpointPolicy {
                step: 20,
                log_limit: limit,
            },
        );
        // Ten times the limit in frames.
        write(&mut store, 400);
        let log = size(dir.path().join("w.db-wal"));
        // A frame is a page and a 24-byte header; the last transaction before the limit may
        // overshoot it by its own frames, and the log by a few more while a thread run ends.
        let bound = (limit as u64 + 20) * (PAGE + 24) + 32;
        assert!(log <= bound, "log of {log} bytes, bound {bound}");
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 400);
        assert_eq!(store.integrity_check().expect("check"), "ok");
    }

    #[test]
    fn a_log_grown_behind_a_long_reader_is_cut_back_once_it_starts_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = CheckpointPolicy {
            step: 20,
            log_limit: 200,
        };
        let mut store = store_with_table(&dir, policy);
        write(&mut store, 10);
        // A reader in the middle of a long read, as a backup is: no checkpoint may copy the
        // frames written after its snapshot, so the log cannot start over.
        let reader = Connection::open(dir.path().join("w.db")).expect("reader");
        reader.execute_batch("BEGIN").expect("begin");
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .expect("read");
        assert_eq!(seen, 10);
        write(&mut store, 200);
        let grown = size(dir.path().join("w.db-wal"));
        assert!(
            grown > 3 * policy.log_bytes() as u64,
            "the log did not grow behind the reader: {grown} bytes"
        );
        reader.execute_batch("COMMIT").expect("end the read");
        drop(reader);
        write(&mut store, 100);
        let log = size(dir.path().join("w.db-wal"));
        let bound = 2 * policy.log_bytes() as u64;
        assert!(
            log <= bound,
            "log of {log} bytes after the reader left, bound {bound}"
        );
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 310);
    }

    #[test]
    fn closing_the_store_leaves_everything_in_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store_with_table(&dir, CheckpointPolicy::default());
        write(&mut store, 30);
        drop(store);
        assert_eq!(size(dir.path().join("w.db-wal")), 0, "log left behind");
        let reopened = Store::open(&dir.path().join("w.db")).expect("reopen");
        let rows: i64 = reopened
            .conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 30);
    }
}
