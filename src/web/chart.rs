//! The indicator page's activity chart: hits per day as an SVG drawn on the server.
//!
//! It is read by shape and text, never by colour: solid bars on a white ground, numbered
//! axes, a `<title>` on every bar, and the same figures as a table beside it, for screen
//! readers and for anyone who copies them out.

use chrono::NaiveDate;

/// Days the chart covers, ending today.
pub const DAYS: u32 = 90;

const LEFT: u32 = 40;
const RIGHT: u32 = 12;
const TOP: u32 = 12;
const BOTTOM: u32 = 30;
const PLOT_HEIGHT: u32 = 130;
/// Horizontal room per day; the bar leaves a gap so neighbours stay apart.
const SLOT: u32 = 8;
const BAR: u32 = 6;
/// Every this many days the x axis names the date.
const LABEL_EVERY: usize = 15;

pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// `2026-11-02: 3 hits`, shown on hover and read by screen readers.
    pub title: String,
    /// The day, `2026-11-02`.
    pub date: String,
    /// The day's whole column, which links to its hits: a bar 6 pixels wide is too small
    /// a target.
    pub slot_x: u32,
    pub slot_width: u32,
    /// The list of the day's hits; set by the page, which knows the filters.
    pub href: String,
}

pub struct Tick {
    /// Pixels along the axis.
    pub at: u32,
    pub label: String,
}

pub struct Day {
    pub date: String,
    pub count: u64,
    /// The list of the day's hits; set by the page.
    pub href: String,
}

pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub right: u32,
    pub top: u32,
    /// The x axis line.
    pub baseline: u32,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub days: Vec<Day>,
    /// One sentence saying what the chart shows.
    pub summary: String,
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "hit" } else { "hits" }
}

/// The chart of `days` (oldest first, one entry per day).
pub fn daily(days: &[(NaiveDate, u64)]) -> Chart {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0);
    // The scale's top is at least 1, so a quiet quarter draws an empty plot, not a division by 0.
    let scale = max.max(1);
    let baseline = TOP + PLOT_HEIGHT;
    let bar_height = |n: u64| ((n as f64 / scale as f64) * PLOT_HEIGHT as f64).round() as u32;
    let bars = days
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(i, (date, n))| {
            // A single hit on a busy scale still shows.
            let height = bar_height(*n).max(2);
            Bar {
                x: LEFT + i as u32 * SLOT + (SLOT - BAR) / 2,
                y: baseline - height,
                width: BAR,
                height,
                title: format!("{date}: {n} {}", plural(*n)),
                date: date.to_string(),
                slot_x: LEFT + i as u32 * SLOT,
                slot_width: SLOT,
                href: String::new(),
            }
        })
        .collect();
    let mut levels = vec![0, scale];
    if scale >= 4 {
        levels.insert(1, scale / 2);
    }
    let y_ticks = levels
        .into_iter()
        .map(|n| Tick {
            at: baseline - bar_height(n),
            label: n.to_string(),
        })
        .collect();
    let x_ticks = days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % LABEL_EVERY == 0 || *i + 1 == days.len())
        .map(|(i, (date, _))| Tick {
            at: LEFT + i as u32 * SLOT + SLOT / 2,
            label: date.format("%b %d").to_string(),
        })
        .collect();
    let total: u64 = days.iter().map(|(_, n)| n).sum();
    let summary = match days.iter().rfind(|(_, n)| *n == max && max > 0) {
        Some((date, n)) => format!(
            "{total} {} in the last {} days; the busiest day was {date} with {n}.",
            plural(total),
            days.len()
        ),
        None => format!("No hits in the last {} days.", days.len()),
    };
    Chart {
        width: LEFT + days.len() as u32 * SLOT + RIGHT,
        height: baseline + BOTTOM,
        left: LEFT,
        right: LEFT + days.len() as u32 * SLOT,
        top: TOP,
        baseline,
        bars,
        y_ticks,
        x_ticks,
        days: days
            .iter()
            .map(|(date, count)| Day {
                date: date.to_string(),
                count: *count,
                href: String::new(),
            })
            .collect(),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(counts: &[u64]) -> Vec<(NaiveDate, u64)> {
        let start = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (start + chrono::Days::new(i as u64), *n))
            .collect()
    }

    #[test]
    fn bars_scale_to_the_busiest_day_and_name_their_day() {
        let chart = daily(&days(&[0, 4, 0, 1]));
        assert_eq!(chart.bars.len(), 2);
        assert_eq!(chart.bars[0].height, PLOT_HEIGHT);
        assert_eq!(chart.bars[0].title, "2026-09-02: 4 hits");
        assert_eq!(chart.bars[1].title, "2026-09-04: 1 hit");
        assert!(chart.bars[1].height < chart.bars[0].height);
        assert_eq!(
            chart
                .y_ticks
                .iter()
                .map(|t| t.label.as_str())
                .collect::<Vec<_>>(),
            ["0", "2", "4"]
        );
        assert!(chart.summary.contains("5 hits") && chart.summary.contains("2026-09-02"));
    }

    #[test]
    fn a_quiet_window_draws_no_bars_and_says_so() {
        let chart = daily(&days(&[0; 90]));
        assert!(chart.bars.is_empty());
        assert_eq!(chart.days.len(), 90);
        assert_eq!(chart.summary, "No hits in the last 90 days.");
        assert_eq!(chart.x_ticks.len(), 7);
    }
}
