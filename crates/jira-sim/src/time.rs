//! The few date computations the simulator needs (UTC only), without a
//! date library.

use std::time::{SystemTime, UNIX_EPOCH};

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch.
pub(crate) fn to_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn parts(ms: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    (
        y,
        mo,
        d,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    )
}

/// Jira's timestamp format: `2024-05-01T12:34:56.789+0000`.
pub(crate) fn format_jira(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = parts(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}+0000")
}

/// ISO 8601 in UTC: `2024-05-01T12:34:56Z` (for `X-RateLimit-Reset`).
pub(crate) fn format_iso(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = parts(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A calendar date `{year}{sep}{month}{sep}{day}` with 4-digit year and
/// 2-digit month and day.
fn parse_ymd(s: &str, sep: char) -> Option<(i64, u32, u32)> {
    let mut it = s.split(sep);
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (i64::from(digits(y)?), digits(m)?, digits(d)?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some((y, m, d))
}

/// `duedate`'s format: `YYYY-MM-DD`, a real calendar date.
pub(crate) fn is_valid_date(s: &str) -> bool {
    parse_ymd(s, '-').is_some()
}

/// A JQL absolute date: `yyyy/MM/dd`, `yyyy-MM-dd`, optionally followed
/// by ` HH:mm` (taken as UTC).
pub(crate) fn parse_jql_date(s: &str) -> Option<i64> {
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let (y, m, d) = parse_ymd(date, '-').or_else(|| parse_ymd(date, '/'))?;
    let mut ms = days_from_civil(y, m, d) * MS_PER_DAY;
    if let Some(t) = time {
        let (h, mi) = t.split_once(':')?;
        if h.len() != 2 || mi.len() != 2 {
            return None;
        }
        let (h, mi) = (digits(h)?, digits(mi)?);
        if h > 23 || mi > 59 {
            return None;
        }
        ms += i64::from(h) * 3_600_000 + i64::from(mi) * 60_000;
    }
    Some(ms)
}

/// A JQL period such as `-5m`, `-1d`, `4w 2d`, `-2h 30m`: milliseconds
/// relative to now (w, d, h, m units).
pub(crate) fn parse_jql_period(s: &str) -> Option<i64> {
    let s = s.trim();
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut total: i64 = 0;
    let mut any = false;
    for part in body.split_whitespace() {
        let unit = part.chars().last()?;
        let number = digits(&part[..part.len() - unit.len_utf8()])?;
        let unit_ms = match unit {
            'w' => 7 * MS_PER_DAY,
            'd' => MS_PER_DAY,
            'h' => 3_600_000,
            'm' => 60_000,
            _ => return None,
        };
        total = total.checked_add(i64::from(number).checked_mul(unit_ms)?)?;
        any = true;
    }
    any.then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let ms = days_from_civil(2024, 2, 29) * MS_PER_DAY + 3_723_004;
        assert_eq!(format_jira(ms), "2024-02-29T01:02:03.004+0000");
        assert_eq!(format_iso(ms), "2024-02-29T01:02:03Z");
        assert_eq!(format_jira(0), "1970-01-01T00:00:00.000+0000");
        assert!(is_valid_date("2024-02-29"));
        assert!(!is_valid_date("2023-02-29"));
        assert!(!is_valid_date("2024-1-01"));
        assert_eq!(
            parse_jql_date("2024/02/29 01:02"),
            Some(days_from_civil(2024, 2, 29) * MS_PER_DAY + 3_720_000)
        );
        assert_eq!(parse_jql_period("-5m"), Some(-300_000));
        assert_eq!(parse_jql_period("1w 2d"), Some(9 * MS_PER_DAY));
        assert_eq!(parse_jql_period("-5x"), None);
        assert_eq!(parse_jql_period(""), None);
    }
}
