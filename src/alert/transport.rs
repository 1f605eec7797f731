//! Where messages go: an SMTP server (STARTTLS or implicit TLS over rustls, pooled so that a
//! batch of messages shares one connection), or, with no server configured, a folder of
//! `.eml` files.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, SmtpSettings, TlsMode};

/// How long one SMTP exchange may take before it counts as a temporary failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

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
}

pub enum Transport {
    Smtp {
        /// Built on first use: lettre's connection pool starts a task on the runtime it is
        /// created in, and the transport is configured before the runtime runs.
        builder: AsyncSmtpTransportBuilder,
        inner: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
        description: String,
    },
    Files {
        inner: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl Transport {
    pub fn new(mail: &MailSettings) -> Result<Transport, TransportError> {
        match &mail.smtp {
            Some(smtp) => smtp_transport(smtp),
            None => {
                std::fs::create_dir_all(&mail.dir).map_err(|source| TransportError::Folder {
                    path: mail.dir.clone(),
                    source,
                })?;
                Ok(Transport::Files {
                    inner: AsyncFileTransport::new(&mail.dir),
                    dir: mail.dir.clone(),
                })
            }
        }
    }

    /// One line for the startup log.
    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp { description, .. } => description.clone(),
            Transport::Files { dir, .. } => format!(
                "no SMTP server configured (smtp.url): messages are written as .eml files to {}",
                dir.display()
            ),
        }
    }

    /// Sends one message; returns what the server said (or the file written).
    pub async fn send(&self, message: &Message) -> Result<String, SendError> {
        match self {
            Transport::Smtp { builder, inner, .. } => match inner
                .get_or_init(|| builder.clone().build())
                .send(message.clone())
                .await
            {
                Ok(response) => {
                    // lettre hands the connection back to its pool from a task it spawns;
                    // letting that task run first is what makes the next message of the
                    // batch reuse the connection instead of opening another.
                    tokio::task::yield_now().await;
                    Ok(format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ))
                }
                Err(error) => Err(classify(&error)),
            },
            Transport::Files { inner, dir } => inner
                .send(message.clone())
                .await
                .map(|id| format!("written to {}", dir.join(format!("{id}.eml")).display()))
                .map_err(|e| SendError::Temporary(format!("cannot write the .eml file: {e}"))),
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // lettre's pool spawns its shutdown on the current runtime when dropped; outside one
        // (a command's runtime already gone) it would panic, so give it a runtime to drop in.
        if let Transport::Smtp { inner, .. } = self
            && let Some(transport) = inner.take()
            && tokio::runtime::Handle::try_current().is_err()
            && let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build()
        {
            let _entered = runtime.enter();
            drop(transport);
        }
    }
}

fn smtp_transport(smtp: &SmtpSettings) -> Result<Transport, TransportError> {
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
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT))
        // One connection, kept open between the messages of a batch.
        .pool_config(
            PoolConfig::new()
                .max_size(1)
                .idle_timeout(Duration::from_secs(30)),
        );
    if let Some(password) = &smtp.password {
        builder = builder.credentials(Credentials::new(
            percent_decode(smtp.url.username()),
            password.expose().to_owned(),
        ));
    }
    Ok(Transport::Smtp {
        builder,
        inner: OnceLock::new(),
        description: format!("SMTP {} ({security})", smtp.display_url()),
    })
}

/// A URL's user name as written (`smtps://ops%40example.org@host` names `ops@example.org`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// 5xx replies are permanent; everything else (4xx, connection, TLS, timeouts) may pass.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let text = crate::pipeline::error_chain(error);
    if error.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Temporary(text)
    }
}
