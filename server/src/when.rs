//! Times for people: milliseconds since the epoch, shown in the relay
//! machine's time zone.

use jiff::{Timestamp, tz::TimeZone};

/// `2026-12-01 10:04` in the machine's time zone, or the milliseconds
/// themselves if they are out of range.
pub fn local(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(at) => at
            .to_zoned_datetime(TimeZone::system())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn day(number: i64) -> String {
    match Timestamp::from_second(number.saturating_mul(86_400)) {
        Ok(at) => at.to_zoned_datetime(TimeZone::UTC).date().to_string(),
        Err(_) => format!("day {number}"),
    }
}

/// How long ago `ms` was, before `now`: `3 min`, `5 h`, `12 days`.
pub fn ago(ms: i64, now: i64) -> String {
    let secs = (now - ms).max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_ages_read_as_people_say_them() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(20_453), "2025-12-31");
        assert_eq!(day(-1), "1969-12-31");
        assert_eq!(ago(0, 59_000), "59 s");
        assert_eq!(ago(0, 3 * 60_000), "3 min");
        assert_eq!(ago(0, 5 * 3_600_000), "5 h");
        assert_eq!(ago(0, 12 * 86_400_000), "12 days");
        assert_eq!(ago(10, 0), "0 s", "a time in the future is no time ago");
        assert!(local(1_764_583_200_000).starts_with("2025-12-0"));
    }
}
