//! Cron schedules as CronJobs accept them (upstream parses them with robfig/cron's standard
//! parser): five fields `minute hour day-of-month month day-of-week`, with `*`, `?`, lists,
//! ranges, steps and month/weekday names, or one of the descriptors `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` and `@every <duration>`.
//!
//! A `TZ=`/`CRON_TZ=` prefix is refused: CronJobs name their zone in `spec.timeZone`.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    Fields(Fields),
    /// `@every <duration>`: a constant delay, whole seconds (at least one).
    Every(SignedDuration),
}

/// One bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// A day field written as `*` or `?` (no step): then both day fields must match, otherwise
    /// either may (the classic cron rule).
    day_of_month_any: bool,
    day_of_week_any: bool,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAY_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// How far ahead to look for a matching time before calling the schedule unsatisfiable
/// (e.g. `0 0 30 2 *`), as robfig/cron gives up after five years.
const SEARCH_YEARS: i16 = 5;

impl Schedule {
    /// Parse a schedule; the error is a message for the user.
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("empty spec string".into());
        }
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            return Err("TZ and CRON_TZ are not supported in schedule, use spec.timeZone".into());
        }
        if let Some(descriptor) = spec.strip_prefix('@') {
            return parse_descriptor(descriptor);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                fields.len()
            ));
        }
        let (days_of_month, day_of_month_any) = parse_field(fields[2], &DAY_OF_MONTH)?;
        let (days_of_week, day_of_week_any) = parse_field(fields[4], &DAY_OF_WEEK)?;
        Ok(Schedule::Fields(Fields {
            minutes: parse_field(fields[0], &MINUTE)?.0,
            hours: parse_field(fields[1], &HOUR)?.0,
            days_of_month,
            months: parse_field(fields[3], &MONTH)?.0,
            days_of_week,
            day_of_month_any,
            day_of_week_any,
        }))
    }

    /// The first activation strictly after `after`, read in `zone`; `None` if there is none
    /// within five years.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Every(delay) => {
                let whole = Timestamp::from_second(after.as_second()).ok()?;
                whole.checked_add(*delay).ok()
            }
            Schedule::Fields(fields) => fields.next_after(after, zone),
        }
    }
}

impl Fields {
    fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        // Activations are whole minutes of absolute time whose wall-clock reading in `zone`
        // matches: a time skipped by a DST jump never fires, a repeated one fires twice.
        let minute = after.as_second().div_euclid(60) + 1;
        let mut at = Timestamp::from_second(minute * 60).ok()?;
        let give_up = at.to_zoned(zone.clone()).year() + SEARCH_YEARS;
        loop {
            let wall = at.to_zoned(zone.clone()).datetime();
            if wall.year() > give_up {
                return None;
            }
            if !has(self.months, wall.month() as u32) {
                let next_month = wall.date().last_of_month().tomorrow().ok()?;
                at = start_of(next_month, zone)?;
            } else if !self.day_matches(wall.date()) {
                at = start_of(wall.date().tomorrow().ok()?, zone)?;
            } else if !has(self.hours, wall.hour() as u32) {
                let to_next_hour = 60 - i64::from(wall.minute());
                at = at
                    .checked_add(SignedDuration::from_mins(to_next_hour))
                    .ok()?;
            } else {
                let now = wall.minute() as u32;
                let Some(next) = (now..60).find(|m| has(self.minutes, *m)) else {
                    let to_next_hour = 60 - i64::from(now);
                    at = at
                        .checked_add(SignedDuration::from_mins(to_next_hour))
                        .ok()?;
                    continue;
                };
                if next == now {
                    return Some(at);
                }
                at = at
                    .checked_add(SignedDuration::from_mins(i64::from(next - now)))
                    .ok()?;
            }
        }
    }

    fn day_matches(&self, date: Date) -> bool {
        let by_month = has(self.days_of_month, date.day() as u32);
        let weekday = date.weekday().to_sunday_zero_offset() as u32;
        let by_week = has(self.days_of_week, weekday);
        if self.day_of_month_any || self.day_of_week_any {
            by_month && by_week
        } else {
            by_month || by_week
        }
    }
}

/// The first instant of `date` in `zone` (after the gap when midnight does not exist).
fn start_of(date: Date, zone: &TimeZone) -> Option<Timestamp> {
    let midnight: DateTime = date.at(0, 0, 0, 0);
    zone.to_ambiguous_timestamp(midnight).compatible().ok()
}

fn has(bits: u64, value: u32) -> bool {
    bits & (1u64 << value) != 0
}

fn parse_descriptor(descriptor: &str) -> Result<Schedule, String> {
    let fields = match descriptor {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        _ => {
            let Some(duration) = descriptor.strip_prefix("every ") else {
                return Err(format!("unrecognized descriptor: @{descriptor}"));
            };
            let delay = parse_go_duration(duration.trim())
                .ok_or_else(|| format!("failed to parse duration @{descriptor}"))?;
            // Sub-second parts are dropped and the delay is at least a second, as upstream.
            let seconds = delay.as_secs().max(1);
            return Ok(Schedule::Every(SignedDuration::from_secs(seconds)));
        }
    };
    Schedule::parse(fields)
}

/// A Go `time.ParseDuration` string such as `1h30m`, `90s` or `1.5h` (positive only).
fn parse_go_duration(text: &str) -> Option<SignedDuration> {
    const UNITS: &[(&str, f64)] = &[
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = UNITS.iter().find(|(u, _)| *u == &rest[..unit_len])?.1;
        rest = &rest[unit_len..];
        seconds += number * scale;
    }
    SignedDuration::try_from_secs_f64(seconds).ok()
}

/// One comma-separated field: its bits, and whether it was written as "any" (`*` or `?`).
fn parse_field(field: &str, bounds: &Bounds) -> Result<(u64, bool), String> {
    let mut bits = 0;
    let mut any = false;
    for part in field.split(',') {
        let (part_bits, part_any) = parse_range(part, bounds)?;
        bits |= part_bits;
        any |= part_any;
    }
    Ok((bits, any))
}

/// `*`, `?`, `N`, `N-M`, each optionally followed by `/step` (`N/step` runs to the maximum).
fn parse_range(part: &str, bounds: &Bounds) -> Result<(u64, bool), String> {
    let (range, step) = match part.split_once('/') {
        None => (part, None),
        Some((range, step)) => {
            let step: u32 = step
                .parse()
                .map_err(|_| format!("failed to parse int from {step}"))?;
            (range, Some(step))
        }
    };
    let (mut any, start, mut end) = if range == "*" || range == "?" {
        (true, bounds.min, bounds.max)
    } else {
        match range.split_once('-') {
            Some((low, high)) => (false, value(low, bounds)?, value(high, bounds)?),
            None => {
                let single = value(range, bounds)?;
                (false, single, single)
            }
        }
    };
    if let Some(step) = step {
        if step == 0 {
            return Err(format!("step of range should be a positive number: {part}"));
        }
        if !range.contains('-') {
            end = bounds.max;
        }
        if step > 1 {
            any = false;
        }
    }
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {part}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {part}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {part}"
        ));
    }
    let step = step.unwrap_or(1);
    let bits = (start..=end)
        .step_by(step as usize)
        .fold(0u64, |bits, v| bits | (1 << v));
    Ok((bits, any))
}

fn value(text: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = bounds.names.iter().position(|n| *n == lower) {
        return Ok(index as u32 + bounds.min);
    }
    text.parse()
        .map_err(|_| format!("failed to parse int from {text}"))
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
