//! Feed health: operational mail to `mail.ops` when a feed dies quietly.
//!
//! Feeds fail without anyone noticing: a site moves its feed, a CDN starts answering with a
//! login page. Every few minutes [`watch_feeds`] reads each enabled feed's state and asks
//! [`check`] (pure: the time is a parameter) what to say:
//!
//! - **failing**: the feed has failed every poll for longer than `feed_alert_after`;
//! - **quiet**: it answers, but has delivered nothing for far longer than its own cadence,
//!   learned from when its recent items arrived;
//! - **network**: most feeds fail at once, which points at our side (DNS, a proxy, the
//!   uplink), so one message lists them instead of one message per feed.
//!
//! Each problem is an episode: a first notice, a reminder at most once a day while it lasts,
//! and a recovery notice when it ends. Notices are recorded in the store only once sent, so
//! a failed send is tried again at the next check and a restart repeats nothing.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::transport::{SMTP_TIMEOUT, Transport};
use crate::config::{Feed, MailSettings, Settings};
use crate::ops::health::Heartbeat;
use crate::store::{Db, FeedHealthRow, NoticeKind, NoticePhase, NoticeState, StoreError};
use crate::text::safe::header_text;

/// How often the daemon checks feed health: far below any threshold worth reporting, and
/// each check is a few indexed queries.
pub const TICK: Duration = Duration::from_secs(300);
/// The feed id under which the "most feeds fail at once" episode is recorded.
pub const NETWORK: &str = "*";
/// Longest subject, in characters.
const SUBJECT_MAX: usize = 200;
/// Longest one-line value (URL, error) in a notice's text.
const FIELD_MAX: usize = 500;

/// When a feed is worth a notice.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// A feed failing this long gets a notice (`feed_alert_after`).
    pub alert_after: Duration,
    /// At most one notice per feed and kind within this span, reminders and new episodes
    /// alike; recovery notices excepted.
    pub renotify_after: Duration,
    /// Polls that brought new items, newest first, from which a feed's cadence is learned.
    pub history: usize,
    /// Fewer arrivals than this and the cadence is not known well enough to call a feed quiet.
    pub min_history: usize,
    /// Quiet: silent for more than this many usual gaps...
    pub quiet_factor: u32,
    /// ...and for more than this, whatever the cadence, so a busy feed's lunch break is not
    /// an incident.
    pub quiet_floor: Duration,
    /// "Network down?" needs at least this many feeds failing, and more than half of those
    /// polled.
    pub network_min: usize,
}

impl Rules {
    pub fn new(alert_after: Duration) -> Rules {
        Rules {
            alert_after,
            renotify_after: Duration::from_secs(24 * 3600),
            history: 20,
            min_history: 5,
            quiet_factor: 10,
            quiet_floor: Duration::from_secs(2 * 24 * 3600),
            network_min: 3,
        }
    }
}

/// A notice to send to `mail.ops`.
#[derive(Clone, Debug, PartialEq)]
pub struct OpsNotice {
    /// The feed, or [`NETWORK`].
    pub feed_id: String,
    pub kind: NoticeKind,
    pub phase: NoticePhase,
    /// When the episode's first notice went out (now, for a first notice).
    pub episode: DateTime<Utc>,
    pub subject: String,
    pub text: String,
    /// The feeds a network notice names; empty for a feed's own notice.
    pub feeds: Vec<String>,
}

impl OpsNotice {
    /// A Message-ID from the feed, the kind and the day, so the same notice resent after a
    /// crash is recognisably the same; a recovery is keyed by the episode it closes.
    pub fn message_id(&self, domain: &str, now: DateTime<Utc>) -> String {
        let feed: String = if self.feed_id == NETWORK {
            "all".to_owned()
        } else {
            self.feed_id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let kind = self.kind.as_str();
        match self.phase {
            NoticePhase::Recovered => format!(
                "watchfloor.ops-{kind}-recovered-{feed}-{}@{domain}",
                self.episode.timestamp()
            ),
            _ => format!(
                "watchfloor.ops-{kind}-{feed}-{}@{domain}",
                now.format("%Y%m%d")
            ),
        }
    }
}

/// A quiet feed's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silence {
    /// The median gap between its recent arrivals.
    pub usual: Duration,
    /// From its newest arrival to its last successful poll.
    pub silence: Duration,
    pub newest: DateTime<Utc>,
}

fn std_span(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// When the feed's current failure streak began, if it is failing.
fn failing_since(feed: &FeedHealthRow) -> Option<DateTime<Utc>> {
    if feed.consecutive_failures == 0 {
        return None;
    }
    // A streak without a start predates the column; the last success bounds it.
    feed.failing_since
        .or(feed.last_success)
        .or(feed.last_attempt)
}

/// Whether a feed has failed for longer than the rules allow.
pub fn failing_too_long(
    feed: &FeedHealthRow,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let since = failing_since(feed)?;
    let span = std_span(since, now);
    (span > rules.alert_after).then_some(span)
}

/// Whether a feed that answers has been silent for far longer than its usual cadence.
///
/// The silence is counted up to the feed's last successful poll, not to now: after the
/// daemon was stopped for a week, feeds are not quiet, only unpolled.
pub fn quiet(feed: &FeedHealthRow, rules: &Rules) -> Option<Silence> {
    if feed.consecutive_failures > 0 || feed.arrivals.len() < rules.min_history.max(2) {
        return None;
    }
    let last_success = feed.last_success?;
    let mut arrivals = feed.arrivals.clone();
    arrivals.sort_unstable_by(|a, b| b.cmp(a));
    let newest = arrivals[0];
    let mut gaps: Vec<Duration> = arrivals
        .windows(2)
        .map(|pair| std_span(pair[1], pair[0]))
        .collect();
    gaps.sort_unstable();
    let usual = gaps[gaps.len() / 2];
    let threshold = (usual * rules.quiet_factor).max(rules.quiet_floor);
    let silence = std_span(newest, last_success);
    (silence > threshold).then_some(Silence {
        usual,
        silence,
        newest,
    })
}

/// Whether to send a notice for one feed and kind, given what was sent before.
fn decide(
    sent: Option<&NoticeState>,
    bad: bool,
    recovered: bool,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Option<(NoticePhase, DateTime<Utc>)> {
    let open = sent.and_then(|s| s.open_since);
    let rested = sent.is_none_or(|s| std_span(s.last_notified, now) >= rules.renotify_after);
    match (bad, open) {
        (true, None) if rested => Some((NoticePhase::Opened, now)),
        (true, Some(since)) if rested => Some((NoticePhase::Reminder, since)),
        (false, Some(since)) if recovered => Some((NoticePhase::Recovered, since)),
        _ => None,
    }
}

/// What to tell operators at `now`, given the feeds watched and the notices already sent.
/// Inactive feeds and feeds never polled are ignored.
pub fn check(
    feeds: &[FeedHealthRow],
    sent: &[NoticeState],
    rules: &Rules,
    now: DateTime<Utc>,
) -> Vec<OpsNotice> {
    let sent: HashMap<(&str, NoticeKind), &NoticeState> = sent
        .iter()
        .map(|s| ((s.feed_id.as_str(), s.kind), s))
        .collect();
    let watched: Vec<&FeedHealthRow> = feeds
        .iter()
        .filter(|f| f.active && f.last_attempt.is_some())
        .collect();
    let failing: Vec<(&FeedHealthRow, Duration)> = watched
        .iter()
        .filter_map(|f| failing_too_long(f, rules, now).map(|span| (*f, span)))
        .collect();
    let is_open = |id: &str, kind| {
        sent.get(&(id, kind))
            .is_some_and(|s| s.open_since.is_some())
    };
    // Feeds already reported on their own do not make an outage: three feeds that broke in
    // three different weeks are three problems, not a network down.
    let fresh = failing
        .iter()
        .filter(|(f, _)| !is_open(&f.id, NoticeKind::Failing))
        .count();
    let network_down = fresh >= rules.network_min && fresh * 2 > watched.len();

    let mut notices = Vec::new();
    if let Some((phase, episode)) = decide(
        sent.get(&(NETWORK, NoticeKind::Network)).copied(),
        network_down,
        !network_down,
        rules,
        now,
    ) {
        notices.push(network_notice(
            phase, episode, &watched, &failing, rules, now,
        ));
    }
    for feed in &watched {
        let span = failing
            .iter()
            .find(|(f, _)| f.id == feed.id)
            .map(|(_, span)| *span);
        // While the network notice covers every failing feed, their own are held back.
        let bad = span.is_some() && !network_down;
        if let Some((phase, episode)) = decide(
            sent.get(&(feed.id.as_str(), NoticeKind::Failing)).copied(),
            bad,
            feed.consecutive_failures == 0,
            rules,
            now,
        ) {
            notices.push(failing_notice(feed, phase, episode, span, rules));
        }
        let silence = quiet(feed, rules);
        if let Some((phase, episode)) = decide(
            sent.get(&(feed.id.as_str(), NoticeKind::Quiet)).copied(),
            silence.is_some(),
            feed.consecutive_failures == 0,
            rules,
            now,
        ) {
            notices.push(quiet_notice(feed, phase, episode, silence, rules));
        }
    }
    notices
}

/// "7h", "45m", "2d 5h".
pub fn span_text(span: Duration) -> String {
    let minutes = span.as_secs() / 60;
    let hours = minutes / 60;
    match (hours / 24, hours % 24) {
        _ if hours == 0 => format!("{minutes}m"),
        _ if hours < 48 => format!("{hours}h"),
        (days, 0) => format!("{days}d"),
        (days, rest) => format!("{days}d {rest}h"),
    }
}

fn stamp(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(
        || "never".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// The name a feed goes by in a notice: its id, and its title when it has one.
fn feed_name(feed: &FeedHealthRow) -> String {
    match feed.title.as_deref().map(|t| header_text(t, 80)) {
        Some(title) if !title.is_empty() => format!("'{}' ({title})", feed.id),
        _ => format!("'{}'", feed.id),
    }
}

/// The feed's state, one fact a line; everything from the feed or its server is cleaned of
/// control characters.
fn state_lines(feed: &FeedHealthRow) -> String {
    let mut text = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(text, "  {label:<22}{}", header_text(&value, FIELD_MAX));
    };
    line("feed:", feed.id.clone());
    line("URL:", feed.url.clone());
    line("failing since:", stamp(failing_since(feed)));
    line("last success:", stamp(feed.last_success));
    line("last attempt:", stamp(feed.last_attempt));
    line(
        "consecutive failures:",
        feed.consecutive_failures.to_string(),
    );
    line(
        "last error:",
        feed.last_error.clone().unwrap_or_else(|| "none".into()),
    );
    line("next check:", stamp(feed.next_check));
    text
}

const FOOTER: &str = "\n-- \nwatchfloor feed health. `watchfloor feeds` shows every feed's state. \
While a problem lasts this notice is repeated at most once a day; a notice follows when it \
ends. Filter on List-Id: ops.watchfloor.\n";

fn failing_notice(
    feed: &FeedHealthRow,
    phase: NoticePhase,
    episode: DateTime<Utc>,
    span: Option<Duration>,
    rules: &Rules,
) -> OpsNotice {
    let name = feed_name(feed);
    let reason = header_text(feed.last_error.as_deref().unwrap_or("unknown error"), 120);
    let for_span = span_text(span.unwrap_or(rules.alert_after));
    let (subject, opening) = match phase {
        NoticePhase::Recovered => (
            format!(
                "[watchfloor][ops] feed '{}' recovered: answering again",
                feed.id
            ),
            format!(
                "Feed {name} answers again (last success {}). It was reported failing on {}.",
                stamp(feed.last_success),
                stamp(Some(episode))
            ),
        ),
        _ => (
            format!(
                "[watchfloor][ops] feed '{}' failing for {for_span}: {reason}",
                feed.id
            ),
            format!(
                "Feed {name} has failed every poll for {for_span} (notices start after {}).\n\
                 watchfloor keeps polling it, backing off up to 6 hours between attempts. If \
                 the site moved its feed, update its url in indicators.yaml; if it is gone, \
                 set enabled: false.",
                span_text(rules.alert_after)
            ),
        ),
    };
    let text = format!("{opening}\n\n{}{FOOTER}", state_lines(feed));
    OpsNotice {
        feed_id: feed.id.clone(),
        kind: NoticeKind::Failing,
        phase,
        episode,
        subject,
        text,
        feeds: Vec::new(),
    }
}

fn quiet_notice(
    feed: &FeedHealthRow,
    phase: NoticePhase,
    episode: DateTime<Utc>,
    silence: Option<Silence>,
    rules: &Rules,
) -> OpsNotice {
    let name = feed_name(feed);
    let newest = feed.arrivals.iter().max().copied();
    let (subject, opening) = match (phase, silence) {
        (NoticePhase::Recovered, _) | (_, None) => (
            format!("[watchfloor][ops] feed '{}' publishing again", feed.id),
            format!(
                "Feed {name} delivered new items again (newest on {}). It was reported quiet \
                 on {}.",
                stamp(newest),
                stamp(Some(episode))
            ),
        ),
        (_, Some(s)) => (
            format!(
                "[watchfloor][ops] feed '{}' quiet for {}: nothing new, usually every {}",
                feed.id,
                span_text(s.silence),
                span_text(s.usual)
            ),
            format!(
                "Feed {name} answers but has delivered nothing new for {} (newest item on \
                 {}), where it usually brings new items every {} (the median gap over its \
                 last {} polls with news). Notices start after {} times the usual gap, and \
                 never before {}.\nA feed that answers with the same old items may have \
                 moved: check its URL in a browser.",
                span_text(s.silence),
                stamp(Some(s.newest)),
                span_text(s.usual),
                feed.arrivals.len().min(rules.history),
                rules.quiet_factor,
                span_text(rules.quiet_floor)
            ),
        ),
    };
    let text = format!("{opening}\n\n{}{FOOTER}", state_lines(feed));
    OpsNotice {
        feed_id: feed.id.clone(),
        kind: NoticeKind::Quiet,
        phase,
        episode,
        subject,
        text,
        feeds: Vec::new(),
    }
}

fn network_notice(
    phase: NoticePhase,
    episode: DateTime<Utc>,
    watched: &[&FeedHealthRow],
    failing: &[(&FeedHealthRow, Duration)],
    rules: &Rules,
    now: DateTime<Utc>,
) -> OpsNotice {
    let still: Vec<&FeedHealthRow> = watched
        .iter()
        .copied()
        .filter(|f| f.consecutive_failures > 0)
        .collect();
    let (subject, mut text, listed) = match phase {
        NoticePhase::Recovered => (
            format!(
                "[watchfloor][ops] network back: {} of {} feeds answering",
                watched.len() - still.len(),
                watched.len()
            ),
            format!(
                "Most feeds answer again (reported failing together on {}). {} feeds still \
                 fail{}\n",
                stamp(Some(episode)),
                still.len(),
                if still.is_empty() { "." } else { ":" }
            ),
            still,
        ),
        _ => {
            let shortest = failing.iter().map(|(_, span)| *span).min();
            (
                format!(
                    "[watchfloor][ops] network down? {} of {} feeds failing for {}",
                    failing.len(),
                    watched.len(),
                    span_text(shortest.unwrap_or(rules.alert_after))
                ),
                format!(
                    "{} of the {} feeds polled have failed every poll for more than {}, as of \
                     {}. So many at once points at this side: DNS, a proxy, a firewall, the \
                     uplink, or the machine's clock. This one notice stands for theirs; each \
                     feed is reported on its own again once most feeds answer.\n\nFailing:\n",
                    failing.len(),
                    watched.len(),
                    span_text(rules.alert_after),
                    stamp(Some(now))
                ),
                failing.iter().map(|(f, _)| *f).collect(),
            )
        }
    };
    for feed in &listed {
        let _ = writeln!(
            text,
            "\n  {} <{}>\n    failing since {}, {} failures: {}",
            header_text(&feed.id, 80),
            header_text(&feed.url, FIELD_MAX),
            stamp(failing_since(feed)),
            feed.consecutive_failures,
            header_text(
                feed.last_error.as_deref().unwrap_or("unknown error"),
                FIELD_MAX
            )
        );
    }
    text.push_str(FOOTER);
    OpsNotice {
        feed_id: NETWORK.to_owned(),
        kind: NoticeKind::Network,
        phase,
        episode,
        subject,
        text,
        feeds: listed.iter().map(|f| f.id.clone()).collect(),
    }
}

/// What one check did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// Notices the transport accepted.
    pub sent: usize,
    /// Notices logged instead, with `mail.ops` empty.
    pub logged: usize,
    /// Notices not sent, one line each; they are tried again at the next check.
    pub errors: Vec<String>,
}

/// The feed health watcher: what it reads, where it sends.
pub struct FeedWatch {
    db: Db,
    /// Its own transport, so a notice never waits behind the dispatcher's batch.
    transport: Transport,
    mail: MailSettings,
    rules: Rules,
    /// The feeds being polled: a disabled feed is expected to be silent.
    enabled: HashSet<String>,
}

impl FeedWatch {
    pub fn new(db: Db, transport: Transport, settings: &Settings, feeds: &[Feed]) -> FeedWatch {
        FeedWatch {
            db,
            transport,
            mail: settings.mail.clone(),
            rules: Rules::new(settings.feed_alert_after),
            enabled: feeds
                .iter()
                .filter(|f| f.enabled)
                .map(|f| f.id.clone())
                .collect(),
        }
    }

    pub fn with_rules(self, rules: Rules) -> FeedWatch {
        FeedWatch { rules, ..self }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The notices due at `now`, sent or not.
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<OpsNotice>, StoreError> {
        let history = self.rules.history;
        let (feeds, sent) = self
            .db
            .read(move |store| Ok((store.feed_health(history)?, store.notice_states()?)))
            .await?;
        let feeds: Vec<FeedHealthRow> = feeds
            .into_iter()
            .filter(|f| self.enabled.contains(&f.id))
            .collect();
        Ok(check(&feeds, &sent, &self.rules, now))
    }

    /// Checks at `now` and sends what is due over one connection; a notice is recorded only
    /// once the server took it (or, with `mail.ops` empty, once it is logged).
    pub async fn check_and_send(&self, now: DateTime<Utc>) -> Result<HealthReport, StoreError> {
        self.check_and_send_beating(now, &Heartbeat::new(LONGEST_GAP))
            .await
    }

    /// [`FeedWatch::check_and_send`], beating `heartbeat` before each notice: a batch of many
    /// notices to a slow server takes longer than one gap, each notice no more than two
    /// [`SMTP_TIMEOUT`]s.
    async fn check_and_send_beating(
        &self,
        now: DateTime<Utc>,
        heartbeat: &Heartbeat,
    ) -> Result<HealthReport, StoreError> {
        let notices = self.due(now).await?;
        let mut report = HealthReport::default();
        if notices.is_empty() {
            return Ok(report);
        }
        let mut batch = self.transport.batch();
        for notice in &notices {
            heartbeat.beat();
            if self.mail.ops.is_empty() {
                warn!(
                    feed = %notice.feed_id,
                    kind = notice.kind.as_str(),
                    phase = notice.phase.as_str(),
                    "{} (mail.ops is empty: logged, not mailed)",
                    header_text(&notice.subject, SUBJECT_MAX)
                );
                report.logged += 1;
            } else {
                let outcome = match self.message(notice, now) {
                    Ok(message) => batch.send(&message).await.map_err(|e| e.to_string()),
                    Err(reason) => Err(reason),
                };
                match outcome {
                    Ok(reply) => {
                        info!(
                            feed = %notice.feed_id,
                            kind = notice.kind.as_str(),
                            phase = notice.phase.as_str(),
                            "ops notice sent: {reply}"
                        );
                        report.sent += 1;
                    }
                    Err(reason) => {
                        warn!(
                            feed = %notice.feed_id,
                            kind = notice.kind.as_str(),
                            "ops notice not sent, will retry at the next check: {reason}"
                        );
                        report.errors.push(format!(
                            "{} {}: {reason}",
                            notice.kind.as_str(),
                            notice.feed_id
                        ));
                        continue;
                    }
                }
            }
            let (feed_id, kind, phase) = (notice.feed_id.clone(), notice.kind, notice.phase);
            self.db
                .write(move |store| store.record_notice(&feed_id, kind, phase, now))
                .await?;
        }
        batch.finish().await;
        Ok(report)
    }

    fn message(&self, notice: &OpsNotice, now: DateTime<Utc>) -> Result<Message, String> {
        let mailbox = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|e| format!("'{address}' is not an e-mail address ({e})"))
        };
        let mut builder = Message::builder().from(mailbox(&self.mail.from)?);
        for address in &self.mail.ops {
            builder = builder.to(mailbox(address)?);
        }
        let header = |name: &'static str, value: &str| {
            HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
        };
        builder
            .date(SystemTime::from(now))
            .message_id(Some(format!(
                "<{}>",
                notice.message_id(self.mail.from_domain(), now)
            )))
            .subject(header_text(&notice.subject, SUBJECT_MAX))
            .raw_header(header("Auto-Submitted", "auto-generated"))
            .raw_header(header("List-Id", "watchfloor operations <ops.watchfloor>"))
            .singlepart(SinglePart::plain(notice.text.clone()))
            .map_err(|e| format!("cannot build the notice: {e}"))
    }
}

/// The longest the feed health task goes without a heartbeat when it works: a [`TICK`]
/// between checks, and one notice's connect and send within a check. Stalled after three.
pub const LONGEST_GAP: Duration = Duration::from_secs(TICK.as_secs() + 2 * SMTP_TIMEOUT.as_secs());

/// The daemon's feed health task: a check every [`TICK`] until `shutdown`, beating
/// `heartbeat` at each turn and each notice. The first check waits one tick, so the polls the
/// daemon runs at start refresh stale state first.
pub async fn watch_feeds(
    mut watch: FeedWatch,
    mut reloaded: tokio::sync::mpsc::UnboundedReceiver<FeedWatch>,
    heartbeat: std::sync::Arc<Heartbeat>,
    shutdown: CancellationToken,
) {
    info!(
        "feed health: notices to {} after {} failing",
        if watch.mail.ops.is_empty() {
            "the log (mail.ops is empty)".to_owned()
        } else {
            watch.mail.ops.join(", ")
        },
        span_text(watch.rules.alert_after)
    );
    loop {
        heartbeat.beat();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            // A reload brings new feeds, recipients and thresholds; the episodes already
            // notified live in the database and carry over.
            Some(replacement) = reloaded.recv() => {
                watch = replacement;
                continue;
            }
            _ = tokio::time::sleep(TICK) => {}
        }
        heartbeat.beat();
        if let Err(e) = watch.check_and_send_beating(Utc::now(), &heartbeat).await {
            error!("feed health: {}", crate::error::error_chain(&e));
        }
    }
}

#[cfg(test)]
mod tests;
