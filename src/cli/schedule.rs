//! `watchfloor schedule`: when a cron expression would run, checked before it goes into a
//! feed's `schedule:`.

use chrono::{Local, Utc};
use clap::Args;

use super::{EXIT_OK, EXIT_USAGE};
use crate::schedule::Schedule;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// A cron expression as a feed's `schedule:` takes it: five fields (minute hour
    /// day-of-month month day-of-week), or six to seven with seconds first and a year last.
    /// Quote it
    pub expression: String,
    /// How many runs to print
    #[arg(
        long,
        short = 'n',
        default_value_t = 5,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub count: u32,
}

pub fn run(args: &ScheduleArgs) -> anyhow::Result<u8> {
    let schedule = match Schedule::parse(&args.expression) {
        Ok(schedule) => schedule,
        Err(error) => {
            // Point at the field, as `check` points at a query's column.
            eprintln!("watchfloor: error: {error}");
            eprintln!("  {}", args.expression);
            eprintln!(
                "  {}^",
                " ".repeat(args.expression[..error.column].chars().count())
            );
            return Ok(EXIT_USAGE);
        }
    };
    println!(
        "{schedule}: the next {} runs, in local time (UTC offset {}) and in UTC",
        args.count,
        Local::now().format("%:z")
    );
    let mut after = Utc::now();
    for _ in 0..args.count {
        let Some(next) = schedule.next_after(after) else {
            println!("  no further run");
            break;
        };
        println!(
            "  {}   {}",
            next.with_timezone(&Local).format("%a %Y-%m-%d %H:%M:%S"),
            next.format("%Y-%m-%d %H:%M:%S UTC")
        );
        after = next;
    }
    Ok(EXIT_OK)
}
