//! 統一編號 (Taiwanese unified business number).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated 統一編號: eight ASCII digits that pass the Ministry of Finance checksum.
///
/// Checksum: multiply the digits by the weights 1,2,1,2,1,2,4,1, add up the decimal
/// digits of every product, and the number is valid when that sum is divisible by 5
/// (the rule in force since April 2023; every number valid under the older mod-10 rule
/// stays valid). When the seventh digit is 7 (its product 28 may count as 1 or 0),
/// the number is also valid when `sum + 1` is divisible by 5.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    #[error("請填寫公司統一編號")]
    Empty,
    #[error("統一編號必須是 8 位數字")]
    Format,
    #[error("統一編號檢查碼不正確，請確認號碼")]
    Checksum,
}

const WEIGHTS: [u32; 8] = [1, 2, 1, 2, 1, 2, 4, 1];

impl TaxId {
    /// Parses user input: surrounding whitespace (including the ideographic space) is
    /// dropped and full-width digits (０-９) become ASCII digits; anything else fails.
    pub fn parse(input: &str) -> Result<Self, TaxIdError> {
        let trimmed = input.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
        if trimmed.is_empty() {
            return Err(TaxIdError::Empty);
        }
        let mut digits = String::with_capacity(8);
        for c in trimmed.chars() {
            let d = match c {
                '0'..='9' => c,
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                _ => return Err(TaxIdError::Format),
            };
            digits.push(d);
            if digits.len() > 8 {
                return Err(TaxIdError::Format);
            }
        }
        if digits.len() != 8 {
            return Err(TaxIdError::Format);
        }
        if !checksum_ok(digits.as_bytes()) {
            return Err(TaxIdError::Checksum);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn digit_sum(mut n: u32) -> u32 {
    let mut s = 0;
    while n > 0 {
        s += n % 10;
        n /= 10;
    }
    s
}

fn checksum_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| digit_sum(u32::from(d - b'0') * w))
        .sum();
    sum % 5 == 0 || (digits[6] == b'7' && (sum + 1) % 5 == 0)
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TaxId {
    type Error = TaxIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TaxId> for String {
    fn from(value: TaxId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(s: &str) -> u32 {
        s.bytes().zip(WEIGHTS).map(|(d, w)| digit_sum(u32::from(d - b'0') * w)).sum()
    }

    #[test]
    fn valid_numbers() {
        for n in ["22099131", "99754141", "04595257", "12345675"] {
            assert!(TaxId::parse(n).is_ok(), "{n} should be valid");
        }
    }

    #[test]
    fn seventh_digit_rule_is_needed_for_10458574() {
        assert_eq!(sum("10458574") % 5, 4, "plain sum must fail so the test means something");
        assert_eq!(TaxId::parse("10458574").unwrap().as_str(), "10458574");
        // The same sum+1 slack does not apply when the seventh digit is not 7.
        assert_eq!(sum("10458584") % 5, 4);
        assert_eq!(TaxId::parse("10458584"), Err(TaxIdError::Checksum));
    }

    #[test]
    fn mod5_rule_accepts_62140097_which_mod10_refused() {
        assert_eq!(sum("62140097") % 10, 5, "invalid under the old mod-10 rule");
        assert!(TaxId::parse("62140097").is_ok());
    }

    #[test]
    fn checksum_failure() {
        assert_eq!(TaxId::parse("22099132"), Err(TaxIdError::Checksum));
        assert_eq!(TaxId::parse("12345678"), Err(TaxIdError::Checksum));
    }

    #[test]
    fn full_width_and_spaces_are_normalised() {
        assert_eq!(TaxId::parse("２２０９９１３１").unwrap().as_str(), "22099131");
        assert_eq!(TaxId::parse("  22099131\t").unwrap().as_str(), "22099131");
        assert_eq!(TaxId::parse("\u{3000}２２０９９１３１\u{3000}").unwrap().as_str(), "22099131");
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        for bad in [
            "2209913", "220991311", "2209913a", "22-099131", "٢٢٠٩٩١٣١", "२२०९९१३१",
            "22 099131", "𝟐𝟐𝟎𝟗𝟗𝟏𝟑𝟏", "二二〇九九一三一", "22099131\u{0}",
        ] {
            assert_eq!(TaxId::parse(bad), Err(TaxIdError::Format), "{bad:?}");
        }
        assert_eq!(TaxId::parse(""), Err(TaxIdError::Empty));
        assert_eq!(TaxId::parse("   "), Err(TaxIdError::Empty));
        let long = "1".repeat(10_000);
        assert_eq!(TaxId::parse(&long), Err(TaxIdError::Format));
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<TaxId>("\"22099132\"").is_err());
        let t: TaxId = serde_json::from_str("\"22099131\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"22099131\"");
    }
}
