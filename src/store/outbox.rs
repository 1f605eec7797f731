//! The outbox: alerts (a hit for a recipient) and the messages that carry them, for both
//! transports: e-mail, where the recipient is an address, and webhooks, where it is the
//! webhook's name ([`Channel`]). Both take the same path: planned, sent, acknowledged, retried
//! and given up on alike.
//!
//! An alert row is written in the same transaction as its hit, so a hit can never exist
//! without its alerts. The dispatcher then plans messages (one transaction: the message row,
//! its Message-ID, and which alerts it carries), sends them, and acknowledges each in another
//! transaction. A crash between the server's acceptance and the acknowledgement resends the
//! same planned message, with the same Message-ID, so receivers can drop the copy.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{HitRoute, Store, StoreError, from_unix, to_unix};
use crate::config::AlertMode;

/// How long a message keeps being retried before it is marked failed.
pub const GIVE_UP_AFTER_SECONDS: i64 = 24 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// Immediate hits of one indicator (grouped within the group window).
    Alert,
    /// The scheduled digest.
    Digest,
    /// Everything held back once a recipient's hourly cap was reached.
    Summary,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Digest => "digest",
            MessageKind::Summary => "summary",
        }
    }

    fn parse(text: &str) -> MessageKind {
        match text {
            "digest" => MessageKind::Digest,
            "summary" => MessageKind::Summary,
            _ => MessageKind::Alert,
        }
    }
}

/// The transport that delivers an alert or a message; the row's `recipient` is its target
/// there (an e-mail address, or a webhook's name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    #[default]
    Mail,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mail => "mail",
            Channel::Webhook => "webhook",
        }
    }

    fn parse(text: &str) -> Channel {
        match text {
            "webhook" => Channel::Webhook,
            _ => Channel::Mail,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageStatus {
    Pending,
    Sent,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> MessageStatus {
        match text {
            "sent" => MessageStatus::Sent,
            "failed" => MessageStatus::Failed,
            _ => MessageStatus::Pending,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertStatus {
    /// Not yet delivered (planned into a message or not).
    Pending,
    Sent,
    /// Given up on: refused permanently, or failing for a day.
    Failed,
    /// A later report of a story already alerted: shown as a source, never mailed alone.
    Folded,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Pending => "pending",
            AlertStatus::Sent => "sent",
            AlertStatus::Failed => "failed",
            AlertStatus::Folded => "folded",
        }
    }

    pub fn parse(text: &str) -> Option<AlertStatus> {
        match text {
            "pending" => Some(AlertStatus::Pending),
            "sent" => Some(AlertStatus::Sent),
            "failed" => Some(AlertStatus::Failed),
            "folded" => Some(AlertStatus::Folded),
            _ => None,
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert no message carries yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAlert {
    pub alert_id: i64,
    pub hit_id: i64,
    pub indicator_id: String,
    pub channel: Channel,
    pub recipient: String,
    pub mode: AlertMode,
    pub created_at: DateTime<Utc>,
}

/// A message the dispatcher decided to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMessage {
    pub channel: Channel,
    pub recipient: String,
    pub kind: MessageKind,
    /// In the order the message lists them; never empty.
    pub alert_ids: Vec<i64>,
}

/// A message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: Channel,
    pub recipient: String,
    pub kind: MessageKind,
    /// The Message-ID header, without angle brackets; a webhook's `Idempotency-Key`. Fixed
    /// when the message is planned, so every retry carries the same one.
    pub message_id: String,
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    pub give_up_at: DateTime<Utc>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub reply: Option<String>,
}

/// A feed that reported a story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRow {
    pub feed_id: String,
    pub feed_title: Option<String>,
    /// The link of the item that feed gave.
    pub link: Option<String>,
}

/// One alert of a message, with what its message shows.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageAlert {
    pub alert_id: i64,
    pub hit_id: i64,
    pub indicator_id: String,
    pub score: f64,
    pub evidence: String,
    pub item_title: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    /// The feed that produced the hit first, then every other feed with the same story.
    pub sources: Vec<SourceRow>,
}

/// An alert as `watchfloor alerts` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRow {
    pub alert_id: i64,
    pub hit_id: i64,
    pub indicator_id: String,
    pub channel: Channel,
    pub recipient: String,
    pub mode: AlertMode,
    pub status: AlertStatus,
    pub created_at: DateTime<Utc>,
    pub item_title: String,
    pub folded_into: Option<i64>,
    pub message: Option<OutboxMessage>,
}

/// An alert's delivery, for a hit's page.
pub type DeliveryRecord = AlertRow;

/// Outbox totals, for summaries and health.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    pub folded: u64,
    /// Messages waiting to be (re)sent.
    pub messages_pending: u64,
    /// Messages the server accepted.
    pub messages_sent: u64,
    /// Messages given up on (refused for good, or failing past their deadline): the dead
    /// letters, until `alerts retry` revives them.
    pub messages_failed: u64,
}

/// Queues the alerts of a new hit, one per recipient and webhook, inside the poll's transaction, and
/// marks the hit as waiting for its story: its alerts are held back from planning until the
/// dispatcher has decided whether the hit is a later report of a story already alerted
/// ([`Store::record_stories`]), which it does outside this transaction.
pub(super) fn queue_alerts(
    tx: &Transaction<'_>,
    hit_id: i64,
    route: &HitRoute,
    now: i64,
) -> Result<u64, StoreError> {
    tx.prepare_cached("UPDATE hits SET story_pending = 1 WHERE id = ?1")?
        .execute([hit_id])?;
    let mut queued = 0;
    let targets = (route.recipients.iter().map(|r| (Channel::Mail, r)))
        .chain(route.webhooks.iter().map(|w| (Channel::Webhook, w)));
    for (channel, recipient) in targets {
        queued += tx
            .prepare_cached(
                "INSERT INTO alerts (hit_id, transport, recipient, mode, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)
                 ON CONFLICT(hit_id, recipient) DO NOTHING",
            )?
            .execute(params![
                hit_id,
                channel.as_str(),
                recipient,
                route.mode.as_str(),
                now
            ])? as u64;
    }
    Ok(queued)
}

/// A hit as story folding sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoryHit {
    pub hit_id: i64,
    pub indicator_id: String,
    pub item_id: i64,
    pub created_at: DateTime<Utc>,
    /// The title's fingerprint as stored with the hit; `None` for hits stored before
    /// fingerprints were (schema version 10), which give `title` instead.
    pub fingerprint: Option<String>,
    /// The first [`Store::story_candidates`]'s `title_bytes` of the item's title, only when
    /// there is no stored fingerprint; else empty.
    pub title: String,
}

/// A hit for story folding; `?1` is how many bytes of a title to read when the hit has no
/// stored fingerprint.
const STORY_HIT_SELECT: &str = "SELECT h.id, h.indicator_id, h.item_id, h.created_at,
        h.fingerprint, CASE WHEN h.fingerprint IS NULL THEN substr(i.title, 1, ?1) ELSE '' END
     FROM hits h JOIN items i ON i.id = h.item_id";

fn story_hit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoryHit> {
    Ok(StoryHit {
        hit_id: row.get(0)?,
        indicator_id: row.get(1)?,
        item_id: row.get(2)?,
        created_at: from_unix(row.get(3)?),
        fingerprint: row.get(4)?,
        title: row.get(5)?,
    })
}

impl Store {
    /// Hits whose story is not decided yet, oldest first, at most `limit`.
    pub fn story_pending(
        &self,
        limit: usize,
        title_bytes: usize,
    ) -> Result<Vec<StoryHit>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "{STORY_HIT_SELECT} WHERE h.story_pending = 1 ORDER BY h.id LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![title_bytes as i64, limit as i64], story_hit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The first reports of `indicator_id`'s stories (hits from polls that joined no earlier
    /// story) created at or after `since` and before hit `before`, newest first, at most
    /// `limit`. Only the part of a title a fingerprint reads leaves the database, and only for
    /// hits stored without one.
    pub fn story_candidates(
        &self,
        indicator_id: &str,
        since: DateTime<Utc>,
        before: i64,
        limit: usize,
        title_bytes: usize,
    ) -> Result<Vec<StoryHit>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "{STORY_HIT_SELECT} WHERE h.indicator_id = ?2 AND h.created_at >= ?3 AND h.id < ?4
               AND h.story_id IS NULL AND h.origin = 'poll'
             ORDER BY h.id DESC LIMIT ?5"
        ))?;
        let rows = statement.query_map(
            params![
                title_bytes as i64,
                indicator_id,
                to_unix(since),
                before,
                limit as i64
            ],
            story_hit_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records decided stories in one transaction: each hit joins its leader's story (or
    /// leads its own), its alerts to a recipient the leader already alerts are folded into
    /// that alert, and its alerts are released to planning. A hit already decided (by another
    /// process) is left as it is.
    pub fn record_stories(&mut self, decided: &[(i64, Option<i64>)]) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut folded = 0;
        for &(hit_id, leader) in decided {
            let released = tx
                .prepare_cached(
                    "UPDATE hits SET story_pending = 0, story_id = ?2
                     WHERE id = ?1 AND story_pending = 1",
                )?
                .execute(params![hit_id, leader])?;
            if released == 0 {
                continue;
            }
            let Some(leader) = leader else { continue };
            folded += tx
                .prepare_cached(
                    "UPDATE alerts SET status = 'folded',
                       folded_into = (SELECT l.id FROM alerts l
                                      WHERE l.hit_id = ?2 AND l.recipient = alerts.recipient
                                        AND l.transport = alerts.transport)
                     WHERE hit_id = ?1 AND status = 'pending' AND message IS NULL
                       AND EXISTS (SELECT 1 FROM alerts l
                                   WHERE l.hit_id = ?2 AND l.recipient = alerts.recipient
                                     AND l.transport = alerts.transport)",
                )?
                .execute(params![hit_id, leader])? as u64;
        }
        tx.commit()?;
        Ok(folded)
    }
}

const MESSAGE_SELECT: &str = "SELECT id, recipient, kind, message_id, status, created_at, attempts,
        next_attempt, give_up_at, last_attempt, last_error, sent_at, reply, transport
     FROM messages";

fn message_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: row.get(0)?,
        channel: Channel::parse(&row.get::<_, String>(13)?),
        recipient: row.get(1)?,
        kind: MessageKind::parse(&row.get::<_, String>(2)?),
        message_id: row.get(3)?,
        status: MessageStatus::parse(&row.get::<_, String>(4)?),
        created_at: from_unix(row.get(5)?),
        attempts: row.get(6)?,
        next_attempt: from_unix(row.get(7)?),
        give_up_at: from_unix(row.get(8)?),
        last_attempt: row.get::<_, Option<i64>>(9)?.map(from_unix),
        last_error: row.get(10)?,
        sent_at: row.get::<_, Option<i64>>(11)?.map(from_unix),
        reply: row.get(12)?,
    })
}

impl Store {
    /// Alerts waiting for a message, oldest first.
    pub fn pending_alerts(&self) -> Result<Vec<PendingAlert>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT a.id, a.hit_id, h.indicator_id, a.recipient, a.mode, a.created_at, a.transport
             FROM alerts a JOIN hits h ON h.id = a.hit_id
             WHERE a.message IS NULL AND a.status = 'pending' AND h.story_pending = 0
             ORDER BY a.created_at, a.id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(PendingAlert {
                alert_id: row.get(0)?,
                hit_id: row.get(1)?,
                indicator_id: row.get(2)?,
                channel: Channel::parse(&row.get::<_, String>(6)?),
                recipient: row.get(3)?,
                mode: AlertMode::parse(&row.get::<_, String>(4)?).unwrap_or_default(),
                created_at: from_unix(row.get(5)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Alert and summary messages planned per recipient (or webhook) since `since`: what the
    /// hourly cap counts (digests are scheduled, not counted).
    pub fn recent_message_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<HashMap<(Channel, String), u64>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT transport, recipient, COUNT(*) FROM messages
             WHERE created_at >= ?1 AND kind IN ('alert', 'summary')
             GROUP BY transport, recipient",
        )?;
        let rows = statement.query_map([to_unix(since)], |row| {
            Ok((
                (
                    Channel::parse(&row.get::<_, String>(0)?),
                    row.get::<_, String>(1)?,
                ),
                row.get::<_, i64>(2)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records planned messages in one transaction: each gets its row, its Message-ID (from
    /// its first alert's id and `domain`) and its alerts. `mark` sets a dispatcher time in the
    /// same transaction (the digest's), so a crash cannot send a digest twice or skip one.
    /// Returns the new messages' ids.
    pub fn plan_messages(
        &mut self,
        plans: &[PlannedMessage],
        domain: &str,
        mark: Option<(&str, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction()?;
        if let Some((key, at)) = mark {
            tx.prepare_cached(
                "INSERT INTO dispatch_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, to_unix(at)])?;
        }
        let now = to_unix(now);
        let mut ids = Vec::new();
        for plan in plans {
            let Some(first) = plan.alert_ids.first() else {
                continue;
            };
            let message_id = format!("watchfloor.{}-{first}@{domain}", plan.kind.as_str());
            tx.prepare_cached(
                "INSERT INTO messages (recipient, kind, message_id, created_at, next_attempt,
                   give_up_at, transport)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
            )?
            .execute(params![
                plan.recipient,
                plan.kind.as_str(),
                message_id,
                now,
                now + GIVE_UP_AFTER_SECONDS,
                plan.channel.as_str()
            ])?;
            let id = tx.last_insert_rowid();
            let mut claim = tx.prepare_cached(
                "UPDATE alerts SET message = ?2 WHERE id = ?1 AND message IS NULL",
            )?;
            for alert in &plan.alert_ids {
                claim.execute(params![alert, id])?;
            }
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Messages due for a (re)try, oldest first.
    pub fn due_messages(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut statement = self.conn.prepare_cached(&format!(
            "{MESSAGE_SELECT} WHERE status = 'pending' AND next_attempt <= ?1
             ORDER BY next_attempt, id LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![to_unix(now), limit as i64], message_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn message(&self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("{MESSAGE_SELECT} WHERE id = ?1"))?
            .query_row([id], message_row)
            .optional()?)
    }

    /// When the next pending message is due, if any.
    pub fn next_message_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT MIN(next_attempt) FROM messages WHERE status = 'pending'")?
            .query_row([], |row| row.get::<_, Option<i64>>(0))?
            .map(from_unix))
    }

    /// What a message carries, in the order it was planned, with every source of each story.
    pub fn message_alerts(&self, message: i64) -> Result<Vec<MessageAlert>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT a.id, h.id, h.indicator_id, h.score, h.evidence, i.title, i.link,
                    i.published, i.first_seen, h.item_id, h.feed_id
             FROM alerts a JOIN hits h ON h.id = a.hit_id JOIN items i ON i.id = h.item_id
             WHERE a.message = ?1 ORDER BY a.id",
        )?;
        let rows = statement.query_map([message], |row| {
            Ok((
                MessageAlert {
                    alert_id: row.get(0)?,
                    hit_id: row.get(1)?,
                    indicator_id: row.get(2)?,
                    score: row.get(3)?,
                    evidence: row.get(4)?,
                    item_title: row.get(5)?,
                    link: row.get(6)?,
                    published: row.get::<_, Option<i64>>(7)?.map(from_unix),
                    first_seen: from_unix(row.get(8)?),
                    sources: Vec::new(),
                },
                row.get::<_, String>(10)?,
            ))
        })?;
        let mut alerts = Vec::new();
        for row in rows {
            let (mut alert, hit_feed) = row?;
            alert.sources = self.story_sources(alert.hit_id, &hit_feed)?;
            alerts.push(alert);
        }
        Ok(alerts)
    }

    /// Every feed that reported a hit's story: the hit's own item's sources and those of the
    /// later reports folded into it, the feed that produced the hit first (always: the hit
    /// and its text are that feed's, whatever other feeds list).
    pub(super) fn story_sources(
        &self,
        hit_id: i64,
        hit_feed: &str,
    ) -> Result<Vec<SourceRow>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT s.feed_id, f.title, i.link, MIN(s.first_seen) AS seen
             FROM item_sources s JOIN feeds f ON f.id = s.feed_id JOIN items i ON i.id = s.item_id
             WHERE s.item_id IN (SELECT item_id FROM hits WHERE id = ?1 OR story_id = ?1)
             GROUP BY s.feed_id, i.id
             ORDER BY seen, s.feed_id",
        )?;
        let rows = statement.query_map([hit_id], |row| {
            Ok(SourceRow {
                feed_id: row.get(0)?,
                feed_title: row.get(1)?,
                link: row.get(2)?,
            })
        })?;
        let mut sources: Vec<SourceRow> = rows.collect::<Result<_, _>>()?;
        let first = match sources.iter().position(|s| s.feed_id == hit_feed) {
            Some(position) => Some(sources.remove(position)),
            // The feed moved on to other text (a change of its own, on a row of its own) and
            // no longer lists this item; the hit, and the text it matched, are still its.
            None => self
                .conn
                .prepare_cached(
                    "SELECT h.feed_id, f.title, i.link
                     FROM hits h JOIN feeds f ON f.id = h.feed_id JOIN items i ON i.id = h.item_id
                     WHERE h.id = ?1",
                )?
                .query_row([hit_id], |row| {
                    Ok(SourceRow {
                        feed_id: row.get(0)?,
                        feed_title: row.get(1)?,
                        link: row.get(2)?,
                    })
                })
                .optional()?,
        };
        if let Some(first) = first {
            sources.insert(0, first);
        }
        Ok(sources)
    }

    /// The server accepted the message: it and its alerts are sent.
    pub fn mark_sent(
        &mut self,
        message: i64,
        reply: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let now = to_unix(now);
        tx.execute(
            "UPDATE messages SET status = 'sent', sent_at = ?2, last_attempt = ?2,
               attempts = attempts + 1, reply = ?3, last_error = NULL
             WHERE id = ?1",
            params![message, now, reply],
        )?;
        tx.execute(
            "UPDATE alerts SET status = 'sent' WHERE message = ?1",
            [message],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A send failed. With `retry_at` the message waits for another attempt; without, it is
    /// given up on (a permanent refusal, or a day of failures) and so are its alerts, which
    /// stay in the outbox, visible, until retried by hand.
    pub fn mark_attempt_failed(
        &mut self,
        message: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let now = to_unix(now);
        match retry_at {
            Some(at) => {
                tx.execute(
                    "UPDATE messages SET attempts = attempts + 1, last_attempt = ?2,
                       last_error = ?3, next_attempt = ?4
                     WHERE id = ?1",
                    params![message, now, error, to_unix(at)],
                )?;
            }
            None => {
                tx.execute(
                    "UPDATE messages SET status = 'failed', attempts = attempts + 1,
                       last_attempt = ?2, last_error = ?3
                     WHERE id = ?1",
                    params![message, now, error],
                )?;
                tx.execute(
                    "UPDATE alerts SET status = 'failed' WHERE message = ?1",
                    [message],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Alerts, newest first, optionally of one status (`pending` includes planned ones).
    pub fn alerts(
        &self,
        status: Option<AlertStatus>,
        limit: usize,
    ) -> Result<Vec<AlertRow>, StoreError> {
        self.alert_rows(
            "WHERE (?1 IS NULL OR a.status = ?1) ORDER BY a.id DESC LIMIT ?2",
            params![status.map(AlertStatus::as_str), limit as i64],
        )
    }

    /// The alerts of one hit, for its delivery record.
    pub fn hit_alerts(&self, hit_id: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.alert_rows("WHERE a.hit_id = ?1 ORDER BY a.id", params![hit_id])
    }

    fn alert_rows(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT a.id, a.hit_id, h.indicator_id, a.recipient, a.mode, a.status, a.created_at,
                    i.title, a.folded_into, a.message, a.transport
             FROM alerts a JOIN hits h ON h.id = a.hit_id JOIN items i ON i.id = h.item_id
             {filter}"
        ))?;
        let rows = statement.query_map(args, |row| {
            Ok((
                AlertRow {
                    alert_id: row.get(0)?,
                    hit_id: row.get(1)?,
                    indicator_id: row.get(2)?,
                    channel: Channel::parse(&row.get::<_, String>(10)?),
                    recipient: row.get(3)?,
                    mode: AlertMode::parse(&row.get::<_, String>(4)?).unwrap_or_default(),
                    status: AlertStatus::parse(&row.get::<_, String>(5)?)
                        .unwrap_or(AlertStatus::Pending),
                    created_at: from_unix(row.get(6)?),
                    item_title: row.get(7)?,
                    folded_into: row.get(8)?,
                    message: None,
                },
                row.get::<_, Option<i64>>(9)?,
            ))
        })?;
        let mut alerts = Vec::new();
        let mut messages: HashMap<i64, Option<OutboxMessage>> = HashMap::new();
        for row in rows {
            let (mut alert, message) = row?;
            if let Some(id) = message {
                let message = match messages.get(&id) {
                    Some(m) => m.clone(),
                    None => {
                        let m = self.message(id)?;
                        messages.insert(id, m.clone());
                        m
                    }
                };
                alert.message = message;
            }
            alerts.push(alert);
        }
        Ok(alerts)
    }

    /// Puts an alert's failed message back in the queue, with a fresh day of retries.
    /// Returns the message retried, or `None` when the alert's message had not failed.
    pub fn retry_alert(
        &mut self,
        alert_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let message: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT a.message FROM alerts a LEFT JOIN messages m ON m.id = a.message
                 WHERE a.id = ?1 AND a.status = 'failed'",
                [alert_id],
                |row| row.get(0),
            )
            .optional()?;
        match message {
            Some(Some(message)) => {
                self.requeue(&[message], now)?;
                Ok(Some(message))
            }
            _ => Ok(None),
        }
    }

    /// Puts every failed message back in the queue. Returns how many.
    pub fn retry_failed(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let ids: Vec<i64> = {
            let mut statement = self
                .conn
                .prepare("SELECT id FROM messages WHERE status = 'failed' ORDER BY id")?;
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        self.requeue(&ids, now)?;
        Ok(ids.len())
    }

    fn requeue(&mut self, messages: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let now = to_unix(now);
        for id in messages {
            tx.execute(
                "UPDATE messages SET status = 'pending', next_attempt = ?2, give_up_at = ?3
                 WHERE id = ?1 AND status = 'failed'",
                params![id, now, now + GIVE_UP_AFTER_SECONDS],
            )?;
            tx.execute(
                "UPDATE alerts SET status = 'pending' WHERE message = ?1 AND status = 'failed'",
                [id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Outbox totals by alert status, and messages waiting.
    pub fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let mut counts = OutboxCounts::default();
        let mut statement = self
            .conn
            .prepare_cached("SELECT status, COUNT(*) FROM alerts GROUP BY status")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (status, n) = row?;
            match AlertStatus::parse(&status) {
                Some(AlertStatus::Pending) => counts.pending = n,
                Some(AlertStatus::Sent) => counts.sent = n,
                Some(AlertStatus::Failed) => counts.failed = n,
                Some(AlertStatus::Folded) => counts.folded = n,
                None => {}
            }
        }
        let mut statement = self
            .conn
            .prepare_cached("SELECT status, COUNT(*) FROM messages GROUP BY status")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        for row in rows {
            let (status, n) = row?;
            match MessageStatus::parse(&status) {
                MessageStatus::Pending => counts.messages_pending += n,
                MessageStatus::Sent => counts.messages_sent += n,
                MessageStatus::Failed => counts.messages_failed += n,
            }
        }
        Ok(counts)
    }

    /// When the oldest message still waiting to be sent was planned.
    pub fn oldest_waiting_message(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT MIN(created_at) FROM messages WHERE status = 'pending'")?
            .query_row([], |row| row.get::<_, Option<i64>>(0))?
            .map(from_unix))
    }

    /// A value the dispatcher keeps across restarts.
    pub fn dispatch_time(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM dispatch_state WHERE key = ?1")?
            .query_row([key], |row| row.get::<_, i64>(0))
            .optional()?
            .map(from_unix))
    }

    pub fn set_dispatch_time(&mut self, key: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO dispatch_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, to_unix(at)])?;
        Ok(())
    }
}
