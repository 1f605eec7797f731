//! Deciding which pending alerts go out now, and in which messages: grouping, the hourly cap
//! and the digest. Pure: the dispatcher feeds it the outbox and the clock.
//!
//! A recipient is a target on one transport: an e-mail address, or a webhook. Each webhook
//! is grouped, capped and sent its digest exactly as an address is.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::AlertMode;
use crate::store::{Channel, MessageKind, PendingAlert, PlannedMessage};

/// The noise controls, from the settings.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Immediate hits of one indicator that arrive within this window of the first share a
    /// message.
    pub group_wait: Duration,
    /// Alert and summary messages per recipient in any hour.
    pub max_per_hour: u32,
}

/// What to plan this time round.
#[derive(Clone, Copy, Debug)]
pub struct Occasion {
    pub now: DateTime<Utc>,
    /// Send immediate alerts without waiting for their group window (`watchfloor poll`).
    pub flush: bool,
    /// The digest is due: every pending digest alert goes out.
    pub digest_due: bool,
}

/// A recipient on its transport: the key of grouping and of the hourly cap.
type Target<'a> = (Channel, &'a str);

/// Plans messages from the pending alerts. `recent` counts each recipient's alert and summary
/// messages of the last hour, by transport and recipient.
///
/// Per recipient: immediate alerts are grouped by indicator; a group is due once its oldest
/// alert has waited `group_wait`. Due groups go out one message each while the hourly cap
/// allows; when there are more due groups than room, the last message the cap allows is a
/// summary carrying all the rest, and with no room at all they wait. Nothing is dropped.
pub fn plan(
    pending: &[PendingAlert],
    recent: &HashMap<(Channel, String), u64>,
    rules: &Rules,
    occasion: &Occasion,
) -> Vec<PlannedMessage> {
    let mut recipients: Vec<Target> = Vec::new();
    // recipient -> indicator groups in order of their oldest alert
    let mut immediate: HashMap<Target, Vec<(&str, Vec<&PendingAlert>)>> = HashMap::new();
    let mut digest: HashMap<Target, Vec<&PendingAlert>> = HashMap::new();
    for alert in pending {
        let recipient = (alert.channel, alert.recipient.as_str());
        if !recipients.contains(&recipient) {
            recipients.push(recipient);
        }
        match alert.mode {
            AlertMode::Digest => digest.entry(recipient).or_default().push(alert),
            AlertMode::Immediate => {
                let groups = immediate.entry(recipient).or_default();
                match groups
                    .iter_mut()
                    .find(|(indicator, _)| *indicator == alert.indicator_id)
                {
                    Some((_, group)) => group.push(alert),
                    None => groups.push((&alert.indicator_id, vec![alert])),
                }
            }
        }
    }

    // Settings hold the wait to a day; were a longer one to reach here, it must still hold
    // alerts back, never send them at once.
    let wait = chrono::Duration::from_std(rules.group_wait).unwrap_or(chrono::Duration::days(1));
    let mut planned = Vec::new();
    for recipient in recipients {
        if occasion.digest_due
            && let Some(alerts) = digest.get(&recipient)
        {
            let mut alerts = alerts.clone();
            // Grouped by indicator, oldest first within each: the digest reads that way.
            alerts.sort_by(|a, b| {
                (&a.indicator_id, a.created_at, a.alert_id).cmp(&(
                    &b.indicator_id,
                    b.created_at,
                    b.alert_id,
                ))
            });
            planned.push(PlannedMessage {
                channel: recipient.0,
                recipient: recipient.1.to_owned(),
                kind: MessageKind::Digest,
                alert_ids: alerts.iter().map(|a| a.alert_id).collect(),
            });
        }

        let Some(groups) = immediate.get(&recipient) else {
            continue;
        };
        let due: Vec<&Vec<&PendingAlert>> = groups
            .iter()
            .map(|(_, group)| group)
            .filter(|group| occasion.flush || group[0].created_at + wait <= occasion.now)
            .collect();
        if due.is_empty() {
            continue;
        }
        let sent = recent
            .get(&(recipient.0, recipient.1.to_owned()))
            .copied()
            .unwrap_or(0);
        let room = u64::from(rules.max_per_hour).saturating_sub(sent) as usize;
        if room == 0 {
            continue;
        }
        let singles = if due.len() <= room {
            due.len()
        } else {
            room - 1
        };
        for group in &due[..singles] {
            planned.push(PlannedMessage {
                channel: recipient.0,
                recipient: recipient.1.to_owned(),
                kind: MessageKind::Alert,
                alert_ids: group.iter().map(|a| a.alert_id).collect(),
            });
        }
        if singles < due.len() {
            planned.push(PlannedMessage {
                channel: recipient.0,
                recipient: recipient.1.to_owned(),
                kind: MessageKind::Summary,
                alert_ids: due[singles..]
                    .iter()
                    .flat_map(|group| group.iter().map(|a| a.alert_id))
                    .collect(),
            });
        }
    }
    planned
}

/// When a failed send is tried again: 30 s after the first failure, doubling, at most an hour.
pub fn retry_delay(failures: u32) -> Duration {
    let seconds = 30u64.saturating_mul(1u64 << failures.saturating_sub(1).min(20));
    Duration::from_secs(seconds.min(3600))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + chrono::Duration::seconds(second)
    }

    fn alert(
        id: i64,
        indicator: &str,
        recipient: &str,
        mode: AlertMode,
        second: i64,
    ) -> PendingAlert {
        PendingAlert {
            alert_id: id,
            hit_id: id,
            indicator_id: indicator.to_owned(),
            channel: Channel::Mail,
            recipient: recipient.to_owned(),
            mode,
            created_at: at(second),
        }
    }

    const RULES: Rules = Rules {
        group_wait: Duration::from_secs(30),
        max_per_hour: 20,
    };

    fn occasion(second: i64) -> Occasion {
        Occasion {
            now: at(second),
            flush: false,
            digest_due: false,
        }
    }

    fn shape(planned: &[PlannedMessage]) -> Vec<(&str, MessageKind, Vec<i64>)> {
        planned
            .iter()
            .map(|p| (p.recipient.as_str(), p.kind, p.alert_ids.clone()))
            .collect()
    }

    #[test]
    fn hits_of_one_indicator_within_the_window_share_a_message() {
        use AlertMode::Immediate as I;
        let pending = [
            alert(1, "sat", "a@x", I, 0),
            alert(2, "sat", "a@x", I, 10),
            alert(3, "oil", "a@x", I, 20),
            alert(4, "sat", "b@x", I, 25),
        ];
        assert!(plan(&pending, &HashMap::new(), &RULES, &occasion(29)).is_empty());
        assert_eq!(
            shape(&plan(&pending, &HashMap::new(), &RULES, &occasion(30))),
            vec![("a@x", MessageKind::Alert, vec![1, 2])]
        );
        assert_eq!(
            shape(&plan(&pending, &HashMap::new(), &RULES, &occasion(60))),
            vec![
                ("a@x", MessageKind::Alert, vec![1, 2]),
                ("a@x", MessageKind::Alert, vec![3]),
                ("b@x", MessageKind::Alert, vec![4]),
            ]
        );
    }

    #[test]
    fn a_wait_too_long_for_the_clock_still_holds_alerts_back() {
        let pending = [alert(1, "sat", "a@x", AlertMode::Immediate, 0)];
        let rules = Rules {
            group_wait: Duration::MAX,
            ..RULES
        };
        assert!(plan(&pending, &HashMap::new(), &rules, &occasion(3_600)).is_empty());
    }

    #[test]
    fn a_flush_sends_without_waiting_for_the_window() {
        let pending = [alert(1, "sat", "a@x", AlertMode::Immediate, 0)];
        let flush = Occasion {
            flush: true,
            ..occasion(1)
        };
        assert_eq!(plan(&pending, &HashMap::new(), &RULES, &flush).len(), 1);
    }

    #[test]
    fn the_hourly_cap_rolls_the_overflow_into_one_summary() {
        let pending: Vec<PendingAlert> = (1..=5)
            .map(|i| alert(i, &format!("ind{i}"), "a@x", AlertMode::Immediate, 0))
            .collect();
        let rules = Rules {
            max_per_hour: 3,
            ..RULES
        };
        assert_eq!(
            shape(&plan(&pending, &HashMap::new(), &rules, &occasion(60))),
            vec![
                ("a@x", MessageKind::Alert, vec![1]),
                ("a@x", MessageKind::Alert, vec![2]),
                ("a@x", MessageKind::Summary, vec![3, 4, 5]),
            ]
        );
        let recent = HashMap::from([((Channel::Mail, "a@x".to_owned()), 2)]);
        assert_eq!(
            shape(&plan(&pending, &recent, &rules, &occasion(60))),
            vec![("a@x", MessageKind::Summary, vec![1, 2, 3, 4, 5])]
        );
        let full = HashMap::from([((Channel::Mail, "a@x".to_owned()), 3)]);
        assert!(
            plan(&pending, &full, &rules, &occasion(60)).is_empty(),
            "with no room, alerts wait for the hour to pass"
        );
    }

    #[test]
    fn digest_alerts_wait_for_the_digest_and_go_in_one_message_per_recipient() {
        use AlertMode::Digest as D;
        let pending = [
            alert(1, "sat", "a@x", D, 0),
            alert(2, "oil", "a@x", D, 5),
            alert(3, "sat", "a@x", D, 10),
            alert(4, "oil", "b@x", D, 10),
        ];
        assert!(plan(&pending, &HashMap::new(), &RULES, &occasion(3600)).is_empty());
        let due = Occasion {
            digest_due: true,
            ..occasion(3600)
        };
        assert_eq!(
            shape(&plan(&pending, &HashMap::new(), &RULES, &due)),
            vec![
                ("a@x", MessageKind::Digest, vec![2, 1, 3]),
                ("b@x", MessageKind::Digest, vec![4]),
            ]
        );
        let full = HashMap::from([((Channel::Mail, "a@x".to_owned()), 99)]);
        assert_eq!(
            plan(&pending, &full, &RULES, &due).len(),
            2,
            "the digest is not held by the hourly cap"
        );
    }

    #[test]
    fn a_webhook_is_grouped_and_capped_apart_from_mail() {
        use AlertMode::Immediate as I;
        let mut hook = alert(3, "sat", "ops", I, 5);
        hook.channel = Channel::Webhook;
        let mut hook_oil = alert(4, "oil", "ops", I, 6);
        hook_oil.channel = Channel::Webhook;
        let pending = [
            alert(1, "sat", "a@x", I, 0),
            alert(2, "sat", "a@x", I, 1),
            hook,
            hook_oil,
        ];
        // The webhook's hour is full; the address's is not.
        let recent = HashMap::from([((Channel::Webhook, "ops".to_owned()), 19)]);
        let planned = plan(&pending, &recent, &RULES, &occasion(60));
        let shaped: Vec<_> = planned
            .iter()
            .map(|p| (p.channel, p.recipient.as_str(), p.kind, p.alert_ids.clone()))
            .collect();
        assert_eq!(
            shaped,
            vec![
                (Channel::Mail, "a@x", MessageKind::Alert, vec![1, 2]),
                (Channel::Webhook, "ops", MessageKind::Summary, vec![3, 4]),
            ]
        );
    }

    #[test]
    fn retries_back_off_from_thirty_seconds_to_an_hour() {
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    }
}
