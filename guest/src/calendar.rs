//! Time cells: the hour, day and month (UTC) slots that rollups are kept in, and
//! how a query window is covered by the fewest of them.
//!
//! Hourly cells are the base; day and month cells only make long windows cheap.
//! A time zone with whole-hour offsets can later be served from hourly cells.

use time::{Date, Month, OffsetDateTime};

use crate::model::Timestamp;

pub const HOUR_MS: u64 = 3_600_000;
pub const DAY_HOURS: u64 = 24;

/// A rollup slot. Indexes count from the Unix epoch (hours, days, months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cell {
    Hour(u64),
    Day(u64),
    Month(u64),
    /// All time.
    All,
}

impl Cell {
    /// The cells a fact at `at` counts in, finest first.
    pub fn containing(at: Timestamp) -> [Cell; 4] {
        let hour = at / HOUR_MS;
        [
            Cell::Hour(hour),
            Cell::Day(hour / DAY_HOURS),
            Cell::Month(month_of_hour(hour)),
            Cell::All,
        ]
    }

    /// Short key segment: `h490000`, `d20400`, `m671`, `a`.
    pub fn key(&self) -> String {
        match self {
            Cell::Hour(i) => format!("h{i}"),
            Cell::Day(i) => format!("d{i}"),
            Cell::Month(i) => format!("m{i}"),
            Cell::All => "a".to_owned(),
        }
    }
}

/// Months since 1970-01 of the given hour index.
pub fn month_of_hour(hour: u64) -> u64 {
    let secs = i64::try_from(hour.saturating_mul(3600)).unwrap_or(i64::MAX);
    match OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => (t.year() as i64 - 1970) as u64 * 12 + (t.month() as u64 - 1),
        Err(_) => u64::MAX,
    }
}

/// First hour index of a month index.
pub fn month_start_hour(month: u64) -> u64 {
    let year = 1970 + (month / 12) as i32;
    let Ok(m) = Month::try_from((month % 12) as u8 + 1) else {
        return u64::MAX;
    };
    match Date::from_calendar_date(year, m, 1) {
        Ok(d) => (d.midnight().assume_utc().unix_timestamp() / 3600) as u64,
        Err(_) => u64::MAX,
    }
}

/// Covers the hour range [from, to) with the fewest hour, day and month cells.
pub fn cover(from: u64, to: u64) -> Vec<Cell> {
    let mut cells = Vec::new();
    let mut at = from;
    while at < to {
        let month = month_of_hour(at);
        let month_end = month_start_hour(month + 1);
        if month_start_hour(month) == at && month_end <= to {
            cells.push(Cell::Month(month));
            at = month_end;
        } else if at.is_multiple_of(DAY_HOURS) && at + DAY_HOURS <= to {
            cells.push(Cell::Day(at / DAY_HOURS));
            at += DAY_HOURS;
        } else {
            cells.push(Cell::Hour(at));
            at += 1;
        }
    }
    cells
}

/// Start hour of the bucket holding `hour`, and of the next one.
pub fn bucket_bounds(bucket: crate::model::Bucket, hour: u64) -> (u64, u64) {
    use crate::model::Bucket;
    match bucket {
        Bucket::None => (0, u64::MAX),
        Bucket::Hour => (hour, hour + 1),
        Bucket::Day => {
            let start = hour - hour % DAY_HOURS;
            (start, start + DAY_HOURS)
        }
        Bucket::Month => {
            let month = month_of_hour(hour);
            (month_start_hour(month), month_start_hour(month + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour_of(y: i32, m: u8, d: u8, h: u8) -> u64 {
        let date = Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap();
        (date
            .with_hms(h, 0, 0)
            .unwrap()
            .assume_utc()
            .unix_timestamp()
            / 3600) as u64
    }

    #[test]
    fn month_index_round_trips() {
        for month in [0, 1, 11, 12, 659, 671, 700] {
            assert_eq!(month_of_hour(month_start_hour(month)), month);
            assert_eq!(month_of_hour(month_start_hour(month + 1) - 1), month);
        }
    }

    #[test]
    fn cover_uses_coarsest_cells_and_tiles_exactly() {
        let from = hour_of(2024, 11, 30, 22);
        let to = hour_of(2025, 1, 2, 3);
        let cells = cover(from, to);
        assert_eq!(cells[0], Cell::Hour(from));
        assert_eq!(cells[1], Cell::Hour(from + 1));
        assert_eq!(
            cells[2],
            Cell::Month(month_of_hour(hour_of(2024, 12, 1, 0)))
        );
        assert_eq!(cells[3], Cell::Day(hour_of(2025, 1, 1, 0) / 24));
        assert_eq!(cells.len(), 4 + 3);
        // The cells tile the range with no gap and no overlap.
        let hours: u64 = cells
            .iter()
            .map(|c| match c {
                Cell::Hour(_) => 1,
                Cell::Day(_) => 24,
                Cell::Month(m) => month_start_hour(m + 1) - month_start_hour(*m),
                Cell::All => unreachable!(),
            })
            .sum();
        assert_eq!(hours, to - from);
    }

    #[test]
    fn empty_range_has_no_cells() {
        assert!(cover(10, 10).is_empty());
    }
}
