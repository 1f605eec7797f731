//! `watchfloor bench alerts`: delivery of many pending alerts through the configured
//! transport (an SMTP server on loopback, for figures worth quoting).

use std::time::Instant;

use chrono::Utc;
use clap::Args;

use super::{EXIT_OK, GlobalArgs, load_indicators, load_settings};
use crate::app::App;
use crate::config::Feed;
use crate::fetch::{FetchedBody, Validators};
use crate::pipeline::ingest;
use crate::store::{MessageKind, PlannedMessage};

#[derive(Debug, Args)]
pub struct AlertsBench {
    /// Pending alerts to create and deliver, one message each
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
}

pub fn run(global: &GlobalArgs, args: &AlertsBench) -> anyhow::Result<u8> {
    let dir = std::env::temp_dir().join(format!("watchfloor-bench-alerts-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut settings = load_settings(global)?;
    settings.database = dir.join("bench.db");
    settings.http_listen = None;
    // One recipient, so that every alert is one message.
    settings.mail.to.truncate(1);
    if settings.mail.smtp.is_none() {
        settings.mail.dir = dir.join("mail");
    }
    let mut indicators = load_indicators(global)?;
    let feed = Feed::new("bench", "http://127.0.0.1/bench.xml");
    indicators.feeds = vec![feed.clone()];
    let recipient = settings.mail.to.first().cloned();
    let domain = settings.mail.from_domain().to_owned();
    let app = App::build(settings, indicators)?;

    // Distinct stories, so that none is folded into another as a second report.
    let mut body = String::from("<rss version=\"2.0\"><channel><title>Bench</title>");
    for i in 0..args.count {
        body.push_str(&format!(
            "<item><guid>b{i}</guid><link>https://bench.test/{i}</link><title>North Korea \
             satellite launch bulletin {i}: w{i}a w{i}b w{i}c w{i}d w{i}e w{i}f</title>\
             <description>North Korea launched a reconnaissance satellite, bulletin {i}.\
             </description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    let fetched = FetchedBody {
        body: body.into_bytes(),
        content_type: Some("application/rss+xml".into()),
        final_url: feed.url.clone(),
        validators: Validators::default(),
        max_age: None,
        large: None,
    };
    let now = Utc::now();
    let runtime = super::poll::runtime()?;
    let planned = runtime.block_on(async {
        ingest(&app.context(), &feed, fetched, 0, now)
            .await
            .result
            .map_err(|e| anyhow::anyhow!("ingesting the bench items: {e}"))?;
        app.dispatcher().fold_stories().await?;
        let planned = app
            .db()
            .write(move |store| {
                let plans: Vec<PlannedMessage> = store
                    .pending_alerts()?
                    .into_iter()
                    .map(|alert| PlannedMessage {
                        channel: alert.channel,
                        recipient: alert.recipient,
                        kind: MessageKind::Alert,
                        alert_ids: vec![alert.alert_id],
                    })
                    .collect();
                Ok(store.plan_messages(&plans, &domain, None, now)?.len())
            })
            .await?;
        anyhow::Ok(planned)
    })?;

    println!(
        "alert delivery: {planned} messages to {} via {}",
        recipient.as_deref().unwrap_or("nobody"),
        app.describe_transport()
    );
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let (mut sent, mut failed) = (0, 0);
    runtime.block_on(async {
        loop {
            let report = app.dispatcher().deliver_due(Utc::now(), None).await?;
            sent += report.sent;
            failed += report.retrying + report.failed;
            if report.sent + report.retrying + report.failed == 0 || report.sent == 0 {
                break;
            }
        }
        anyhow::Ok(())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "sent {sent}, failed {failed} in {seconds:.2} s wall, {:.2} s CPU: {:.0} messages/s",
        cpu_seconds() - cpu_started,
        sent as f64 / seconds
    );
    drop(runtime);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(EXIT_OK)
}

/// User and system CPU time of this process so far, from /proc (Linux).
/// CPU time of this process so far (user and system, all threads), in seconds.
pub(super) fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}
