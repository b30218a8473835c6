//! Dates as Taiwanese bills write them: ISO `2025-01-31`, `2025/1/31`, 民國 `114/01/31`,
//! `114.01.31`, `114年1月31日`; whole cells may also be `20250131` or `1140131`.
//! 民國 years must be 80–130 (→ +1911); every date must exist in the calendar.

use chrono::NaiveDate;

/// Lowest and highest accepted 民國 year; Gregorian years map to the same window.
pub const ROC_YEAR_MIN: i32 = 80;
pub const ROC_YEAR_MAX: i32 = 130;
const ROC_OFFSET: i32 = 1911;

/// A date-shaped run of text; `date` is an error (zh-TW) when it is not a real date.
#[derive(Debug, Clone, PartialEq)]
pub struct DateHit {
    pub raw: String,
    pub date: Result<NaiveDate, String>,
}

/// Builds a date from a year as written (2–3 digits = 民國, 4 digits = Gregorian).
pub fn make_date(year: &str, month: u32, day: u32, raw: &str) -> Result<NaiveDate, String> {
    let y: i32 = year.parse().map_err(|_| format!("「{raw}」的年份無法辨識"))?;
    let greg = match year.len() {
        2 | 3 => {
            if !(ROC_YEAR_MIN..=ROC_YEAR_MAX).contains(&y) {
                return Err(format!("「{raw}」的民國年 {y} 不在 {ROC_YEAR_MIN}–{ROC_YEAR_MAX} 之間"));
            }
            y + ROC_OFFSET
        }
        4 => {
            if !(ROC_YEAR_MIN + ROC_OFFSET..=ROC_YEAR_MAX + ROC_OFFSET).contains(&y) {
                return Err(format!("「{raw}」的年份 {y} 不合理"));
            }
            y
        }
        _ => return Err(format!("「{raw}」的年份無法辨識")),
    };
    NaiveDate::from_ymd_opt(greg, month, day).ok_or_else(|| format!("「{raw}」不是有效的日期"))
}

/// Finds every date-shaped run (`Y/M/D`, `Y-M-D`, `Y.M.D`, `Y年M月D日`) in free text.
/// The two separators must agree, so `114年01-02月` (an invoice period) is not a date.
pub fn scan_dates(s: &str) -> Vec<DateHit> {
    let c: Vec<char> = s.chars().collect();
    let n = c.len();
    let digits = |mut i: usize| {
        let st = i;
        while i < n && c[i].is_ascii_digit() {
            i += 1;
        }
        (st, i)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if !c[i].is_ascii_digit() || (i > 0 && (c[i - 1].is_ascii_digit() || matches!(c[i - 1], '-' | '/' | '.'))) {
            i += 1;
            continue;
        }
        let (ys, ye) = digits(i);
        let matched = (|| {
            if !(2..=4).contains(&(ye - ys)) || ye >= n {
                return None;
            }
            let sep1 = c[ye];
            let sep2 = match sep1 {
                '/' | '-' | '.' => sep1,
                '年' => '月',
                _ => return None,
            };
            let (ms, me) = digits(ye + 1);
            if !(1..=2).contains(&(me - ms)) || me >= n || c[me] != sep2 {
                return None;
            }
            let (ds, de) = digits(me + 1);
            if !(1..=2).contains(&(de - ds)) {
                return None;
            }
            let mut end = de;
            if sep1 == '年' && end < n && c[end] == '日' {
                end += 1;
            }
            // `3456-78-9-...`: more of the same separator and digits is an id, not a date.
            if end < n && c[end] == sep1 && c.get(end + 1).is_some_and(|d| d.is_ascii_digit()) {
                return None;
            }
            let year: String = c[ys..ye].iter().collect();
            let m: u32 = c[ms..me].iter().collect::<String>().parse().ok()?;
            let d: u32 = c[ds..de].iter().collect::<String>().parse().ok()?;
            let raw: String = c[ys..end].iter().collect();
            let date = make_date(&year, m, d, &raw);
            Some((DateHit { raw, date }, end))
        })();
        match matched {
            Some((hit, end)) => {
                out.push(hit);
                i = end;
            }
            None => i = ye.max(i + 1),
        }
    }
    out
}

/// Parses a cell that holds one date: any of the free-text forms, or `20250131`
/// (yyyymmdd) / `1140131` (民國 yyymmdd).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = crate::ingest::parse::numbers::normalise_text(s);
    let t = t.trim();
    if t.is_empty() {
        return Err("日期空白".to_string());
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        let (y, rest) = match t.len() {
            8 => t.split_at(4),
            7 => t.split_at(3),
            _ => return Err(format!("「{t}」不是可辨識的日期格式")),
        };
        let m: u32 = rest[..2].parse().map_err(|_| format!("「{t}」不是有效的日期"))?;
        let d: u32 = rest[2..].parse().map_err(|_| format!("「{t}」不是有效的日期"))?;
        return make_date(y, m, d, t);
    }
    let hits = scan_dates(t);
    match hits.as_slice() {
        [one] if one.raw == t => one.date.clone(),
        _ => Err(format!("「{t}」不是可辨識的日期格式（請用 2025-01-31、2025/1/31 或民國 114/01/31）")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).expect("valid test date")
    }

    #[test]
    fn roc_and_gregorian() {
        assert_eq!(parse_date("114/01/31"), Ok(d(2025, 1, 31)));
        assert_eq!(parse_date("2025/1/31"), Ok(d(2025, 1, 31)));
        assert_eq!(parse_date("2025-01-31"), Ok(d(2025, 1, 31)));
        assert_eq!(parse_date("114年1月31日"), Ok(d(2025, 1, 31)));
        assert_eq!(parse_date("20250131"), Ok(d(2025, 1, 31)));
        assert_eq!(parse_date("1140131"), Ok(d(2025, 1, 31)));
        assert_eq!(parse_date("８０/１/１"), Ok(d(1991, 1, 1)));
    }

    #[test]
    fn rejects_unreal_dates() {
        assert!(parse_date("114/02/30").is_err());
        assert!(parse_date("79/01/01").is_err());
        assert!(parse_date("131/01/01").is_err());
        assert!(parse_date("2025-13-01").is_err());
        assert!(parse_date("hello").is_err());
        assert!(parse_date("").is_err());
    }

    #[test]
    fn scans_periods_and_skips_lookalikes() {
        let hits = scan_dates("計費期間:114/01/05 至 114/03/06");
        let ds: Vec<_> = hits.iter().map(|h| h.date.clone()).collect();
        assert_eq!(ds, vec![Ok(d(2025, 1, 5)), Ok(d(2025, 3, 6))]);
        assert!(scan_dates("114年01-02月").is_empty());
        assert!(scan_dates("電號:07-12-3456-78-9").is_empty());
        assert!(scan_dates("AB-12345678 10:23:45").is_empty());
        let t = scan_dates("2025-01-15 10:23:45");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].date, Ok(d(2025, 1, 15)));
    }
}
