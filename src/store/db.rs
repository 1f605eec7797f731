//! [`Db`]: the one owner of the daemon's database connections, awaited from async code.
//!
//! SQLite calls block, and a tokio worker that blocks stops every task scheduled on it: with
//! two workers, one slow write used to stall `/healthz`, the hit log and the stop signal
//! alike. So no async code touches a connection. Writes are closures sent to one thread that
//! owns the writing connection (SQLite has one writer at a time anyway, and one thread keeps
//! writes in the order they were asked); reads are closures sent to a few threads with
//! read-only connections of their own, which WAL lets read while a write is in progress, so a
//! health check or a page never waits behind a poll. Callers await the answer; synchronous
//! callers (the CLI's one-shot commands, tests) use the `_blocking` forms, which refuse to run
//! inside a runtime.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{Store, StoreError};
use crate::ops::health::Heartbeat;

/// How often an idle writer beats its heartbeat.
const WRITER_IDLE_BEAT: Duration = Duration::from_secs(5);
/// The longest one write normally holds the writer: a write is one transaction of bounded
/// size (one poll's items, one outbox step, one retention batch), and each statement waits at
/// most `BUSY_TIMEOUT` (10 s) for another process's lock. Liveness calls the writer stalled
/// after a few of these without a turn.
pub const LONGEST_WRITE: Duration = Duration::from_secs(60);

/// Read connections: enough that a slow page (a search over the hit log) leaves a connection
/// free for `/healthz`, `/metrics` and the polls' look-ups of known items.
const READERS: usize = 3;

type WriteJob = Box<dyn FnOnce(&mut Store) + Send>;
/// A read job gets the thread's connection, or the error that opening one gave; it answers
/// whether the connection is still good to keep.
type ReadJob = Box<dyn FnOnce(Result<&Store, StoreError>) -> bool + Send>;

/// A cloneable handle on the database; the threads stop when the last handle goes.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// Since when writes have failed for want of storage, and the error.
pub type WriteFailure = (DateTime<Utc>, String);

struct Inner {
    path: PathBuf,
    /// When writes began to fail for want of storage, and why; cleared by the next write
    /// that succeeds. `/healthz` reports it: a full disk must not look healthy.
    write_failure: Arc<Mutex<Option<WriteFailure>>>,
    /// Beaten by the writer thread before each write and every few seconds while idle: a
    /// write that never returns (a hung disk) stops it.
    writer_heartbeat: Arc<Heartbeat>,
    /// `None` only while dropping: closing the channel is what tells the thread to stop.
    writes: Option<mpsc::Sender<WriteJob>>,
    reads: Option<mpsc::Sender<ReadJob>>,
    threads: Vec<JoinHandle<()>>,
}

impl Db {
    /// Opens (creating and migrating if needed) the database on a writer thread of its own,
    /// with WAL checkpoints on another ([`Store::checkpoint_in_background`]). Blocks until the
    /// database is open: call it before the runtime starts, or on the blocking pool.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let (opened_tx, opened_rx) = mpsc::channel();
        let (writes, write_jobs) = mpsc::channel::<WriteJob>();
        let owned = path.to_owned();
        let writer_heartbeat = Arc::new(Heartbeat::new(LONGEST_WRITE));
        let beats = writer_heartbeat.clone();
        let writer = std::thread::Builder::new()
            .name("watchfloor-db-writer".into())
            .spawn(move || {
                let mut store = match Store::open(&owned) {
                    Ok(store) => store,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                if let Err(e) = store.checkpoint_in_background() {
                    // Writes still work without the thread: SQLite then checkpoints inside
                    // the commits.
                    tracing::warn!(
                        "{}: WAL checkpoints stay in the commits: {}",
                        owned.display(),
                        crate::error::error_chain(&e)
                    );
                }
                let _ = opened_tx.send(Ok(()));
                loop {
                    beats.beat();
                    match write_jobs.recv_timeout(WRITER_IDLE_BEAT) {
                        Ok(job) => {
                            beats.beat();
                            job(&mut store);
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(StoreError::Thread)?;
        match opened_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = writer.join();
                return Err(e);
            }
            Err(_) => {
                let _ = writer.join();
                return Err(StoreError::Closed);
            }
        }
        let (reads, read_jobs) = mpsc::channel::<ReadJob>();
        let read_jobs = Arc::new(Mutex::new(read_jobs));
        let mut threads = vec![writer];
        for n in 0..READERS {
            let jobs = read_jobs.clone();
            let owned = path.to_owned();
            let reader = std::thread::Builder::new()
                .name(format!("watchfloor-db-reader-{n}"))
                .spawn(move || read_loop(&owned, &jobs))
                .map_err(StoreError::Thread)?;
            threads.push(reader);
        }
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                write_failure: Arc::default(),
                writer_heartbeat,
                writes: Some(writes),
                reads: Some(reads),
                threads,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Since when, and why, writes have failed for want of storage; `None` while they succeed.
    pub fn write_failure(&self) -> Option<WriteFailure> {
        self.inner
            .write_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The writer thread's heartbeat, for liveness.
    pub fn writer_heartbeat(&self) -> Arc<Heartbeat> {
        self.inner.writer_heartbeat.clone()
    }

    /// Runs `work` on the writing connection and awaits its answer. A caller that stops
    /// waiting before its turn came (an abandoned poll) has its work skipped, so nothing it
    /// asked for is written after it was given up; work already running finishes, as one
    /// transaction.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_write(work)?
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// Runs `work` on a read-only connection and awaits its answer; never waits for a write.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_read(work)?
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// [`Db::write`] for synchronous code. Panics inside an async runtime, where it would
    /// block a worker.
    pub fn write_blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_write(work)?
            .blocking_recv()
            .map_err(|_| StoreError::Closed)?
    }

    /// [`Db::read`] for synchronous code. Panics inside an async runtime.
    pub fn read_blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_read(work)?
            .blocking_recv()
            .map_err(|_| StoreError::Closed)?
    }

    fn send_write<T, F>(
        &self,
        work: F,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let failure = Arc::clone(&self.inner.write_failure);
        let job: WriteJob = Box::new(move |store| {
            if answer.is_closed() {
                return;
            }
            let result = work(store);
            let mut failing = failure.lock().unwrap_or_else(|p| p.into_inner());
            match &result {
                Ok(_) => *failing = None,
                Err(error) if error.is_storage_failure() => {
                    let since = failing.as_ref().map_or_else(Utc::now, |(since, _)| *since);
                    *failing = Some((since, crate::error::error_chain(error)));
                }
                Err(_) => {}
            }
            drop(failing);
            let _ = answer.send(result);
        });
        self.inner
            .writes
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        Ok(answered)
    }

    fn send_read<T, F>(
        &self,
        work: F,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: ReadJob = Box::new(move |store| {
            if answer.is_closed() {
                return true;
            }
            let result = store.and_then(work);
            let keep = result.is_ok();
            let _ = answer.send(result);
            keep
        });
        self.inner
            .reads
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        Ok(answered)
    }
}

fn read_loop(path: &Path, jobs: &Mutex<mpsc::Receiver<ReadJob>>) {
    let mut store: Option<Store> = None;
    loop {
        // Held only while taking a job, on this thread: the threads share one queue, so an
        // idle reader takes the next read whichever reader is busy.
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if store.is_none() {
            match Store::open_read_only(path) {
                Ok(opened) => store = Some(opened),
                Err(e) => {
                    job(Err(e));
                    continue;
                }
            }
        }
        let keep = job(Ok(store.as_ref().expect("opened above")));
        // A connection that failed may be broken; a fresh one is cheap.
        if !keep {
            store = None;
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.writes = None;
        self.reads = None;
        // Joined outside a runtime only (the CLI drops the last handle after its runtime):
        // then the writer's connection closes, and makes its final checkpoint, before the
        // process exits. Inside one, joining would block a worker; the threads finish their
        // queues and end by themselves.
        if tokio::runtime::Handle::try_current().is_err() {
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_remembered_until_a_write_succeeds_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("full.db")).expect("open");
        assert!(db.write_failure().is_none());
        // The writer's file may not grow past its present size: as a full disk, SQLite
        // answers SQLITE_FULL.
        db.write_blocking(|store| {
            let pages: i64 = store
                .conn
                .pragma_query_value(None, "page_count", |row| row.get(0))?;
            store.conn.pragma_update(None, "max_page_count", pages)?;
            Ok(())
        })
        .expect("limit");
        let filled = db.write_blocking(|store| {
            store.conn.execute_batch(
                "CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(1000000));",
            )?;
            Ok(())
        });
        let error = filled.expect_err("the file is full");
        assert!(error.is_storage_failure(), "{error:?}");
        let (since, why) = db.write_failure().expect("remembered");
        assert!(why.contains("full"), "{why}");
        // Another failing write keeps the first time; one that succeeds clears it.
        let _ = db.write_blocking(|store| {
            store.conn.execute_batch(
                "CREATE TABLE more (b BLOB); INSERT INTO more VALUES (zeroblob(1000000));",
            )?;
            Ok(())
        });
        assert_eq!(db.write_failure().map(|(at, _)| at), Some(since));
        db.write_blocking(|store| {
            store
                .conn
                .pragma_update(None, "max_page_count", 1_000_000)?;
            Ok(())
        })
        .expect("room again");
        assert!(db.write_failure().is_none());
        let report = crate::ops::health::assess(
            &crate::ops::health::Health::default(),
            None,
            Some((since, why)),
            Utc::now(),
        );
        assert!(!report.is_ok());
        assert!(
            report
                .reasons
                .iter()
                .any(|r| r.starts_with("storage failing")),
            "{:?}",
            report.reasons
        );
    }

    #[test]
    fn the_writer_beats_between_writes_and_not_during_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("beat.db")).expect("open");
        let heartbeat = db.writer_heartbeat();
        db.write_blocking(|_| Ok(())).expect("a write");
        assert!(heartbeat.age() < Duration::from_secs(1));
        assert_eq!(heartbeat.stale_after(), LONGEST_WRITE * 3);
        // A write that holds the writer: the heartbeat ages meanwhile.
        let (started_tx, started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let holding = db.clone();
        let held = std::thread::spawn(move || {
            holding.write_blocking(move |_| {
                started_tx.send(()).expect("started");
                released.recv().expect("released");
                Ok(())
            })
        });
        started.recv().expect("the write runs");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            heartbeat.age() >= Duration::from_millis(300),
            "{:?}",
            heartbeat.age()
        );
        release.send(()).expect("release");
        held.join().expect("joined").expect("written");
        db.write_blocking(|_| Ok(())).expect("another write");
        assert!(heartbeat.age() < Duration::from_millis(300));
    }

    #[test]
    fn reads_and_writes_answer_from_their_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("w.db")).expect("open");
        let feeds = [crate::store::FeedDef {
            id: "a",
            url: "http://127.0.0.1/a",
            title: None,
        }];
        let defs: Vec<(String, String)> = feeds
            .iter()
            .map(|f| (f.id.to_owned(), f.url.to_owned()))
            .collect();
        db.write_blocking(move |store| {
            let defs: Vec<crate::store::FeedDef<'_>> = defs
                .iter()
                .map(|(id, url)| crate::store::FeedDef {
                    id,
                    url,
                    title: None,
                })
                .collect();
            store.sync_feeds(&defs)
        })
        .expect("write");
        let states = db
            .read_blocking(|store| store.feed_polling())
            .expect("read");
        assert_eq!(states.len(), 1);
    }

    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.db");
        let db = tokio::task::spawn_blocking(move || Db::open(&path))
            .await
            .expect("joined")
            .expect("open");
        // Hold the writer, so the next write is still queued when its caller gives up.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holding = db
            .send_write(move |_| {
                let _ = held.recv();
                Ok(())
            })
            .expect("queued");
        let abandoned = db.write(|store| {
            store.set_dispatch_time("abandoned", chrono::Utc::now())?;
            Ok(())
        });
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), abandoned).await;
        assert!(timed_out.is_err(), "the writer is held");
        release.send(()).expect("release");
        holding.await.expect("answered").expect("held write");
        let written = db
            .read(|store| store.dispatch_time("abandoned"))
            .await
            .expect("read");
        assert_eq!(written, None, "an abandoned write is never made");
    }
}
