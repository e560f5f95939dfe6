//! Weekly maintenance windows: whether a reboot may start now, and when the next window opens.
//! Times are read in UTC or in the configured fixed offset.

use super::config::{Day, Window};

const WEEK: i64 = 7 * 24 * 60;

fn day_index(day: Day) -> i64 {
    match day {
        Day::Mon => 0,
        Day::Tue => 1,
        Day::Wed => 2,
        Day::Thu => 3,
        Day::Fri => 4,
        Day::Sat => 5,
        Day::Sun => 6,
    }
}

/// The windows' openings as (minute of the week from Monday 00:00, length in minutes).
fn spans(windows: &[Window]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for w in windows {
        let Some((h, m)) = w.start_time.split_once(':') else { continue };
        let (Ok(h), Ok(m)) = (h.parse::<i64>(), m.parse::<i64>()) else { continue };
        for day in &w.days {
            out.push((day_index(*day) * 24 * 60 + h * 60 + m, i64::from(w.length_minutes)));
        }
    }
    out
}

/// The minute of the week of `unix_seconds`, `offset` minutes east of UTC.
fn minute_of_week(unix_seconds: i64, offset: i32) -> i64 {
    // 1970-01-01 was a Thursday: day 3 of a week that starts on Monday.
    (unix_seconds.div_euclid(60) + i64::from(offset) + 3 * 24 * 60).rem_euclid(WEEK)
}

/// Whether a window is open at `unix_seconds`.
pub fn is_open(windows: &[Window], offset: i32, unix_seconds: i64) -> bool {
    let now = minute_of_week(unix_seconds, offset);
    spans(windows).iter().any(|&(start, length)| (now - start).rem_euclid(WEEK) < length)
}

/// When the next window opens after `unix_seconds` (now, when one is open), in unix seconds.
pub fn next_open(windows: &[Window], offset: i32, unix_seconds: i64) -> Option<i64> {
    if is_open(windows, offset, unix_seconds) {
        return Some(unix_seconds);
    }
    let now = minute_of_week(unix_seconds, offset);
    let wait = spans(windows).iter().map(|&(start, _)| (start - now).rem_euclid(WEEK)).min()?;
    Some((unix_seconds.div_euclid(60) + wait) * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[Day], start: &str, minutes: u32) -> Window {
        Window { days: days.to_vec(), start_time: start.into(), length_minutes: minutes }
    }

    // 2026-11-28 was a Saturday; 22:30 UTC that day.
    const SAT_2230: i64 = 1_795_905_000;

    #[test]
    fn windows_open_on_their_days_and_hours_across_midnight_and_the_week() {
        let sat_night = [window(&[Day::Sat], "22:00", 120)];
        let sun_late = [window(&[Day::Sun], "23:30", 60)];
        // (windows, offset, when, open)
        let table: [(&[Window], i32, i64, bool); 8] = [
            (&sat_night, 0, SAT_2230, true),
            (&sat_night, 0, SAT_2230 - 31 * 60, false),
            (&sat_night, 0, SAT_2230 + 89 * 60, true), // Sunday 23:59 → still Sat's window? no: 23:59 Sat
            (&sat_night, 0, SAT_2230 + 90 * 60, false), // Sunday 00:00: two hours are over
            (&sun_late, 0, SAT_2230 + 25 * 3600 + 10 * 60, true), // Sunday 23:40
            (&sun_late, 0, SAT_2230 + 25 * 3600 + 50 * 60, true), // Monday 00:20, across the week's end
            (&sat_night, 120, SAT_2230 - 2 * 3600, true), // 20:30 UTC is 22:30 at +02:00
            (&sat_night, -60, SAT_2230, false),        // 21:30 at -01:00
        ];
        for (i, (windows, offset, when, open)) in table.iter().enumerate() {
            assert_eq!(is_open(windows, *offset, *when), *open, "row {i}");
        }
    }

    #[test]
    fn the_next_opening_is_the_nearest_start() {
        let w = [window(&[Day::Sat], "22:00", 120), window(&[Day::Wed], "03:00", 30)];
        assert_eq!(next_open(&w, 0, SAT_2230), Some(SAT_2230), "open now");
        // Sunday 01:00 → Wednesday 03:00: 3 days and 2 hours later.
        let sun_0100 = SAT_2230 + 150 * 60;
        assert_eq!(next_open(&w, 0, sun_0100), Some(sun_0100 + (3 * 24 + 2) * 3600));
        assert_eq!(next_open(&[], 0, SAT_2230), None);
    }
}
