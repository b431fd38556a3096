//! Calendar dates in the store's time zone.
//!
//! Invariant: every calendar date akten derives from an instant (the year in
//! an Aktenzeichen, a zdA date, a date of receipt, a retention end) goes
//! through [`Calendar::date_of`], which uses the configured IANA time zone
//! (default `Europe/Berlin`) from the time-zone database bundled into the
//! binary, never the process's local offset or `TZ`.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The time zone used for calendar dates, from akten.toml.
#[derive(Clone, Debug)]
pub struct Calendar {
    name: String,
    tz: TimeZone,
}

/// The configured time zone is not in the bundled database.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown time zone '{0}': use an IANA name such as Europe/Berlin")]
pub struct UnknownTimeZone(pub String);

/// A date given by a user could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("'{0}' is not a date: write it as 2026-12-04 or 04.12.2026")]
pub struct BadDate(pub String);

impl Calendar {
    pub const DEFAULT_TIME_ZONE: &'static str = "Europe/Berlin";

    pub fn new(name: &str) -> Result<Self, UnknownTimeZone> {
        let tz = jiff::tz::db().get(name).map_err(|_| UnknownTimeZone(name.to_string()))?;
        Ok(Self { name: name.to_string(), tz })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The calendar date of `instant` in this time zone.
    pub fn date_of(&self, instant: Timestamp) -> Date {
        instant.to_zoned_datetime(self.tz.clone()).date()
    }

    /// `instant` as local wall-clock time with its offset, for people:
    /// `2026-12-04 21:35:19 +01:00`.
    pub fn display(&self, instant: Timestamp) -> String {
        instant.to_zoned_datetime(self.tz.clone()).strftime("%Y-%m-%d %H:%M:%S %:z").to_string()
    }

    /// Reads a date typed by a user: ISO `2026-12-04` or German `04.12.2026`.
    pub fn parse_date(text: &str) -> Result<Date, BadDate> {
        let t = text.trim();
        if let Ok(d) = t.parse::<Date>() {
            return Ok(d);
        }
        let parts: Vec<&str> = t.split('.').collect();
        if let [d, m, y] = parts.as_slice()
            && let (Ok(d), Ok(m), Ok(y)) = (d.parse::<i8>(), m.parse::<i8>(), y.parse::<i16>())
            && y >= 1000
            && let Ok(date) = Date::new(y, m, d)
        {
            return Ok(date);
        }
        Err(BadDate(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn new_year_boundary_follows_berlin_not_utc() {
        let berlin = Calendar::new("Europe/Berlin").unwrap();
        // 31 Dec 23:30 in Berlin (CET, +01:00) is 22:30 UTC: still 2026.
        assert_eq!(berlin.date_of(at("2026-12-31T22:30:00Z")), date(2026, 12, 31));
        // 1 Jan 00:30 in Berlin is 23:30 UTC on 31 Dec: already 2027 here.
        assert_eq!(berlin.date_of(at("2026-12-31T23:30:00Z")), date(2027, 1, 1));
        // Summer time (+02:00).
        assert_eq!(berlin.date_of(at("2026-06-30T22:30:00Z")), date(2026, 7, 1));
        let kiritimati = Calendar::new("Pacific/Kiritimati").unwrap();
        assert_eq!(kiritimati.date_of(at("2026-12-31T22:30:00Z")), date(2027, 1, 1));
    }

    #[test]
    fn parse_dates() {
        assert_eq!(Calendar::parse_date("2026-12-04").unwrap(), date(2026, 12, 4));
        assert_eq!(Calendar::parse_date("04.12.2026").unwrap(), date(2026, 12, 4));
        assert_eq!(Calendar::parse_date("4.12.2026").unwrap(), date(2026, 12, 4));
        for bad in ["", "2026-13-01", "31.02.2026", "04.12.26", "morgen"] {
            assert!(Calendar::parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_zone_is_refused() {
        assert!(Calendar::new("Europe/Atlantis").is_err());
    }
}
