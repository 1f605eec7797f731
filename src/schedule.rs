//! The schedule stage: cron expressions, and when each feed is due.
//!
//! Expressions use the `cron` crate, which wants a seconds field. Operators write the standard
//! five-field form (`minute hour day-of-month month day-of-week`) and it is accepted as is: a
//! `0` seconds field is prepended, and the weekday field is read as standard cron reads it
//! (0–7 or SUN–SAT, Sunday = 0 or 7, a range may end on Sunday) and given to the crate as the
//! list of days it names in the crate's 1–7 (Sunday = 1). Six and seven fields (with seconds,
//! and a year) are passed through. Times are evaluated in the machine's local time zone.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};

/// A validated cron expression.
#[derive(Clone, Debug)]
pub struct Schedule {
    written: String,
    inner: cron::Schedule,
}

/// A cron expression that does not parse: what is wrong and at which byte of the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.column + 1)
    }
}

const FIELD_NAMES: [&str; 7] = [
    "seconds",
    "minute",
    "hour",
    "day of month",
    "month",
    "day of week",
    "year",
];

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let fields: Vec<(usize, &str)> = field_offsets(expression);
        let (with_seconds, first_name) = match fields.len() {
            5 => {
                let mut parts: Vec<String> = fields.iter().map(|(_, f)| (*f).to_owned()).collect();
                parts[4] = standard_weekdays(&parts[4]).map_err(|reason| ScheduleError {
                    column: fields[4].0,
                    message: format!("invalid day of week field '{}': {reason}", fields[4].1),
                })?;
                (format!("0 {}", parts.join(" ")), 1)
            }
            6 | 7 => (
                fields.iter().map(|(_, f)| *f).collect::<Vec<_>>().join(" "),
                0,
            ),
            n => {
                return Err(ScheduleError {
                    column: 0,
                    message: format!(
                        "a schedule has 5 fields (minute hour day-of-month month day-of-week), \
                         or 6 to 7 with seconds and year; found {n}"
                    ),
                });
            }
        };
        match cron::Schedule::from_str(&with_seconds) {
            Ok(inner) => Ok(Schedule {
                written: expression.trim().to_owned(),
                inner,
            }),
            Err(error) => Err(locate_error(&fields, first_name, &error.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The first time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner
            .after(&after.with_timezone(&Local))
            .next()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The usual gap between two runs, measured on the next two.
    pub fn typical_interval(&self, from: DateTime<Utc>) -> Duration {
        let first = self.next_after(from);
        let second = first.and_then(|t| self.next_after(t));
        match (first, second) {
            (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(3600)),
            _ => Duration::from_secs(3600),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// The longest a failing feed waits between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// The most a poll is shifted to spread feeds that share a schedule.
const MAX_JITTER: Duration = Duration::from_secs(30);

/// How a poll ended, as far as its next check is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Fetched or not modified. `floor` is the feed's own minimum interval (RSS TTL,
    /// Cache-Control max-age), if it gave one.
    Success { floor: Option<Duration> },
    /// The `failures`-th failure in a row; `retry_after` as the server asked (429, 503).
    Failure {
        failures: u32,
        retry_after: Option<Duration>,
    },
}

/// When a feed should next be polled.
///
/// On success: the schedule's next time, but no sooner than the feed's floor. On failure: the
/// schedule's interval doubled for each failure in a row, capped at [`MAX_BACKOFF`], and no
/// sooner than the server's Retry-After. A small jitter, fixed per feed, keeps feeds on one
/// schedule from all starting in the same second.
pub fn next_check(
    schedule: &Schedule,
    feed_id: &str,
    now: DateTime<Utc>,
    outcome: Outcome,
) -> DateTime<Utc> {
    let scheduled = schedule
        .next_after(now)
        .unwrap_or(now + chrono::Duration::hours(1));
    let interval = schedule.typical_interval(now);
    let earliest = match outcome {
        // CDNs send max-age of a year; a feed's own floor never holds it back longer than a
        // failing feed would wait.
        Outcome::Success { floor } => floor.map(|f| now + to_chrono(f.min(MAX_BACKOFF))),
        Outcome::Failure {
            failures,
            retry_after,
        } => {
            let doublings = failures.saturating_sub(1).min(16);
            let backoff = interval
                .saturating_mul(1 << doublings)
                .min(MAX_BACKOFF.max(interval));
            let backoff_at = now + to_chrono(backoff);
            Some(match retry_after {
                Some(wait) => backoff_at.max(now + to_chrono(wait.min(MAX_BACKOFF))),
                None => backoff_at,
            })
        }
    };
    let base = match earliest {
        Some(earliest) if earliest > scheduled => earliest,
        _ => scheduled,
    };
    base + to_chrono(jitter(feed_id, interval))
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::hours(24))
}

/// A per-feed offset of up to a twentieth of the interval (at most 30 s), stable across runs.
fn jitter(feed_id: &str, interval: Duration) -> Duration {
    let span = (interval / 20).min(MAX_JITTER).as_millis() as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    // FNV-1a: small, stable, and enough to spread a few thousand ids.
    let hash = feed_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Duration::from_millis(hash % span)
}

fn field_offsets(expression: &str) -> Vec<(usize, &str)> {
    let mut fields = Vec::new();
    let mut start = None;
    for (i, c) in expression.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                fields.push((s, &expression[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        fields.push((s, &expression[s..]));
    }
    fields
}

/// A standard day-of-week field in the crate's terms.
///
/// Standard cron numbers weekdays 0–7 from Sunday (0 and 7 both Sunday) and names them SUN to
/// SAT; the crate numbers them 1–7 from Sunday and refuses a range that goes down. So the
/// field is read here as cron users mean it (`0-7`, `1-7` and `MON-SUN` are every day; a
/// range may end on Sunday as 7, 0 or SUN) and handed over as the plain list of days it
/// names. A field with anything else in it is left to the crate and its errors.
fn standard_weekdays(field: &str) -> Result<String, String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | '-' | ',' | '/');
    if !field.chars().all(plain) {
        return Ok(field.to_owned());
    }
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => match step.parse::<usize>() {
                Ok(step) if step > 0 => (range, step),
                _ => return Err(format!("'{step}' is not a step (a whole number from 1)")),
            },
            None => (part, 1),
        };
        let (first, last) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((first, last)) => {
                let first = weekday(first)?;
                // Sunday ends a week as well as starting one: `MON-SUN`, `5-0`.
                let last = match weekday(last)? {
                    0 => 7,
                    last => last,
                };
                if first > last {
                    return Err(format!("the range '{range}' goes backwards"));
                }
                (first, last)
            }
            // `5/2` runs from Friday to the end of the week, as in cron.
            None if step > 1 => (weekday(range)?, 7),
            None => {
                let day = weekday(range)?;
                (day, day)
            }
        };
        for day in (first..=last).step_by(step) {
            days[day % 7] = true;
        }
    }
    if days.iter().all(|&day| day) {
        return Ok("*".to_owned());
    }
    // The crate numbers Sunday 1.
    let listed: Vec<String> = (0..7)
        .filter(|&day| days[day])
        .map(|day| (day + 1).to_string())
        .collect();
    Ok(listed.join(","))
}

/// A weekday as standard cron writes it: 0–7 from Sunday, or its English three-letter name.
fn weekday(text: &str) -> Result<usize, String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    if let Ok(number) = text.parse::<usize>() {
        return if number <= 7 {
            Ok(number)
        } else {
            Err(format!(
                "'{text}' is not a weekday (0-7, Sunday being 0 or 7)"
            ))
        };
    }
    NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("'{text}' is not a weekday (0-7 or SUN to SAT)"))
}

/// Finds the field the crate's error is about, by parsing each field alone in an otherwise
/// valid expression.
fn locate_error(fields: &[(usize, &str)], first_name: usize, message: &str) -> ScheduleError {
    let template = ["0", "*", "*", "*", "*", "*", "*"];
    for (index, (offset, field)) in fields.iter().enumerate() {
        let position = first_name + index;
        let mut probe: Vec<String> = template[..6].iter().map(|p| (*p).to_owned()).collect();
        let value = if position == 5 && first_name == 1 {
            // Already read without error, or the caller would have said so.
            standard_weekdays(field).unwrap_or_else(|_| (*field).to_owned())
        } else {
            (*field).to_owned()
        };
        if position == 6 {
            probe.push(value);
        } else {
            probe[position] = value;
        }
        if cron::Schedule::from_str(&probe.join(" ")).is_err() {
            return ScheduleError {
                column: *offset,
                message: format!("invalid {} field '{field}'", FIELD_NAMES[position]),
            };
        }
    }
    ScheduleError {
        column: 0,
        message: format!("invalid schedule: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn hostile_weekday_fields_are_read_in_linear_time_or_refused() {
        // A list of 100,000 days is read once through, into seven flags.
        let long = vec!["MON"; 100_000].join(",");
        assert_eq!(standard_weekdays(&long).as_deref(), Ok("2"));
        for wrong in [
            "99999999999999999999999",
            "1-99999999999999999999999",
            "*/99999999999999999999999",
            "-",
            ",,",
            "/",
            "1//2",
        ] {
            assert!(standard_weekdays(wrong).is_err(), "{wrong}");
        }
        // A step larger than the week leaves just the first day.
        assert_eq!(standard_weekdays("1-7/1000").as_deref(), Ok("2"));
        // Characters the standard reading does not know go to the crate, whose error names
        // the field.
        let err = Schedule::parse("0 9 * * MON\u{202e}").expect_err("refused");
        assert!(err.message.contains("day of week"), "{err}");
    }

    #[test]
    fn every_day_written_in_any_standard_way_runs_every_day() {
        // 2026-11-28 is a Saturday; a week of runs at 09:00 must start Saturday and miss no day.
        let friday_noon = Local
            .with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        for expression in [
            "0 9 * * *",
            "0 9 * * 0-7",
            "0 9 * * 1-7",
            "0 9 * * MON-SUN",
            "0 9 * * 0-6",
        ] {
            let schedule =
                Schedule::parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
            let mut at = friday_noon;
            let mut days = Vec::new();
            for _ in 0..7 {
                at = schedule.next_after(at).expect("next run");
                days.push(at.with_timezone(&Local).format("%a").to_string());
            }
            assert_eq!(
                days,
                ["Sat", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri"],
                "{expression}"
            );
        }
    }

    #[test]
    fn five_six_and_seven_field_forms_are_accepted() {
        for expression in [
            "*/15 * * * *",
            "0 7 * * MON-FRI",
            "0 7 * * 1-5",
            "30 */10 * * * *",
            "0 0 12 1 JAN * 2030",
        ] {
            Schedule::parse(expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_field_and_its_position() {
        let cases = [
            ("*/15 * * *", 0, "found 4"),
            ("61 * * * *", 0, "invalid minute field '61'"),
            ("*/5 25 * * *", 4, "invalid hour field '25'"),
            ("0 7 * * FUNDAY", 8, "invalid day of week field 'FUNDAY'"),
            ("0 0 7 * * * 1800", 12, "invalid year field '1800'"),
        ];
        for (expression, column, message) in cases {
            let err = Schedule::parse(expression).expect_err(expression);
            assert_eq!(err.column, column, "{expression}: {err}");
            assert!(err.message.contains(message), "{expression}: {err}");
        }
    }

    #[test]
    fn standard_weekday_numbers_mean_what_cron_users_expect() {
        let cases = [
            ("1-5", "2,3,4,5,6"),
            ("MON-FRI", "2,3,4,5,6"),
            ("0,7", "1"),
            ("SUN", "1"),
            ("0-7", "*"),
            ("1-7", "*"),
            ("MON-SUN", "*"),
            ("mon-sun", "*"),
            ("0-6", "*"),
            ("*", "*"),
            ("*/2", "1,3,5,7"),
            ("SAT-SUN", "1,7"),
            ("5-0", "1,6,7"),
            ("MON-FRI/2", "2,4,6"),
            ("5/1", "6"),
            ("5/2", "1,6"),
            ("1,3-4,SAT", "2,4,5,7"),
        ];
        for (standard, crate_form) in cases {
            assert_eq!(
                standard_weekdays(standard).as_deref(),
                Ok(crate_form),
                "{standard}"
            );
        }
        for wrong in ["8", "5-1", "FRI-MON", "*/0", "MON-", "1/x", "FUNDAY"] {
            assert!(standard_weekdays(wrong).is_err(), "{wrong}");
        }
        let weekdays = Schedule::parse("0 12 * * 1-5").expect("valid");
        // 2026-11-28 is a Saturday: the next run is Monday the 30th.
        let saturday = Local
            .with_ymd_and_hms(2026, 11, 28, 13, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let next = weekdays
            .next_after(saturday)
            .expect("next")
            .with_timezone(&Local);
        assert_eq!(next.format("%a %d %H:%M").to_string(), "Mon 30 12:00");
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0).unwrap()
    }

    #[test]
    fn success_follows_the_schedule_within_a_small_jitter() {
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let next = next_check(
            &every15,
            "feed-a",
            at(10, 7),
            Outcome::Success { floor: None },
        );
        let offset = (next - at(10, 15)).num_milliseconds();
        assert!((0..30_000).contains(&offset), "{next}");
        let again = next_check(
            &every15,
            "feed-a",
            at(10, 7),
            Outcome::Success { floor: None },
        );
        assert_eq!(next, again, "the jitter is stable per feed");
    }

    #[test]
    fn a_feed_floor_stretches_the_interval() {
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let floor = Some(Duration::from_secs(3600));
        let next = next_check(&every15, "f", at(10, 7), Outcome::Success { floor });
        assert!(next >= at(11, 7) && next < at(11, 8), "{next}");
    }

    #[test]
    fn a_year_long_max_age_is_capped_at_six_hours() {
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let floor = Some(Duration::from_secs(365 * 86400));
        let next = next_check(&every15, "f", at(10, 0), Outcome::Success { floor });
        assert_eq!((next - at(10, 0)).num_hours(), 6);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_six_hours() {
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let now = at(10, 0);
        let waits: Vec<i64> = (1..=8)
            .map(|failures| {
                let next = next_check(
                    &every15,
                    "f",
                    now,
                    Outcome::Failure {
                        failures,
                        retry_after: None,
                    },
                );
                (next - now).num_minutes()
            })
            .collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 360, 360, 360]);
    }

    #[test]
    fn retry_after_is_honoured() {
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let now = at(10, 0);
        let next = next_check(
            &every15,
            "f",
            now,
            Outcome::Failure {
                failures: 1,
                retry_after: Some(Duration::from_secs(7200)),
            },
        );
        assert_eq!((next - now).num_minutes(), 120);
    }

    #[test]
    fn the_typical_interval_is_measured_between_runs() {
        let every15 = Schedule::parse("*/15 * * * *").expect("valid");
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 10, 7, 0).unwrap();
        assert_eq!(every15.typical_interval(now), Duration::from_secs(900));
    }
}
