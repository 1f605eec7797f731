//! Where messages go: an SMTP server (STARTTLS or implicit TLS over rustls, one connection
//! for a batch of messages), or, with no server configured, a folder of
//! `.eml` files.

use std::path::PathBuf;
use std::time::Duration;

use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::time::timeout;

use crate::config::{MailSettings, SmtpSettings, TlsMode};

/// How long one SMTP exchange may take before it counts as a temporary failure.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{}: cannot read the CA certificate", path.display())]
    ReadCa {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a PEM certificate", path.display())]
    BadCa {
        path: PathBuf,
        source: lettre::transport::smtp::Error,
    },
    #[error("smtp: cannot set up TLS for '{host}'")]
    Tls {
        host: String,
        source: lettre::transport::smtp::Error,
    },
    #[error("{}: cannot create the mail folder", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a send failed, as the retry policy needs it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: a 4xx reply, a refused or dropped connection, a timeout, TLS trouble.
    #[error("{0}")]
    Temporary(String),
    /// The server refused with a 5xx reply: retrying would get the same answer.
    #[error("{0}")]
    Permanent(String),
    /// Worth retrying, but no sooner than the receiver asked (a webhook's 429 or 503 with
    /// `Retry-After`).
    #[error("{reason}")]
    Throttled {
        reason: String,
        retry_after: Duration,
    },
}

pub enum Transport {
    Smtp(SmtpServer),
    Files { dir: PathBuf },
}

/// How to reach and greet the SMTP server.
pub struct SmtpServer {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    description: String,
}

impl Transport {
    pub fn new(mail: &MailSettings) -> Result<Transport, TransportError> {
        match &mail.smtp {
            Some(smtp) => smtp_server(smtp).map(Transport::Smtp),
            None => {
                std::fs::create_dir_all(&mail.dir).map_err(|source| TransportError::Folder {
                    path: mail.dir.clone(),
                    source,
                })?;
                Ok(Transport::Files {
                    dir: mail.dir.clone(),
                })
            }
        }
    }

    /// One line for the startup log.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(server) => server.description.clone(),
            Transport::Files { dir, .. } => format!(
                "no SMTP server configured (smtp.url): messages are written as .eml files to {}",
                dir.display()
            ),
        }
    }

    /// A batch of sends over one connection, opened on the first message.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            transport: self,
            connection: None,
            unreachable: None,
        }
    }

    /// Sends one message on a connection of its own.
    pub async fn send(&self, message: &Message) -> Result<String, SendError> {
        let mut batch = self.batch();
        let outcome = batch.send(message).await;
        batch.finish().await;
        outcome
    }
}

/// Messages sent one after another on one SMTP connection, so a backlog costs one TCP and
/// TLS handshake rather than one per message. A connection the server broke is replaced on
/// the next message.
pub struct Batch<'a> {
    transport: &'a Transport,
    connection: Option<AsyncSmtpConnection>,
    /// Why the server could not be reached in this batch. The batch's other messages take
    /// the same answer (and its backoff) without another try, so a relay that is down or
    /// hangs costs a round one connect and at most one timeout, not one per message.
    unreachable: Option<SendError>,
}

impl Batch<'_> {
    /// Sends one message; returns what the server said (or the file written).
    pub async fn send(&mut self, message: &Message) -> Result<String, SendError> {
        let server = match self.transport {
            Transport::Files { dir } => {
                let path = dir.join(eml_name(message));
                let bytes = message.formatted();
                let written = path.clone();
                return tokio::task::spawn_blocking(move || write_eml(&written, &bytes))
                    .await
                    .map_err(|e| SendError::Temporary(format!("cannot write the .eml file: {e}")))?
                    .map(|()| format!("written to {}", path.display()))
                    .map_err(|e| {
                        SendError::Temporary(format!(
                            "cannot write the .eml file {}: {e}",
                            path.display()
                        ))
                    });
            }
            Transport::Smtp(server) => server,
        };
        if self
            .connection
            .as_ref()
            .is_none_or(AsyncSmtpConnection::has_broken)
        {
            self.connection = None;
            if let Some(error) = &self.unreachable {
                return Err(error.clone());
            }
            let connected = timeout(SMTP_TIMEOUT, server.connect())
                .await
                .unwrap_or_else(|_| {
                    Err(SendError::Temporary(format!(
                        "smtp: no answer from {} within {}s",
                        server.address(),
                        SMTP_TIMEOUT.as_secs()
                    )))
                });
            match connected {
                Ok(connection) => self.connection = Some(connection),
                Err(error) => {
                    self.unreachable = Some(error.clone());
                    return Err(error);
                }
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(SendError::Temporary("smtp: no connection".into()));
        };
        let sent = timeout(
            SMTP_TIMEOUT,
            connection.send(message.envelope(), &message.formatted()),
        )
        .await;
        match sent {
            Ok(Ok(response)) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Ok(Err(error)) => Err(classify(&error)),
            Err(_) => {
                // Whatever state the exchange was left in, the connection cannot be reused.
                self.connection = None;
                Err(SendError::Temporary(format!(
                    "smtp: {} stopped answering mid-message",
                    server.address()
                )))
            }
        }
    }

    /// Ends the batch politely (QUIT).
    pub async fn finish(mut self) {
        if let Some(mut connection) = self.connection.take()
            && !connection.has_broken()
        {
            let _ = timeout(Duration::from_secs(5), connection.quit()).await;
        }
    }
}

impl SmtpServer {
    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A session ready for messages. Every failure here is the relay's, whatever its reply
    /// code (a 554 greeting, a 535 to our credentials): no message was offered, so none is
    /// given up on; each is retried with backoff until the operator mends the relay or the
    /// message's own deadline passes.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        self.open_session().await.map_err(|error| match error {
            SendError::Permanent(reason) => {
                SendError::Temporary(format!("the relay refused the session: {reason}"))
            }
            other => other,
        })
    }

    async fn open_session(&self) -> Result<AsyncSmtpConnection, SendError> {
        let mut connection = match &self.tls {
            Tls::Wrapper(parameters) => AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(SMTP_TIMEOUT),
                &self.hello,
                Some(parameters.clone()),
                None,
            )
            .await
            .map_err(|e| classify(&e))?,
            _ => {
                let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                    .await
                    .map_err(|e| {
                        SendError::Temporary(format!(
                            "smtp: cannot connect to {}: {e}",
                            self.address()
                        ))
                    })?;
                // SMTP is a dialogue of short lines: without this, Nagle's algorithm and the
                // server's delayed ACKs stall every command by tens of milliseconds.
                let _ = stream.set_nodelay(true);
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(|e| classify(&e))?
            }
        };
        if let Tls::Required(parameters) = &self.tls {
            connection
                .starttls(parameters.clone(), &self.hello)
                .await
                .map_err(|e| classify(&e))?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(connection)
    }
}

fn smtp_server(smtp: &SmtpSettings) -> Result<SmtpServer, TransportError> {
    let host = smtp
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let implicit = smtp.url.scheme() == "smtps";
    let port = smtp.url.port().unwrap_or(if implicit { 465 } else { 587 });
    let tls = if !implicit && smtp.tls == TlsMode::None {
        Tls::None
    } else {
        let mut parameters = TlsParameters::builder(host.clone());
        if let Some(path) = &smtp.ca_file {
            let pem = std::fs::read(path).map_err(|source| TransportError::ReadCa {
                path: path.clone(),
                source,
            })?;
            let certificate =
                Certificate::from_pem(&pem).map_err(|source| TransportError::BadCa {
                    path: path.clone(),
                    source,
                })?;
            parameters = parameters.add_root_certificate(certificate);
        }
        let parameters = parameters
            .build_rustls()
            .map_err(|source| TransportError::Tls {
                host: host.clone(),
                source,
            })?;
        if implicit {
            Tls::Wrapper(parameters)
        } else {
            Tls::Required(parameters)
        }
    };
    let security = match (&tls, implicit) {
        (Tls::None, _) => "plain, loopback only",
        (_, true) => "implicit TLS",
        _ => "STARTTLS required",
    };
    let credentials = smtp.password.as_ref().map(|password| {
        Credentials::new(
            percent_decode(smtp.url.username()),
            password.expose().to_owned(),
        )
    });
    Ok(SmtpServer {
        description: format!("SMTP {} ({security})", smtp.display_url()),
        host,
        port,
        tls,
        credentials,
        hello: ClientId::default(),
    })
}

/// A URL's user name as written (`smtps://ops%40example.org@host` names `ops@example.org`).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// 5xx replies are permanent; everything else (4xx, connection, TLS, timeouts) may pass.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let text = crate::error::error_chain(error);
    if error.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Temporary(text)
    }
}

/// The file name of a message: when it was planned, what it is about, which message.
/// `2026-12-06T120500-satellite_launch-alert-42.eml` sorts by time in any file browser and
/// says what it holds. The parts come from the message's own headers (the planned date, the
/// List-Id, the Message-ID), so a resend after a crash has the same name and replaces the file
/// rather than adding a second copy.
fn eml_name(message: &Message) -> String {
    let headers = message.headers();
    let raw = |name: &str| headers.get_raw(name).unwrap_or_default().trim().to_owned();
    let when = chrono::DateTime::parse_from_rfc2822(&raw("Date"))
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H%M%S")
                .to_string()
        })
        .unwrap_or_else(|_| "undated".to_owned());
    let inside = |text: &str| {
        let start = text.rfind('<').map_or(0, |i| i + 1);
        let end = text[start..].find('>').map_or(text.len(), |i| start + i);
        text[start..end].to_owned()
    };
    let list = inside(&raw("List-Id"));
    let about = list.strip_suffix(".watchfloor").unwrap_or(&list).to_owned();
    let id = inside(&raw("Message-ID"));
    let id = id.split('@').next().unwrap_or_default();
    let id = id.strip_prefix("watchfloor.").unwrap_or(id).to_owned();
    let clean = |part: &str| -> String {
        part.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect()
    };
    let mut name = when;
    // A digest's list is "digest", as is the start of its id: once is enough.
    if !about.is_empty() && !id.starts_with(&about) {
        name.push('-');
        name.push_str(&clean(&about));
    }
    if !id.is_empty() {
        name.push('-');
        name.push_str(&clean(&id));
    }
    name.push_str(".eml");
    name
}

/// Writes a whole `.eml` file or nothing: to a new hidden file first, then renamed over the
/// name, so a reader never sees half a message and a resend replaces its earlier copy.
fn write_eml(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::write_whole(path, bytes, None)
}

#[cfg(test)]
mod eml_tests {
    use super::{eml_name, write_eml};
    use lettre::Message;
    use lettre::message::header::{HeaderName, HeaderValue};

    fn message(list_id: &str, message_id: &str) -> Message {
        Message::builder()
            .from("watchfloor <w@example.org>".parse().unwrap())
            .to("a@example.org".parse().unwrap())
            .date(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_558_700))
            .message_id(Some(format!("<{message_id}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Id"),
                list_id.to_owned(),
            ))
            .subject("s")
            .body(String::from("b"))
            .unwrap()
    }

    #[test]
    fn eml_files_are_named_by_time_subject_and_message() {
        let alert = message(
            "North Korean satellite launch <satellite_launch.watchfloor>",
            "watchfloor.alert-42@example.org",
        );
        assert_eq!(
            eml_name(&alert),
            "2026-12-06T120500-satellite_launch-alert-42.eml"
        );
        let digest = message("<digest.watchfloor>", "watchfloor.digest-17@example.org");
        assert_eq!(eml_name(&digest), "2026-12-06T120500-digest-17.eml");
        // Whatever a header holds, the name stays one plain file name.
        let odd = message("<../../etc/passwd>", "../x/y@example.org");
        let name = eml_name(&odd);
        assert!(!name.contains('/') && name.ends_with(".eml"), "{name}");

        // Written whole, and a resend replaces the file.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(eml_name(&alert));
        write_eml(&path, b"first").expect("write");
        write_eml(&path, b"again").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"again");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
