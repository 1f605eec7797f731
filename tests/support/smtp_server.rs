//! A real SMTP server on 127.0.0.1 for the mail tests: aiosmtpd (Debian's python3-aiosmtpd,
//! or from PyPI), with the handler in `smtp_handler.py`, writing every message it accepts to
//! a Maildir that the tests read back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python that has aiosmtpd: `WATCHFLOOR_TEST_PYTHON`, else Debian's (the `python3` on
/// PATH may be a separate build that cannot see Debian's packages).
fn python() -> String {
    std::env::var("WATCHFLOOR_TEST_PYTHON").unwrap_or_else(|_| {
        if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3".to_owned()
        } else {
            "python3".to_owned()
        }
    })
}

/// A certificate for the server, and the CA that signed it (what the client must trust).
pub struct TestCertificate {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCertificate {
    /// Makes a CA and a certificate for 127.0.0.1 and localhost with the openssl command line.
    pub fn make(dir: &Path) -> TestCertificate {
        let run = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl runs (apt-get install openssl)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        std::fs::write(
            dir.join("leaf.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("write ext");
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=watchfloor test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        TestCertificate {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

pub struct SmtpServer {
    child: Option<Child>,
    /// Holds a reserved port refusing connections until the server first binds it.
    reserved: Option<super::ports::RefusedPort>,
    pub port: u16,
    /// Where the server keeps its Maildir and session counter.
    dir: PathBuf,
    tls: Option<(PathBuf, PathBuf)>,
}

/// A message the server accepted.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub raw: Vec<u8>,
    pub file: PathBuf,
}

impl Delivered {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parsable message")
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The envelope recipient, as the server recorded it.
    pub fn rcpt_to(&self) -> String {
        self.header("X-RcptTo")
    }

    pub fn header(&self, name: &str) -> String {
        self.parsed()
            .header_raw(name)
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }
}

impl SmtpServer {
    /// A plain SMTP server (no STARTTLS offered).
    pub fn start(dir: &Path) -> SmtpServer {
        Self::launch(dir, None)
    }

    /// A server that offers STARTTLS with this certificate and requires it before mail.
    pub fn start_tls(dir: &Path, certificate: &TestCertificate) -> SmtpServer {
        Self::launch(
            dir,
            Some((certificate.cert.clone(), certificate.key.clone())),
        )
    }

    /// A port nothing listens on yet, for a server that starts later ("the server is down").
    pub fn reserve(dir: &Path) -> SmtpServer {
        std::fs::create_dir_all(dir).expect("server dir");
        let reserved = super::ports::RefusedPort::new();
        SmtpServer {
            child: None,
            port: reserved.port,
            reserved: Some(reserved),
            dir: dir.to_owned(),
            tls: None,
        }
    }

    /// A server on a port it binds itself (port 0), so no other test can take it first.
    fn launch(dir: &Path, tls: Option<(PathBuf, PathBuf)>) -> SmtpServer {
        std::fs::create_dir_all(dir).expect("server dir");
        let mut server = SmtpServer {
            child: None,
            reserved: None,
            port: 0,
            dir: dir.to_owned(),
            tls,
        };
        server.resume();
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.join("maildir")
    }

    /// Starts the server: on a port of its own choosing the first time (`port` 0), on the same
    /// port after `stop` or for a reserved one.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let support = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
        let mut command = Command::new(python());
        command
            .arg(support.join("smtp_serve.py"))
            .arg(self.port.to_string())
            .arg(self.maildir())
            .env("PYTHONPATH", &support)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((cert, key)) = &self.tls {
            command.arg(cert).arg(key);
        }
        let mut child = command.spawn().expect("python3 runs");
        // The server prints its port once it listens; end of output first means it failed.
        let mut line = String::new();
        {
            use std::io::BufRead;
            let stdout = child.stdout.take().expect("piped stdout");
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        }
        match line.trim().parse::<u16>() {
            Ok(port) if self.port == 0 || port == self.port => self.port = port,
            _ => {
                let _ = child.kill();
                let status = child.wait().expect("wait for the SMTP server");
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!(
                    "the SMTP test server (aiosmtpd) did not start ({status}): {stderr}\n\
                     install it with `apt-get install python3-aiosmtpd` (the README's test \
                     command does), or set WATCHFLOOR_TEST_PYTHON to a Python that has it"
                );
            }
        }
        // The server listens on the port now: the placeholder has done its work.
        self.reserved = None;
        // The listener answers before the Maildir exists; the first message creates it.
        self.child = Some(child);
    }

    /// Stops the server: connections are refused until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Delivered> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = ["new", "cur"]
            .iter()
            .flat_map(|sub| {
                std::fs::read_dir(self.maildir().join(sub))
                    .into_iter()
                    .flatten()
            })
            .filter_map(Result::ok)
            .map(|e| {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, file)| Delivered {
                raw: std::fs::read(&file).expect("read message"),
                file,
            })
            .collect()
    }

    /// Waits until at least `count` messages have arrived.
    pub fn wait_for(&self, count: usize, within: Duration) -> Vec<Delivered> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// EHLOs the server has answered: connections, for a server without STARTTLS.
    pub fn sessions(&self) -> u32 {
        std::fs::read_to_string(self.dir.join("sessions"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
