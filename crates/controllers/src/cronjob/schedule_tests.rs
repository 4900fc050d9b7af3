use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Schedule;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn next(spec: &str, after: &str, zone: &str) -> String {
    let zone = TimeZone::get(zone).unwrap();
    let schedule = Schedule::parse(spec).unwrap();
    let next = schedule.next_after(at(after), &zone).unwrap();
    next.to_zoned(zone)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn next_utc(spec: &str, after: &str) -> String {
    next(spec, after, "UTC")
}

#[test]
fn every_minute_is_the_next_whole_minute() {
    assert_eq!(
        next_utc("* * * * *", "2024-05-01T10:00:00Z"),
        "2024-05-01T10:01:00+00:00"
    );
    assert_eq!(
        next_utc("* * * * *", "2024-05-01T10:00:59.9Z"),
        "2024-05-01T10:01:00+00:00"
    );
}

#[test]
fn steps_ranges_lists_and_names() {
    assert_eq!(
        next_utc("*/15 * * * *", "2024-05-01T10:16:00Z"),
        "2024-05-01T10:30:00+00:00"
    );
    assert_eq!(
        next_utc("5/20 * * * *", "2024-05-01T10:46:00Z"),
        "2024-05-01T11:05:00+00:00"
    );
    assert_eq!(
        next_utc("0 9-17/4 * * *", "2024-05-01T13:00:00Z"),
        "2024-05-01T17:00:00+00:00"
    );
    assert_eq!(
        next_utc("30 8 * JAN,jul MON-fri", "2024-05-01T00:00:00Z"),
        "2024-07-01T08:30:00+00:00"
    );
    assert_eq!(
        next_utc("0 0 ? * SUN", "2024-05-01T00:00:00Z"),
        "2024-05-05T00:00:00+00:00"
    );
}

#[test]
fn both_day_fields_restricted_means_either_matches() {
    // 2024-05-01 is a Wednesday: the 13th or any Friday, whichever comes first.
    assert_eq!(
        next_utc("0 0 13 * 5", "2024-05-01T00:00:00Z"),
        "2024-05-03T00:00:00+00:00"
    );
    // With one day field "any", both must match: Friday the 13th.
    assert_eq!(
        next_utc("0 0 13 * *", "2024-05-01T00:00:00Z"),
        "2024-05-13T00:00:00+00:00"
    );
    assert_eq!(
        next_utc("0 0 */1 * 5", "2024-05-01T00:00:00Z"),
        "2024-05-03T00:00:00+00:00"
    );
    assert_eq!(
        next_utc("0 0 13 * 5/1", "2024-05-01T00:00:00Z"),
        "2024-05-03T00:00:00+00:00"
    );
    assert_eq!(
        next_utc("0 0 13 * */2", "2024-09-01T00:00:00Z"),
        "2024-09-03T00:00:00+00:00"
    );
}

#[test]
fn descriptors() {
    let after = "2024-05-15T10:20:00Z";
    assert_eq!(next_utc("@yearly", after), "2025-01-01T00:00:00+00:00");
    assert_eq!(next_utc("@annually", after), "2025-01-01T00:00:00+00:00");
    assert_eq!(next_utc("@monthly", after), "2024-06-01T00:00:00+00:00");
    assert_eq!(next_utc("@weekly", after), "2024-05-19T00:00:00+00:00");
    assert_eq!(next_utc("@daily", after), "2024-05-16T00:00:00+00:00");
    assert_eq!(next_utc("@midnight", after), "2024-05-16T00:00:00+00:00");
    assert_eq!(next_utc("@hourly", after), "2024-05-15T11:00:00+00:00");
    assert_eq!(next_utc("@every 1h30m", after), "2024-05-15T11:50:00+00:00");
    assert_eq!(
        next_utc("@every 90s", "2024-05-15T10:20:00.5Z"),
        "2024-05-15T10:21:30+00:00"
    );
}

#[test]
fn rejects_malformed_schedules() {
    for bad in [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 7",
        "5-2 * * * *",
        "*/0 * * * *",
        "x * * * *",
        "@fortnightly",
        "@every",
        "@every 5 minutes",
        "TZ=UTC * * * * *",
        "CRON_TZ=Europe/Paris 0 9 * * *",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn unsatisfiable_schedule_has_no_next_time() {
    let schedule = Schedule::parse("0 0 30 2 *").unwrap();
    assert_eq!(
        schedule.next_after(at("2024-01-01T00:00:00Z"), &TimeZone::UTC),
        None
    );
}

#[test]
fn leap_day() {
    assert_eq!(
        next_utc("0 12 29 2 *", "2025-01-01T00:00:00Z"),
        "2028-02-29T12:00:00+00:00"
    );
}

#[test]
fn time_zones_read_the_wall_clock_of_the_zone() {
    assert_eq!(
        next("0 9 * * *", "2024-04-30T23:00:00Z", "Asia/Tokyo"),
        "2024-05-01T09:00:00+09:00"
    );
    assert_eq!(
        next("0 9 * * *", "2024-05-01T00:00:00Z", "America/New_York"),
        "2024-05-01T09:00:00-04:00"
    );
    // A zone with a 45-minute offset keeps whole wall-clock hours.
    assert_eq!(
        next("0 * * * *", "2024-05-01T00:00:00Z", "Asia/Kathmandu"),
        "2024-05-01T06:00:00+05:45"
    );
}

#[test]
fn dst_spring_forward_skips_the_missing_hour() {
    // 2024-03-10: New York clocks jump from 02:00 to 03:00.
    assert_eq!(
        next("30 2 * * *", "2024-03-09T12:00:00Z", "America/New_York"),
        "2024-03-11T02:30:00-04:00"
    );
    assert_eq!(
        next("0 * * * *", "2024-03-10T06:30:00Z", "America/New_York"),
        "2024-03-10T03:00:00-04:00"
    );
}

#[test]
fn dst_fall_back_fires_in_both_readings_of_the_repeated_hour() {
    // 2024-11-03: New York clocks go back from 02:00 EDT to 01:00 EST.
    let first = next("30 1 * * *", "2024-11-03T04:00:00Z", "America/New_York");
    assert_eq!(first, "2024-11-03T01:30:00-04:00");
    let second = next("30 1 * * *", "2024-11-03T05:30:00Z", "America/New_York");
    assert_eq!(second, "2024-11-03T01:30:00-05:00");
    let after = next("30 1 * * *", "2024-11-03T06:30:00Z", "America/New_York");
    assert_eq!(after, "2024-11-04T01:30:00-05:00");
}

#[test]
fn midnight_missing_in_the_zone_starts_the_day_after_the_gap() {
    // Santiago moved clocks from 00:00 to 01:00 on 2024-09-08.
    assert_eq!(
        next("15 * 8 9 *", "2024-09-07T12:00:00Z", "America/Santiago"),
        "2024-09-08T01:15:00-03:00"
    );
}
