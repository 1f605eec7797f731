//! The real `watchfloor run` as a child process, for the suites that break things around it.
//!
//! Included by path (`#[path = "support/daemon.rs"] mod daemon;`) rather than from
//! `support/mod.rs`, so that suites written in other branches can keep their own helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running daemon whose stderr is collected line by line.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `watchfloor run` on these files, serving `/healthz` on a port the system picks.
    pub fn start(indicators: &Path, db: &Path, env: &[(&str, String)]) -> Daemon {
        Daemon::spawn(
            Command::new(env!("CARGO_BIN_EXE_watchfloor")),
            indicators,
            db,
            env,
        )
    }

    /// As [`Daemon::start`], with soft and hard descriptor limits of `limit`: the 1,024 a
    /// service used to get, which the daemon cannot raise, to show that its listener leaves
    /// descriptors for everything else.
    pub fn start_with_descriptor_limit(
        indicators: &Path,
        db: &Path,
        env: &[(&str, String)],
        limit: u64,
    ) -> Daemon {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(env!("CARGO_BIN_EXE_watchfloor"));
        // SAFETY: setrlimit is async-signal-safe and reads only the struct on this stack.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Daemon::spawn(command, indicators, db, env)
    }

    /// As [`Daemon::start`], ignoring SIGXFSZ, so that a file size limit set later with
    /// [`Daemon::limit_file_size`] makes its writes fail with EFBIG, as a full disk makes
    /// them fail, instead of killing it.
    pub fn start_for_storage_faults(
        indicators: &Path,
        db: &Path,
        env: &[(&str, String)],
    ) -> Daemon {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(env!("CARGO_BIN_EXE_watchfloor"));
        // SAFETY: signal is async-signal-safe; an ignored disposition survives exec.
        unsafe {
            command.pre_exec(|| {
                if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
        Daemon::spawn(command, indicators, db, env)
    }

    /// Sets the running daemon's file size limit (`None`: unlimited). At one byte, no file it
    /// writes can grow: every database write fails as on a full disk, while reads go on.
    pub fn limit_file_size(&self, bytes: Option<u64>) {
        let value = bytes.map_or(libc::RLIM_INFINITY, |b| b as libc::rlim_t);
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: prlimit reads the struct it is given; the old limit is not asked for.
        let set = unsafe {
            libc::prlimit(
                self.pid() as libc::pid_t,
                libc::RLIMIT_FSIZE,
                &limit,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(set, 0, "prlimit: {}", std::io::Error::last_os_error());
    }

    fn spawn(mut command: Command, indicators: &Path, db: &Path, env: &[(&str, String)]) -> Daemon {
        let mut child = command
            .args(["--indicators", &indicators.display().to_string()])
            .args(["--db", &db.display().to_string()])
            .arg("run")
            .env("WATCHFLOOR_LISTEN", "127.0.0.1:0")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stderr = child.stderr.take().expect("stderr");
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        Daemon { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Lines logged so far, to wait for lines logged after this point.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Waits until a log line after the first `skip` lines contains `text`; returns it.
    pub fn wait_for_log_after(&self, skip: usize, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .skip(skip)
                .find(|l| l.contains(text))
            {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?} within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for_log(&self, text: &str, within: Duration) -> String {
        self.wait_for_log_after(0, text, within)
    }

    /// The base URL of the operations listener, from the startup log.
    pub fn http_base(&self) -> String {
        let line = self.wait_for_log("http: /healthz and /metrics on ", Duration::from_secs(30));
        let url = line.split("on ").last().expect("an address").trim();
        url.trim_end_matches('/').to_owned()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// A field of `/proc/PID/status` in kB (`VmHWM` is the peak resident set).
    pub fn status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGTERM, then the exit code (None if it had to be killed) and the whole log.
    pub fn stop(mut self) -> (Option<i32>, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Let the reader thread drain the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (code, self.log())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed assertion must not leave the daemon running after the test.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET url`: the status and body, off the caller's runtime.
pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}
