//! `watchfloor alerts`, `watchfloor alerts retry`, `watchfloor test-email` and
//! `watchfloor test-webhook`: the outbox as operators see it, and a way to check each
//! transport end to end.

use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};

use super::feeds::{Format, print_table};
use super::{EXIT_FINDINGS, EXIT_OK, GlobalArgs, UsageError, load_settings};
use crate::alert::transport::Transport;
use crate::alert::webhook::WebhookTransport;
use crate::store::{AlertRow, AlertStatus, Store};
use crate::text::safe::terminal_text;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub action: Option<AlertsAction>,
    /// Only alerts in this state (pending includes those waiting for a retry)
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Show at most this many, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Pending,
    Sent,
    Failed,
    Folded,
}

#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Queue failed alerts again, with a fresh day of retries
    Retry {
        /// The alert to retry (its whole message is sent again)
        #[arg(required_unless_present = "failed")]
        id: Option<i64>,
        /// Every failed alert
        #[arg(long, conflicts_with = "id")]
        failed: bool,
    },
}

#[derive(Debug, Args)]
pub struct TestEmailArgs {
    /// Recipient of the test message
    #[arg(long, value_name = "ADDR")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct TestWebhookArgs {
    /// The webhook's name in the settings (`webhooks:`)
    pub name: String,
}

pub fn run(global: &GlobalArgs, args: &AlertsArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let mut store = Store::open(&settings.database)?;
    match &args.action {
        Some(AlertsAction::Retry { id: Some(id), .. }) => {
            match store.retry_alert(*id, Utc::now())? {
                Some(message) => println!(
                    "alert {id}: message {message} queued again; the daemon (or the next \
                     `watchfloor poll`) sends it"
                ),
                None => {
                    return Err(UsageError(format!(
                        "alert {id}: no such failed alert (see `watchfloor alerts --status failed`)"
                    ))
                    .into());
                }
            }
            Ok(EXIT_OK)
        }
        Some(AlertsAction::Retry { id: None, .. }) => {
            let count = store.retry_failed(Utc::now())?;
            println!("{count} failed messages queued again");
            Ok(EXIT_OK)
        }
        None => {
            let status = args.status.map(|s| match s {
                StatusArg::Pending => AlertStatus::Pending,
                StatusArg::Sent => AlertStatus::Sent,
                StatusArg::Failed => AlertStatus::Failed,
                StatusArg::Folded => AlertStatus::Folded,
            });
            let alerts = store.alerts(status, args.limit)?;
            if args.format == Format::Json {
                let counts = store.outbox_counts()?;
                let alerts: Vec<serde_json::Value> = alerts.iter().map(alert_json).collect();
                let report = serde_json::json!({
                    "alerts": alerts,
                    "outbox": {
                        "pending": counts.pending,
                        "messages_pending": counts.messages_pending,
                        "sent": counts.sent,
                        "failed": counts.failed,
                        "folded": counts.folded,
                    },
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(EXIT_OK);
            }
            let rows: Vec<[String; 9]> = alerts.iter().map(row).collect();
            print_table(
                &[
                    "alert",
                    "hit",
                    "indicator",
                    "transport",
                    "recipient",
                    "status",
                    "attempts",
                    "when",
                    "detail",
                ],
                &rows,
            );
            let counts = store.outbox_counts()?;
            println!(
                "outbox: {} pending ({} messages waiting), {} sent, {} failed, {} folded into \
                 earlier reports",
                counts.pending, counts.messages_pending, counts.sent, counts.failed, counts.folded
            );
            Ok(EXIT_OK)
        }
    }
}

/// One alert for scripts: times in RFC 3339, absent values null, the message it went out in
/// (if planned) nested.
fn alert_json(alert: &AlertRow) -> serde_json::Value {
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339();
    let message = alert.message.as_ref().map(|m| {
        serde_json::json!({
            "id": m.id,
            "kind": m.kind.as_str(),
            "status": m.status.as_str(),
            "message_id": m.message_id,
            "attempts": m.attempts,
            "created_at": time(m.created_at),
            "next_attempt": time(m.next_attempt),
            "give_up_at": time(m.give_up_at),
            "last_attempt": m.last_attempt.map(time),
            "last_error": m.last_error,
            "sent_at": m.sent_at.map(time),
            "reply": m.reply,
        })
    });
    serde_json::json!({
        "alert": alert.alert_id,
        "hit": alert.hit_id,
        "indicator": alert.indicator_id,
        "transport": alert.channel.as_str(),
        "recipient": alert.recipient,
        "mode": alert.mode.as_str(),
        "status": alert.status.as_str(),
        "created_at": time(alert.created_at),
        "title": alert.item_title,
        "folded_into": alert.folded_into,
        "message": message,
    })
}

fn row(alert: &AlertRow) -> [String; 9] {
    let format = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let (attempts, when, detail) = match (&alert.message, alert.status) {
        (_, AlertStatus::Folded) => (
            "-".to_owned(),
            format(alert.created_at),
            format!(
                "same story as alert {}: {}",
                alert.folded_into.unwrap_or_default(),
                alert.item_title
            ),
        ),
        (None, _) => (
            "0".to_owned(),
            format(alert.created_at),
            format!(
                "waiting to be grouped ({}): {}",
                alert.mode.as_str(),
                alert.item_title
            ),
        ),
        (Some(message), AlertStatus::Sent) => (
            message.attempts.to_string(),
            message.sent_at.map(format).unwrap_or_default(),
            format!(
                "<{}> {}",
                message.message_id,
                message.reply.as_deref().unwrap_or("")
            ),
        ),
        (Some(message), AlertStatus::Failed) => (
            message.attempts.to_string(),
            message.last_attempt.map(format).unwrap_or_default(),
            format!(
                "gave up: {}",
                message.last_error.as_deref().unwrap_or("unknown error")
            ),
        ),
        (Some(message), AlertStatus::Pending) => (
            message.attempts.to_string(),
            format!("next {}", format(message.next_attempt)),
            match &message.last_error {
                Some(error) => format!("retrying: {error}"),
                None => format!("queued as <{}>: {}", message.message_id, alert.item_title),
            },
        ),
    };
    [
        alert.alert_id.to_string(),
        alert.hit_id.to_string(),
        alert.indicator_id.clone(),
        alert.channel.to_string(),
        alert.recipient.clone(),
        alert.status.to_string(),
        attempts,
        when,
        detail,
    ]
}

pub fn test_email(global: &GlobalArgs, args: &TestEmailArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    crate::config::mail::check_address(&args.to).map_err(UsageError)?;
    let transport = Transport::new(&settings.mail)?;
    println!("transport: {}", transport.describe());
    let outcome = super::poll::runtime()?.block_on(crate::alert::send_test(
        &transport,
        &settings.mail_for_messages(),
        &args.to,
        Utc::now(),
    ));
    match outcome {
        Ok(reply) => {
            println!("sent a test message to {}: {reply}", args.to);
            Ok(EXIT_OK)
        }
        Err(e) => {
            println!("not sent to {}: {e}", args.to);
            Ok(EXIT_FINDINGS)
        }
    }
}

pub fn test_webhook(global: &GlobalArgs, args: &TestWebhookArgs) -> anyhow::Result<u8> {
    let settings = load_settings(global)?;
    let Some(hook) = settings.webhooks.get(&args.name) else {
        let known: Vec<&str> = settings.webhooks.keys().map(String::as_str).collect();
        return Err(UsageError(format!(
            "no webhook '{}' in the settings ({})",
            terminal_text(&args.name),
            if known.is_empty() {
                "none is configured".to_owned()
            } else {
                format!("configured: {}", known.join(", "))
            }
        ))
        .into());
    };
    println!(
        "webhook {}: {} to {}",
        hook.name,
        hook.format.as_str(),
        hook.display_url()
    );
    let webhooks = WebhookTransport::new(&settings.webhooks)?;
    let outcome = super::poll::runtime()?.block_on(crate::alert::send_test_webhook(
        &webhooks,
        &settings.mail_for_messages(),
        &hook.name,
        Utc::now(),
    ));
    match outcome {
        Ok(reply) => {
            println!("posted a test message: {reply}");
            Ok(EXIT_OK)
        }
        Err(e) => {
            println!("not accepted: {}", terminal_text(&e.to_string()));
            Ok(EXIT_FINDINGS)
        }
    }
}
