//! Business-day arithmetic for the account-deletion grace period: weekends
//! are skipped, and so are the operator's holidays (`--holidays-file`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context};
use chrono::{DateTime, Datelike, Days, NaiveDate, Weekday};

/// The operator's holidays: days that do not count as business days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holidays {
    days: BTreeSet<NaiveDate>,
}

impl Holidays {
    /// No holidays, only weekends.
    pub fn none() -> Holidays {
        Holidays::default()
    }

    /// Holidays from dates.
    pub fn from_dates(days: impl IntoIterator<Item = NaiveDate>) -> Holidays {
        Holidays {
            days: days.into_iter().collect(),
        }
    }

    /// Parses a holidays file: one `YYYY-MM-DD` per line; blank lines and
    /// lines starting with `#` are ignored, as is anything after a date and
    /// whitespace (a name, say).
    ///
    /// # Errors
    /// On the first line that is not a date, naming its line number.
    pub fn parse(text: &str) -> anyhow::Result<Holidays> {
        let mut days = BTreeSet::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let date = line.split_whitespace().next().unwrap_or_default();
            let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                anyhow::anyhow!("line {}: {date:?} is not a date like 2025-12-25", index + 1)
            })?;
            days.insert(day);
        }
        Ok(Holidays { days })
    }

    /// Reads and parses a holidays file.
    ///
    /// # Errors
    /// When the file cannot be read or a line is not a date.
    pub fn load(path: &Path) -> anyhow::Result<Holidays> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Holidays::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Whether `day` is a Monday–Friday that is not a holiday.
    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.days.contains(&day)
    }

    /// The `n`th business day after `start` (not counting `start` itself).
    /// `n = 0` is `start`.
    pub fn add_business_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut counted = 0;
        while counted < n {
            day = day.succ_opt().unwrap_or(day);
            if self.is_business_day(day) {
                counted += 1;
            }
        }
        day
    }
}

/// The UTC calendar day of a Unix-millisecond instant.
pub fn utc_day(at_ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// Unix milliseconds at 00:00 UTC of `day`.
pub fn start_of_day_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0)
}

/// When an account whose deletion was requested at `requested_ms` is purged:
/// at 00:00 UTC after the `grace_days`th business day following the request,
/// so the person has `grace_days` whole business days to change their mind.
///
/// # Errors
/// Never in practice; only for dates past the year 262143.
pub fn purge_time_ms(
    requested_ms: i64,
    grace_days: u32,
    holidays: &Holidays,
) -> anyhow::Result<i64> {
    let last_grace_day = holidays.add_business_days(utc_day(requested_ms), grace_days);
    let Some(purge_day) = last_grace_day.checked_add_days(Days::new(1)) else {
        bail!("purge date out of range");
    };
    Ok(start_of_day_ms(purge_day))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekends_are_skipped() {
        let none = Holidays::none();
        // Monday 2025-01-06 + 10 business days = Monday 2025-01-20.
        assert_eq!(none.add_business_days(d("2025-01-06"), 10), d("2025-01-20"));
        // From a Friday, the next business day is Monday.
        assert_eq!(none.add_business_days(d("2025-01-10"), 1), d("2025-01-13"));
        // From a Saturday or Sunday too.
        assert_eq!(none.add_business_days(d("2025-01-11"), 1), d("2025-01-13"));
        assert_eq!(none.add_business_days(d("2025-01-12"), 1), d("2025-01-13"));
        assert_eq!(none.add_business_days(d("2025-01-12"), 0), d("2025-01-12"));
        // Five business days is always one week from a weekday.
        assert_eq!(none.add_business_days(d("2025-01-08"), 5), d("2025-01-15"));
    }

    #[test]
    fn holidays_are_skipped_and_weekend_holidays_change_nothing() {
        let holidays = Holidays::from_dates([d("2025-01-13"), d("2025-01-18")]);
        assert_eq!(
            holidays.add_business_days(d("2025-01-10"), 1),
            d("2025-01-14")
        );
        assert_eq!(
            holidays.add_business_days(d("2025-01-06"), 10),
            d("2025-01-21")
        );
        // Christmas and New Year across a year boundary.
        let holidays = Holidays::from_dates([d("2025-12-25"), d("2025-12-26"), d("2026-01-01")]);
        assert_eq!(
            holidays.add_business_days(d("2025-12-22"), 10),
            d("2026-01-08")
        );
    }

    #[test]
    fn purge_is_at_midnight_after_the_last_grace_day() {
        let requested = start_of_day_ms(d("2025-01-06")) + 15 * 3_600_000; // Monday 15:00
        let purge = purge_time_ms(requested, 10, &Holidays::none()).unwrap();
        assert_eq!(purge, start_of_day_ms(d("2025-01-21")));
        assert_eq!(utc_day(purge), d("2025-01-21"));
    }

    #[test]
    fn holiday_files_parse_and_bad_lines_are_named() {
        let holidays = Holidays::parse("# 2025\n2025-12-25 Christmas\n\n  2025-12-26\n").unwrap();
        assert_eq!(
            holidays,
            Holidays::from_dates([d("2025-12-25"), d("2025-12-26")])
        );
        let err = Holidays::parse("2025-12-25\n25/12/2025\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}
