//! The alert stage: from hits in the outbox to e-mail in analysts' inboxes and posts to
//! their chat rooms and services (webhooks).
//!
//! Hits and their alerts are written together by the store (one per recipient, in the poll's
//! transaction), so nothing here can lose one. The [`Dispatcher`] works in three steps, each a
//! public function so tests can drive it: [`Dispatcher::plan`] first folds new hits into the
//! stories they continue ([`story::fold_pending`]), then decides which pending alerts go
//! out now and records the messages that will carry them (grouping, the hourly cap, the
//! digest; see [`plan`]); [`Dispatcher::send`] renders and transmits one message;
//! [`Dispatcher::acknowledge`] records the outcome. A message planned but not acknowledged
//! (a crash in between) is sent again with the same Message-ID.
//!
//! Mail and webhooks share every step: an outbox row names its transport and target, the
//! plan groups and caps each target alike, and only the last step, transmitting, differs:
//! [`transport`] for mail, [`webhook`] for posts.
//!
//! - [`feed_health`]: operational notices to `mail.ops` about failing and quiet feeds.
//! - [`plan`]: grouping and noise control, pure.
//! - [`render`]: alerts to a multipart e-mail, pure.
//! - [`story`]: whether two headlines report the same story.
//! - [`transport`]: SMTP or a folder of `.eml` files.
//! - [`webhook`]: HTTP posts to the configured webhooks; [`webhook::body`] renders them.

mod encoded_words;
pub mod feed_health;
pub mod plan;
pub mod render;
pub mod story;
pub mod transport;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{Indicator, Indicators, MailSettings};
use crate::ops::health::Heartbeat;
use crate::store::{Channel, Db, HitRoute, MessageKind, OutboxMessage, StoreError};
use render::{AlertView, Envelope, MessageView, SourceView};
use transport::{Batch, SendError, Transport};
use webhook::WebhookTransport;

/// How often the dispatcher looks at the outbox. Short against `group_wait` (30 s by
/// default), and the queries it makes are answered from indexes.
const TICK: Duration = Duration::from_secs(1);
/// Messages sent per round at most, so a backlog does not hold up planning.
const BATCH: usize = 200;
/// The longest the dispatcher goes between heartbeats while it works: one message, whose
/// connection and transmission each have [`transport::SMTP_TIMEOUT`], plus its rendering and
/// the outbox writes around it.
pub const LONGEST_STEP: Duration = Duration::from_secs(2 * transport::SMTP_TIMEOUT.as_secs() + 10);
/// The dispatcher's stored time of the last digest.
const LAST_DIGEST: &str = "last_digest";

/// Who a hit of `indicator` alerts: its own recipients, webhooks and mode, else the settings'
/// defaults. An indicator that names webhooks and no address alerts only its webhooks: the
/// default recipients (`mail.to`) stand in only for an indicator that names no one.
pub fn route(indicator: &Indicator, mail: &MailSettings) -> Option<HitRoute> {
    let webhooks: Vec<String> = (indicator.alert.webhooks.iter())
        .map(|w| w.name.clone())
        .collect();
    let recipients = if !indicator.alert.to.is_empty() {
        indicator.alert.to.clone()
    } else if webhooks.is_empty() {
        mail.to.clone()
    } else {
        Vec::new()
    };
    (!recipients.is_empty() || !webhooks.is_empty()).then(|| HitRoute {
        recipients,
        webhooks,
        mode: indicator.alert.mode.unwrap_or(mail.mode),
    })
}

/// What one round of delivery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub planned: usize,
    pub sent: usize,
    /// Failed this time, to be tried again.
    pub retrying: usize,
    /// Given up on: refused permanently, or failing for a day.
    pub failed: usize,
    /// One line per failure: message, recipient, reason.
    pub errors: Vec<String>,
}

pub struct Dispatcher {
    db: Db,
    /// Beaten at each turn of the loop and each message: liveness watches it.
    heartbeat: Arc<Heartbeat>,
    /// Swapped whole by a reload; each round works with the one it started with.
    config: RwLock<Arc<DispatchConfig>>,
}

/// What the dispatcher works with, from the configuration in force.
struct DispatchConfig {
    transport: Transport,
    webhooks: WebhookTransport,
    mail: MailSettings,
    /// The rules in force: titles, insights and severities for the messages.
    indicators: Arc<Indicators>,
}

impl Dispatcher {
    pub fn new(
        db: Db,
        transport: Transport,
        webhooks: WebhookTransport,
        mail: MailSettings,
        indicators: Arc<Indicators>,
    ) -> Dispatcher {
        Dispatcher {
            db,
            heartbeat: Arc::new(Heartbeat::new(LONGEST_STEP.max(TICK))),
            config: RwLock::new(Arc::new(DispatchConfig {
                transport,
                webhooks,
                mail,
                indicators,
            })),
        }
    }

    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// Takes a reloaded configuration; a round in progress finishes with the old one.
    pub fn reconfigure(
        &self,
        transport: Transport,
        webhooks: WebhookTransport,
        mail: MailSettings,
        indicators: Arc<Indicators>,
    ) {
        let config = Arc::new(DispatchConfig {
            transport,
            webhooks,
            mail,
            indicators,
        });
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    fn config(&self) -> Arc<DispatchConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Where messages go, for logs.
    pub fn describe_transport(&self) -> String {
        let config = self.config();
        match config.webhooks.describe() {
            Some(webhooks) => format!("{}; {webhooks}", config.transport.describe()),
            None => config.transport.describe(),
        }
    }

    /// Decides the stories of new hits and releases their alerts to planning; returns how
    /// many alerts were folded. The comparisons run on a read connection, so the writer (and
    /// the polls waiting for it) only records the answer.
    pub async fn fold_stories(&self) -> Result<u64, StoreError> {
        let decided = self.db.read(story::fold_pending).await?;
        if decided.is_empty() {
            return Ok(0);
        }
        self.db
            .write(move |store| store.record_stories(&decided))
            .await
    }

    /// Plans the messages due at `now`; `flush` sends immediate alerts without waiting for
    /// their group window. Returns how many messages were planned.
    pub async fn plan(&self, now: DateTime<Utc>, flush: bool) -> Result<usize, StoreError> {
        self.fold_stories().await?;
        let config = self.config();
        let rules = plan::Rules {
            group_wait: config.mail.group_wait,
            max_per_hour: config.mail.max_per_hour,
        };
        let domain = config.mail.from_domain().to_owned();
        let digest = config.mail.digest.clone();
        self.db
            .write(move |store| {
                let digest_due = match store.dispatch_time(LAST_DIGEST)? {
                    // The first run starts the digest clock rather than sending one at once.
                    None => {
                        store.set_dispatch_time(LAST_DIGEST, now)?;
                        false
                    }
                    Some(last) => digest.next_after(last).is_some_and(|next| next <= now),
                };
                let pending = store.pending_alerts()?;
                if pending.is_empty() && !digest_due {
                    return Ok(0);
                }
                let recent = store.recent_message_counts(now - chrono::Duration::hours(1))?;
                let occasion = plan::Occasion {
                    now,
                    flush,
                    digest_due,
                };
                let planned = plan::plan(&pending, &recent, &rules, &occasion);
                let mark = digest_due.then_some((LAST_DIGEST, now));
                if planned.is_empty() && mark.is_none() {
                    return Ok(0);
                }
                Ok(store.plan_messages(&planned, &domain, mark, now)?.len())
            })
            .await
    }

    /// Sends every message due at `now`, one connection for the batch, acknowledging each.
    /// Stops between messages once `shutdown` is cancelled.
    pub async fn deliver_due(
        &self,
        now: DateTime<Utc>,
        shutdown: Option<&CancellationToken>,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        let due = self
            .db
            .read(move |store| store.due_messages(now, BATCH))
            .await?;
        let config = self.config();
        let mut batch = config.transport.batch();
        // Webhooks that failed for now in this round: their other messages are not posted
        // but take the same answer (and its backoff), so one receiver that times out costs
        // the round one timeout, not one per message, and mail behind it is not held up;
        // one that throttles is not pressed further.
        let mut unreachable: HashMap<String, SendError> = HashMap::new();
        for message in due {
            if shutdown.is_some_and(CancellationToken::is_cancelled) {
                break;
            }
            self.heartbeat.beat();
            let earlier = (message.channel == Channel::Webhook)
                .then(|| unreachable.get(&message.recipient))
                .flatten();
            let outcome = match earlier {
                Some(error) => Err(error.clone()),
                None => self.send_in(&config, &mut batch, &message, now).await,
            };
            if message.channel == Channel::Webhook
                && let Err(error @ (SendError::Temporary(_) | SendError::Throttled { .. })) =
                    &outcome
            {
                unreachable
                    .entry(message.recipient.clone())
                    .or_insert_with(|| error.clone());
            }
            match &outcome {
                Ok(_) => report.sent += 1,
                Err(e) => {
                    if self.gives_up(&message, e, now) {
                        report.failed += 1;
                    } else {
                        report.retrying += 1;
                    }
                    report.errors.push(format!(
                        "message {} to {}: {e}",
                        message.id, message.recipient
                    ));
                }
            }
            self.acknowledge(&message, &outcome, now).await?;
        }
        batch.finish().await;
        Ok(report)
    }

    /// Plans and delivers what is due: one round of the daemon's loop, and what `poll` runs
    /// before it exits (with `flush`).
    pub async fn round(
        &self,
        now: DateTime<Utc>,
        flush: bool,
        shutdown: Option<&CancellationToken>,
    ) -> Result<DeliveryReport, StoreError> {
        let planned = self.plan(now, flush).await?;
        let mut report = self.deliver_due(now, shutdown).await?;
        report.planned = planned;
        Ok(report)
    }

    /// Renders and transmits one planned message on a connection of its own; records
    /// nothing.
    pub async fn send(
        &self,
        message: &OutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        let config = self.config();
        let mut batch = config.transport.batch();
        let outcome = self.send_in(&config, &mut batch, message, now).await;
        batch.finish().await;
        outcome
    }

    async fn send_in(
        &self,
        config: &DispatchConfig,
        batch: &mut Batch<'_>,
        message: &OutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        let view = match self.view(config, message).await {
            Ok(view) => view,
            Err(reason) => return Err(SendError::Permanent(reason)),
        };
        match message.channel {
            Channel::Mail => {
                let email = self
                    .compose(config, message, view, now)
                    .map_err(SendError::Permanent)?;
                batch.send(&email).await
            }
            Channel::Webhook => {
                config
                    .webhooks
                    .post(&message.recipient, &view, &message.message_id, now)
                    .await
            }
        }
    }

    fn gives_up(&self, message: &OutboxMessage, error: &SendError, now: DateTime<Utc>) -> bool {
        matches!(error, SendError::Permanent(_)) || now >= message.give_up_at
    }

    /// Records how a send went: sent, to be retried with backoff, or given up on.
    pub async fn acknowledge(
        &self,
        message: &OutboxMessage,
        outcome: &Result<String, SendError>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = message.id;
        match outcome {
            Ok(reply) => {
                info!(
                    message = message.id,
                    recipient = %message.recipient,
                    message_id = %message.message_id,
                    kind = message.kind.as_str(),
                    "sent: {reply}"
                );
                let reply = reply.clone();
                self.db
                    .write(move |store| store.mark_sent(id, &reply, now))
                    .await
            }
            Err(e) => {
                let reason = e.to_string();
                if self.gives_up(message, e, now) {
                    error!(
                        message = message.id,
                        recipient = %message.recipient,
                        attempts = message.attempts + 1,
                        "alert message failed, giving up (retry with `watchfloor alerts retry`): {reason}"
                    );
                    self.db
                        .write(move |store| store.mark_attempt_failed(id, &reason, None, now))
                        .await
                } else {
                    let mut delay = plan::retry_delay(message.attempts + 1);
                    // Never sooner than the receiver asked, never later than the backoff's
                    // longest wait (`Retry-After` is already held to an hour).
                    if let SendError::Throttled { retry_after, .. } = e {
                        delay = delay.max(*retry_after);
                    }
                    let retry_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                    warn!(
                        message = message.id,
                        recipient = %message.recipient,
                        attempts = message.attempts + 1,
                        retry_at = %retry_at.format("%H:%M:%S"),
                        "alert message not sent, will retry: {reason}"
                    );
                    self.db
                        .write(move |store| {
                            store.mark_attempt_failed(id, &reason, Some(retry_at), now)
                        })
                        .await
                }
            }
        }
    }

    /// What a planned message carries, from what the store holds now: the one view both
    /// transports render.
    async fn view(
        &self,
        config: &DispatchConfig,
        message: &OutboxMessage,
    ) -> Result<MessageView, String> {
        let id = message.id;
        let alerts = self
            .db
            .read(move |store| store.message_alerts(id))
            .await
            .map_err(|e| {
                format!(
                    "reading the message's alerts: {}",
                    crate::error::error_chain(&e)
                )
            })?;
        if alerts.is_empty() {
            return Err("the message carries no alerts (their hits were removed)".into());
        }
        let views = alerts
            .into_iter()
            .map(|alert| {
                let indicator = config.indicators.get(&alert.indicator_id);
                AlertView {
                    alert_id: alert.alert_id,
                    hit_id: alert.hit_id,
                    indicator_title: indicator
                        .map_or_else(|| alert.indicator_id.clone(), |i| i.title.clone()),
                    severity: indicator
                        .map_or("medium", |i| i.severity.as_str())
                        .to_owned(),
                    insight: indicator.map(|i| i.insight.clone()).unwrap_or_default(),
                    indicator_id: alert.indicator_id,
                    item_title: alert.item_title,
                    link: alert.link,
                    published: alert.published,
                    first_seen: alert.first_seen,
                    sources: alert
                        .sources
                        .into_iter()
                        .map(|s| SourceView {
                            feed_id: s.feed_id,
                            feed_title: s.feed_title,
                            link: s.link,
                        })
                        .collect(),
                    evidence_json: alert.evidence,
                    score: alert.score,
                }
            })
            .collect();
        Ok(MessageView {
            kind: match message.kind {
                MessageKind::Alert => render::MessageKind::Alert,
                MessageKind::Digest => render::MessageKind::Digest,
                MessageKind::Summary => render::MessageKind::Summary,
            },
            alerts: views,
            hit_log_base: config.mail.hit_log_base.clone(),
            hit_log_local_only: config.mail.hit_log_local_only,
        })
    }

    /// Builds the e-mail for a planned message.
    fn compose(
        &self,
        config: &DispatchConfig,
        message: &OutboxMessage,
        view: MessageView,
        now: DateTime<Utc>,
    ) -> Result<lettre::Message, String> {
        let envelope = Envelope {
            from: mailbox(&config.mail.from)?,
            to: mailbox(&message.recipient)?,
            message_id: message.message_id.clone(),
            // The planned time, so a resend is the same message in every header.
            date: message.created_at.min(now),
        };
        render::build_message(&envelope, &render::render(&view)).map_err(|e| e.to_string())
    }

    /// The daemon's delivery loop, until `shutdown`; a message in flight is finished first.
    pub async fn run(&self, shutdown: CancellationToken) {
        loop {
            self.heartbeat.beat();
            match self.round(Utc::now(), false, Some(&shutdown)).await {
                Ok(report)
                    if report.planned + report.sent + report.retrying + report.failed > 0 =>
                {
                    info!(
                        planned = report.planned,
                        sent = report.sent,
                        retrying = report.retrying,
                        failed = report.failed,
                        "outbox"
                    );
                }
                Ok(_) => {}
                Err(e) => error!("outbox: {}", crate::error::error_chain(&e)),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

/// Sends the message of `watchfloor test-email`; returns what the server said.
pub async fn send_test(
    transport: &Transport,
    mail: &MailSettings,
    to: &str,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    let envelope = Envelope {
        from: mailbox(&mail.from).map_err(SendError::Permanent)?,
        to: mailbox(to).map_err(SendError::Permanent)?,
        message_id: format!(
            "watchfloor.test-{}@{}",
            now.timestamp_millis(),
            mail.from_domain()
        ),
        date: now,
    };
    let view = MessageView {
        kind: render::MessageKind::Test,
        alerts: Vec::new(),
        hit_log_base: mail.hit_log_base.clone(),
        hit_log_local_only: mail.hit_log_local_only,
    };
    let email = render::build_message(&envelope, &render::render(&view))
        .map_err(|e| SendError::Permanent(e.to_string()))?;
    transport.send(&email).await
}

/// Posts the message of `watchfloor test-webhook` to the webhook `name`; returns what the
/// receiver said.
pub async fn send_test_webhook(
    webhooks: &WebhookTransport,
    mail: &MailSettings,
    name: &str,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    let view = MessageView {
        kind: render::MessageKind::Test,
        alerts: Vec::new(),
        hit_log_base: mail.hit_log_base.clone(),
        hit_log_local_only: mail.hit_log_local_only,
    };
    let key = format!(
        "watchfloor.test-{}@{}",
        now.timestamp_millis(),
        mail.from_domain()
    );
    webhooks.post(name, &view, &key, now).await
}

fn mailbox(address: &str) -> Result<Mailbox, String> {
    address
        .parse::<Mailbox>()
        .map_err(|e| format!("'{address}' is not an e-mail address ({e})"))
}
