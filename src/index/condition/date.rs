//! Dates in metadata and filters: the strings that compare as instants.

/// A date string as an instant: RFC 3339 (with an offset), or `YYYY-MM-DD` at midnight UTC.
pub fn instant(s: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    if s.len() == 10 {
        let d: jiff::civil::Date = s.parse().ok()?;
        let midnight = d.to_datetime(jiff::civil::Time::midnight());
        return jiff::tz::Offset::UTC.to_timestamp(midnight).ok();
    }
    None
}
