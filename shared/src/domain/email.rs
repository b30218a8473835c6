//! E-mail addresses, and the company-address rule of the application form.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically valid e-mail address: `local@domain`, domain lower-cased, no spaces,
/// control characters or CR/LF, at most 254 characters. `Name <addr>` input keeps `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("請填寫 email")]
    Empty,
    #[error("email 格式不正確")]
    Format,
    #[error("email 過長（最多 254 字元）")]
    TooLong,
    #[error("請使用公司信箱，不接受免費信箱（例如 {0}）；如有特殊情況請在備註欄說明")]
    FreeMail(String),
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        if input.chars().any(|c| c.is_control()) {
            return Err(EmailError::Format);
        }
        let mut s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        // `Display Name <addr@example.com>`: keep the address part.
        if let Some(open) = s.rfind('<') {
            let rest = &s[open + 1..];
            let close = rest.find('>').ok_or(EmailError::Format)?;
            if !rest[close + 1..].trim().is_empty() {
                return Err(EmailError::Format);
            }
            s = rest[..close].trim();
        }
        if s.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Format)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(EmailError::Format);
        }
        let local_ok = local.chars().all(|c| {
            c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
        }) && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(EmailError::Format);
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic() || c == '-' || c.is_ascii_digit()) && !tld.chars().all(|c| c.is_ascii_digit()));
        if !domain_ok {
            return Err(EmailError::Format);
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

/// The free-mail domains refused as a company contact address. Data, loaded from
/// `shared/data/freemail-domains.txt` (or a file named by `APP_FREEMAIL_DOMAINS_FILE`).
#[derive(Debug, Clone)]
pub struct FreeMailDomains(HashSet<String>);

pub const DEFAULT_FREEMAIL_DOMAINS: &str = include_str!("../../data/freemail-domains.txt");

impl FreeMailDomains {
    pub fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim().to_ascii_lowercase())
                .filter(|l| !l.is_empty())
                .collect(),
        )
    }

    pub fn builtin() -> Self {
        Self::parse(DEFAULT_FREEMAIL_DOMAINS)
    }

    /// True for a listed domain and any of its subdomains (`mail.yahoo.com.tw`).
    pub fn contains(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        let mut d = domain.as_str();
        loop {
            if self.0.contains(d) {
                return true;
            }
            match d.split_once('.') {
                Some((_, rest)) if rest.contains('.') => d = rest,
                _ => return false,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A contact address that is not on the free-mail list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CompanyEmail(EmailAddress);

impl CompanyEmail {
    pub fn parse(input: &str, free: &FreeMailDomains) -> Result<Self, EmailError> {
        let addr = EmailAddress::parse(input)?;
        if free.contains(addr.domain()) {
            return Err(EmailError::FreeMail(addr.domain().to_string()));
        }
        Ok(Self(addr))
    }

    pub fn address(&self) -> &EmailAddress {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_named_addresses() {
        assert_eq!(EmailAddress::parse(" Wang@Example.COM.tw ").unwrap().as_str(), "Wang@example.com.tw");
        assert_eq!(EmailAddress::parse("王小明 <ming@vitamin.com.tw>").unwrap().as_str(), "ming@vitamin.com.tw");
        assert_eq!(EmailAddress::parse("\"Wang, M\" <m.w+carbon@Vit-Amin.io>").unwrap().as_str(), "m.w+carbon@vit-amin.io");
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "plainaddress", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", "a@b..com",
            "a@-b.com", "a@b.c", "a@b.123", "<a@b.com", "x <a@b.com> y", ".a@b.com", "a.@b.com",
            "a..b@c.com", "a@exa_mple.com", "甲@例子.公司",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(EmailAddress::parse("a@b.com\r\nBcc: x@y.com"), Err(EmailError::Format));
        assert_eq!(EmailAddress::parse("a@b.com\n"), Err(EmailError::Format));
        assert_eq!(EmailAddress::parse(""), Err(EmailError::Empty));
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn free_mail_is_refused_case_insensitively_and_for_subdomains() {
        let free = FreeMailDomains::builtin();
        assert!(free.len() >= 10);
        for addr in ["a@gmail.com", "A@GMAIL.COM", "Wang <w@Yahoo.com.tw>", "x@hotmail.com", "q@qq.com", "z@163.com", "m@tw.mail.yahoo.com.tw"] {
            match CompanyEmail::parse(addr, &free) {
                Err(EmailError::FreeMail(d)) => assert!(free.contains(&d)),
                other => panic!("{addr}: {other:?}"),
            }
        }
        assert!(CompanyEmail::parse("ming@vitamin.com.tw", &free).is_ok());
        // A company whose domain merely ends like a free-mail one is fine.
        assert!(CompanyEmail::parse("ming@notgmail.com", &free).is_ok());
        let msg = CompanyEmail::parse("a@gmail.com", &free).unwrap_err().to_string();
        assert!(msg.contains("備註"), "{msg}");
    }

    #[test]
    fn free_mail_list_is_data() {
        let free = FreeMailDomains::parse("# comment\nexample.org  # trailing\n\n");
        assert!(free.contains("example.org"));
        assert!(!free.contains("gmail.com"));
    }
}
