//! Trust checks. Every finding is a zh-TW sentence that goes into a candidate's `issues`.

use chrono::NaiveDate;

/// A value read with a confidence below this goes to review.
///
/// Tesseract word confidences on clean renders of our bills sit around 0.85–0.96, and
/// Textract reports 0.90+ on clean scans; a smudged or skewed digit typically falls to
/// 0.40–0.65. 0.70 leaves a margin below the clean range (so clean bills pass without a
/// person) while catching the lines where a digit was most likely misread.
pub const CONFIDENCE_THRESHOLD: f32 = 0.70;

/// Collects the confidences of the values used and the issues found for one candidate.
#[derive(Debug, Default)]
pub struct Review {
    min_confidence: Option<f32>,
    issues: Vec<String>,
}

impl Review {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that a value named `what` (zh-TW) was read with `confidence`.
    pub fn used(&mut self, what: &str, confidence: f32) {
        let c = if confidence.is_finite() { confidence.clamp(0.0, 1.0) } else { 0.0 };
        self.min_confidence = Some(self.min_confidence.map_or(c, |m| m.min(c)));
        if c < CONFIDENCE_THRESHOLD {
            self.issue(format!(
                "「{what}」的辨識信心偏低（{:.0}%，低於 {:.0}%），請對照原始單據確認。",
                c * 100.0,
                CONFIDENCE_THRESHOLD * 100.0
            ));
        }
    }

    pub fn issue(&mut self, message: String) {
        if !self.issues.contains(&message) {
            self.issues.push(message);
        }
    }

    /// The lowest confidence among the values used (0.0 when nothing could be used).
    pub fn confidence(&self) -> f32 {
        self.min_confidence.unwrap_or(0.0)
    }

    pub fn into_issues(self) -> Vec<String> {
        self.issues
    }

    /// Writes confidence and issues into the candidate.
    pub fn finish(self, c: &mut crate::domain::ActivityCandidate) {
        c.confidence = self.confidence();
        c.issues.extend(self.issues);
    }
}

/// Start before end and a plausible length (bills: 25–70 days, monthly or bimonthly).
pub fn check_period(start: NaiveDate, end: NaiveDate, min_days: i64, max_days: i64, r: &mut Review) {
    if start >= end {
        r.issue(format!("計費期間起日（{start}）不在迄日（{end}）之前。"));
        return;
    }
    let days = (end - start).num_days();
    if days < min_days || days > max_days {
        r.issue(format!(
            "計費期間 {start} 至 {end} 共 {days} 天，不在常見的 {min_days}–{max_days} 天之間，請確認日期。"
        ));
    }
}

/// Amount ÷ quantity within [lo, hi] NT$ per unit.
pub fn check_rate(amount: f64, quantity: f64, lo: f64, hi: f64, per: &str, r: &mut Review) {
    if quantity <= 0.0 {
        return;
    }
    let rate = amount / quantity;
    if !(lo..=hi).contains(&rate) {
        r.issue(format!(
            "金額 {amount} 元 ÷ 用量 {quantity} = 每{per} {rate:.2} 元，不在合理範圍 {lo}–{hi} 元，請確認用量或金額是否誤讀。"
        ));
    }
}

/// Fuel unit price plausible for Taiwan (NT$20–45 per litre).
pub const FUEL_PRICE_MIN: f64 = 20.0;
pub const FUEL_PRICE_MAX: f64 = 45.0;

pub fn check_fuel_price(unit_price: f64, r: &mut Review) {
    if !(FUEL_PRICE_MIN..=FUEL_PRICE_MAX).contains(&unit_price) {
        r.issue(format!(
            "油品單價每公升 {unit_price:.2} 元，不在合理範圍 {FUEL_PRICE_MIN}–{FUEL_PRICE_MAX} 元，請確認。"
        ));
    }
}

/// Litres × unit price must equal the charged amount within max(NT$1, 1%).
pub fn check_fuel_total(litres: f64, unit_price: f64, total: f64, r: &mut Review) {
    let computed = litres * unit_price;
    let tolerance = (total.abs() * 0.01).max(1.0);
    if (computed - total).abs() > tolerance {
        r.issue(format!(
            "公升數 {litres} × 單價 {unit_price} = {computed:.1} 元，與金額 {total} 元不符，可能有數字誤讀，請核對。"
        ));
    }
}

/// 台電電號 shape `dd-dd-dddd-dd-d`.
pub fn is_taipower_meter(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    let lens = [2, 2, 4, 2, 1];
    parts.len() == lens.len()
        && parts.iter().zip(lens).all(|(p, l)| p.len() == l && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Formats an 11-digit 電號 written without dashes; leaves anything else as it is.
pub fn format_taipower_meter(id: &str) -> String {
    if id.len() == 11 && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}-{}-{}", &id[0..2], &id[2..4], &id[4..8], &id[8..10], &id[10..11])
    } else {
        id.to_string()
    }
}

pub fn check_taipower_meter(id: &str, r: &mut Review) {
    if !is_taipower_meter(id) {
        r.issue(format!("電號「{id}」格式不符（應為 dd-dd-dddd-dd-d，例如 07-12-3456-78-9），請確認。"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).expect("valid test date")
    }

    #[test]
    fn confidence_tracks_minimum_and_flags_low() {
        let mut r = Review::new();
        r.used("度數", 0.95);
        assert!(r.issues.is_empty());
        r.used("金額", 0.5);
        assert_eq!(r.confidence(), 0.5);
        assert_eq!(r.issues.len(), 1);
        assert!(r.issues[0].contains("金額"));
        assert_eq!(Review::new().confidence(), 0.0);
    }

    #[test]
    fn period_rules() {
        let mut r = Review::new();
        check_period(d(2025, 1, 5), d(2025, 3, 6), 25, 70, &mut r);
        assert!(r.issues.is_empty());
        check_period(d(2025, 3, 6), d(2025, 1, 5), 25, 70, &mut r);
        assert_eq!(r.issues.len(), 1);
        check_period(d(2025, 1, 1), d(2025, 1, 10), 25, 70, &mut r);
        assert_eq!(r.issues.len(), 2);
    }

    #[test]
    fn rates_and_fuel() {
        let mut r = Review::new();
        check_rate(4567.0, 1234.0, 1.5, 10.0, "度", &mut r);
        assert!(r.issues.is_empty());
        check_rate(4567.0, 123.0, 1.5, 10.0, "度", &mut r);
        assert_eq!(r.issues.len(), 1);
        let mut f = Review::new();
        check_fuel_total(30.5, 31.2, 952.0, &mut f);
        check_fuel_price(31.2, &mut f);
        assert!(f.issues.is_empty());
        check_fuel_total(38.5, 31.2, 952.0, &mut f);
        check_fuel_price(81.2, &mut f);
        assert_eq!(f.issues.len(), 2);
    }

    #[test]
    fn meter_shape() {
        assert!(is_taipower_meter("07-12-3456-78-9"));
        assert!(!is_taipower_meter("07-12-3456-78"));
        assert!(!is_taipower_meter("O7-12-3456-78-9"));
        assert_eq!(format_taipower_meter("07123456789"), "07-12-3456-78-9");
    }
}
