//! Versioned emission-factor data: loading, validation, lookup by date, fingerprint.
//!
//! File format (`shared/data/factors/*.json`, and the same for extra/override files):
//! ```json
//! { "schema": 1, "description": "...", "entries": [
//!   { "id": "electricity.grid.tw", "version": "2024", "label": "2024年電力排碳係數",
//!     "value": 0.474, "unit": "kgCO2e/kWh",
//!     "source": { "publisher": "經濟部能源署", "title": "...", "reference": "..." },
//!     "published": "2025", "valid_from": 2024, "valid_to": 2024, "status": "unverified",
//!     "gas": "CO2", "aliases": ["R-410A"], "excluded": false, "note": "..." } ] }
//! ```
//! `valid_from` / `valid_to` are an inventory year (`2024`, `"2024"`) or a date
//! (`"2024-07-01"`); `null` means open-ended. Versions of one `id` must not overlap.
//! `published` is `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; `"unknown"` only for unverified entries.
//! An extra file entry with the same `id` and `version` as a loaded one replaces it.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::FactorError;

/// The embedded factor files (name, content).
const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "combustion-moenv-2024.json",
        include_str!("../../data/factors/combustion-moenv-2024.json"),
    ),
    (
        "heating-values.json",
        include_str!("../../data/factors/heating-values.json"),
    ),
    (
        "gwp-ar5.json",
        include_str!("../../data/factors/gwp-ar5.json"),
    ),
    (
        "grid-electricity.json",
        include_str!("../../data/factors/grid-electricity.json"),
    ),
    ("water.json", include_str!("../../data/factors/water.json")),
    (
        "septic.json",
        include_str!("../../data/factors/septic.json"),
    ),
];

/// Whether a value has been checked against a primary source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorStatus {
    Official,
    Unverified,
}

impl FactorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Official => "official",
            Self::Unverified => "unverified",
        }
    }
    /// zh-TW display.
    pub fn label(self) -> &'static str {
        match self {
            Self::Official => "已查證（官方來源）",
            Self::Unverified => "未查證",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "official" => Some(Self::Official),
            "unverified" => Some(Self::Unverified),
            _ => None,
        }
    }
}

/// The units a factor value may be given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactorUnit {
    /// kg of the gas per TJ of fuel (LHV basis).
    KgPerTj,
    KcalPerLitre,
    KcalPerM3,
    KcalPerKg,
    MjPerKg,
    JoulePerKcal,
    /// GWP: kg CO2e per kg of the gas.
    KgCo2ePerKg,
    KgCo2ePerKwh,
    KgCo2ePerM3,
    TonneCh4PerPersonHour,
}

impl FactorUnit {
    pub const ALL: [FactorUnit; 10] = [
        Self::KgPerTj,
        Self::KcalPerLitre,
        Self::KcalPerM3,
        Self::KcalPerKg,
        Self::MjPerKg,
        Self::JoulePerKcal,
        Self::KgCo2ePerKg,
        Self::KgCo2ePerKwh,
        Self::KgCo2ePerM3,
        Self::TonneCh4PerPersonHour,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::KgPerTj => "kg/TJ",
            Self::KcalPerLitre => "kcal/L",
            Self::KcalPerM3 => "kcal/m3",
            Self::KcalPerKg => "kcal/kg",
            Self::MjPerKg => "MJ/kg",
            Self::JoulePerKcal => "J/kcal",
            Self::KgCo2ePerKg => "kgCO2e/kg",
            Self::KgCo2ePerKwh => "kgCO2e/kWh",
            Self::KgCo2ePerM3 => "kgCO2e/m3",
            Self::TonneCh4PerPersonHour => "tCH4/person_hour",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

impl Serialize for FactorUnit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorSource {
    /// Publishing body, e.g. 環境部.
    pub publisher: String,
    /// Document title (and table).
    pub title: String,
    /// Document number or URL as given in the reference files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// One end of a validity period as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Bound {
    /// An inventory (calendar) year.
    Year(i32),
    Date(NaiveDate),
}

impl Bound {
    fn first_day(self) -> Option<NaiveDate> {
        match self {
            Self::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1),
            Self::Date(d) => Some(d),
        }
    }
    fn last_day(self) -> Option<NaiveDate> {
        match self {
            Self::Year(y) => NaiveDate::from_ymd_opt(y, 12, 31),
            Self::Date(d) => Some(d),
        }
    }
    pub fn display(self) -> String {
        match self {
            Self::Year(y) => format!("{y}年"),
            Self::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// One validated factor entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    pub id: String,
    pub version: String,
    /// zh-TW label.
    pub label: String,
    pub value: f64,
    pub unit: FactorUnit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gas: Option<String>,
    /// Names a refrigerant is known by (matched after normalisation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Not a regulated greenhouse gas in Taiwan: counted as 0, the value is disclosed apart.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub excluded: bool,
    pub source: FactorSource,
    pub published: String,
    pub valid_from: Option<Bound>,
    pub valid_to: Option<Bound>,
    pub status: FactorStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The file the entry came from (not part of the fingerprint).
    #[serde(skip)]
    pub file: String,
}

impl Factor {
    /// `id@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
    fn start(&self) -> NaiveDate {
        self.valid_from
            .and_then(Bound::first_day)
            .unwrap_or(NaiveDate::MIN)
    }
    fn end(&self) -> NaiveDate {
        self.valid_to
            .and_then(Bound::last_day)
            .unwrap_or(NaiveDate::MAX)
    }
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.start() <= date && date <= self.end()
    }
    /// The last year the entry is valid for, when it has an end.
    pub fn last_year(&self) -> Option<i32> {
        self.valid_to.and_then(Bound::last_day).map(|d| d.year())
    }
    /// zh-TW description of the validity period.
    pub fn period_label(&self) -> String {
        match (self.valid_from, self.valid_to) {
            (None, None) => "不限".to_string(),
            (Some(a), None) => format!("{}起", a.display()),
            (None, Some(b)) => format!("至{}", b.display()),
            (Some(a), Some(b)) if a == b => a.display(),
            (Some(a), Some(b)) => format!("{}至{}", a.display(), b.display()),
        }
    }
}

/// A row of the "factors" page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorView {
    pub id: String,
    pub version: String,
    /// `id@version`, as in `EmissionLine::factor_refs`.
    pub reference: String,
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub gas: Option<String>,
    pub source: FactorSource,
    pub published: String,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// zh-TW, e.g. 「2024年起」.
    pub valid_period: String,
    pub status: FactorStatus,
    /// zh-TW.
    pub status_label: String,
    pub note: Option<String>,
    pub file: String,
}

/// How a factor was picked for a date.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pick<'a> {
    /// A version covers the date.
    Exact(&'a Factor),
    /// The date is after every version (not yet published): the latest one is used.
    Later(&'a Factor),
    /// The date is before every version: the earliest one is used.
    Earlier(&'a Factor),
}

impl<'a> Pick<'a> {
    pub(crate) fn factor(self) -> &'a Factor {
        match self {
            Self::Exact(f) | Self::Later(f) | Self::Earlier(f) => f,
        }
    }
}

/// The loaded, validated factor data.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorLibrary {
    /// Sorted by id, then start of validity.
    factors: Vec<Factor>,
}

impl FactorLibrary {
    /// The embedded factor files.
    pub fn builtin() -> Result<Self, FactorError> {
        let files: Vec<(String, String)> = BUILTIN_FILES
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect();
        Self::from_files(&files)
    }

    /// A library made of the given files (name, JSON content), validated.
    pub fn from_files(files: &[(String, String)]) -> Result<Self, FactorError> {
        let mut factors = Vec::new();
        for (name, content) in files {
            for f in parse_file(name, content)? {
                if let Some(prev) = factors
                    .iter()
                    .find(|p: &&Factor| p.id == f.id && p.version == f.version)
                {
                    return Err(invalid(
                        &f.file,
                        &f.reference(),
                        format!("與 {} 中的項目重複（相同 id 與 version）", prev.file),
                    ));
                }
                factors.push(f);
            }
        }
        Self::finish(factors)
    }

    /// Adds the `*.json` files of `dir` (same format). An entry with the id and version of a
    /// loaded one replaces it; new versions are added. The result is validated again.
    pub fn with_extra_dir(self, dir: &Path) -> Result<Self, FactorError> {
        let dir_name = dir.display().to_string();
        let rd = std::fs::read_dir(dir).map_err(|e| FactorError::Io {
            file: dir_name.clone(),
            message: e.to_string(),
        })?;
        let mut paths = Vec::new();
        for item in rd {
            let item = item.map_err(|e| FactorError::Io {
                file: dir_name.clone(),
                message: e.to_string(),
            })?;
            let path = item.path();
            let is_json = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            if is_json && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut extra: Vec<(String, String)> = Vec::new();
        for path in paths {
            let name = path.display().to_string();
            let content = std::fs::read_to_string(&path).map_err(|e| FactorError::Io {
                file: name.clone(),
                message: e.to_string(),
            })?;
            extra.push((name, content));
        }
        self.with_extra_files(&extra)
    }

    /// As `with_extra_dir`, with the files given in memory (name, JSON content).
    pub fn with_extra_files(self, files: &[(String, String)]) -> Result<Self, FactorError> {
        let mut factors = self.factors;
        let mut added: Vec<(String, String, String)> = Vec::new(); // id, version, file
        for (name, content) in files {
            for f in parse_file(name, content)? {
                if let Some((_, _, file)) =
                    added.iter().find(|(i, v, _)| *i == f.id && *v == f.version)
                {
                    return Err(invalid(
                        &f.file,
                        &f.reference(),
                        format!("與 {file} 中的項目重複（相同 id 與 version）"),
                    ));
                }
                added.push((f.id.clone(), f.version.clone(), f.file.clone()));
                if let Some(slot) = factors
                    .iter_mut()
                    .find(|p| p.id == f.id && p.version == f.version)
                {
                    *slot = f;
                } else {
                    factors.push(f);
                }
            }
        }
        Self::finish(factors)
    }

    fn finish(mut factors: Vec<Factor>) -> Result<Self, FactorError> {
        factors.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then(a.start().cmp(&b.start()))
                .then(a.version.cmp(&b.version))
        });
        for (i, a) in factors.iter().enumerate() {
            for b in factors[i + 1..].iter().take_while(|b| b.id == a.id) {
                if a.start() <= b.end() && b.start() <= a.end() {
                    return Err(invalid(
                        &b.file,
                        &b.reference(),
                        format!(
                            "適用期間（{}）與 {}（{}，{}）重疊",
                            b.period_label(),
                            a.reference(),
                            a.period_label(),
                            a.file
                        ),
                    ));
                }
            }
        }
        Ok(Self { factors })
    }

    /// All entries, sorted by id then validity.
    pub fn factors(&self) -> &[Factor] {
        &self.factors
    }

    /// Every version of one id, oldest first.
    pub fn versions(&self, id: &str) -> Vec<&Factor> {
        self.factors.iter().filter(|f| f.id == id).collect()
    }

    /// The version of `id` whose validity covers `date`, if any.
    pub fn factor_for(&self, id: &str, date: NaiveDate) -> Option<&Factor> {
        self.factors.iter().find(|f| f.id == id && f.covers(date))
    }

    /// The version to use for `date`: the covering one; else the latest one ending before the
    /// date; else the earliest one.
    pub(crate) fn pick(&self, id: &str, date: NaiveDate) -> Option<Pick<'_>> {
        let versions = self.versions(id);
        if let Some(f) = versions.iter().find(|f| f.covers(date)) {
            return Some(Pick::Exact(f));
        }
        if let Some(f) = versions
            .iter()
            .filter(|f| f.end() < date)
            .max_by_key(|f| f.end())
        {
            return Some(Pick::Later(f));
        }
        versions.first().map(|f| Pick::Earlier(f))
    }

    /// SHA-256 (hex) of the loaded data; changes when any entry changes.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for f in &self.factors {
            // Serialising plain data cannot fail; an error would only drop that entry's bytes,
            // so the id and version are hashed as well.
            hasher.update(f.id.as_bytes());
            hasher.update([0u8]);
            hasher.update(f.version.as_bytes());
            hasher.update([0u8]);
            if let Ok(bytes) = serde_json::to_vec(f) {
                hasher.update(&bytes);
            }
            hasher.update([0xffu8]);
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Rows for the "factors" page.
    pub fn entries(&self) -> Vec<FactorView> {
        self.factors
            .iter()
            .map(|f| FactorView {
                id: f.id.clone(),
                version: f.version.clone(),
                reference: f.reference(),
                label: f.label.clone(),
                value: f.value,
                unit: f.unit.as_str().to_string(),
                gas: f.gas.clone(),
                source: f.source.clone(),
                published: if f.published == "unknown" {
                    "不詳".to_string()
                } else {
                    f.published.clone()
                },
                valid_from: f.valid_from.map(Bound::display),
                valid_to: f.valid_to.map(Bound::display),
                valid_period: f.period_label(),
                status: f.status,
                status_label: f.status.label().to_string(),
                note: f.note.clone(),
                file: f.file.clone(),
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    #[allow(dead_code)]
    schema: Option<u32>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    entries: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Option<String>,
    version: Option<String>,
    label: Option<String>,
    value: Option<f64>,
    unit: Option<String>,
    #[serde(default)]
    gas: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    excluded: Option<bool>,
    source: Option<RawSource>,
    published: Option<String>,
    #[serde(default)]
    valid_from: Option<serde_json::Value>,
    #[serde(default)]
    valid_to: Option<serde_json::Value>,
    status: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct RawSource {
    publisher: Option<String>,
    title: Option<String>,
    reference: Option<String>,
    url: Option<String>,
}

fn invalid(file: &str, entry: &str, reason: impl Into<String>) -> FactorError {
    FactorError::Invalid {
        file: file.to_string(),
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn parse_file(name: &str, content: &str) -> Result<Vec<Factor>, FactorError> {
    let raw: RawFile = serde_json::from_str(content).map_err(|e| FactorError::Parse {
        file: name.to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(raw.entries.len());
    for (i, value) in raw.entries.into_iter().enumerate() {
        let fallback = value
            .get("id")
            .and_then(|v| v.as_str())
            .map(|id| {
                let version = value.get("version").and_then(|v| v.as_str()).unwrap_or("?");
                format!("{id}@{version}")
            })
            .unwrap_or_else(|| format!("#{}", i + 1));
        let entry: RawEntry = serde_json::from_value(value)
            .map_err(|e| invalid(name, &fallback, format!("欄位格式錯誤：{e}")))?;
        out.push(validate_entry(name, i, entry)?);
    }
    Ok(out)
}

fn validate_entry(file: &str, index: usize, e: RawEntry) -> Result<Factor, FactorError> {
    let pos = format!("#{}", index + 1);
    let id = non_empty(e.id).ok_or_else(|| invalid(file, &pos, "缺少 id"))?;
    let version = non_empty(e.version).ok_or_else(|| invalid(file, &id, "缺少 version"))?;
    let entry = format!("{id}@{version}");
    let err = |reason: String| invalid(file, &entry, reason);

    let label = non_empty(e.label).ok_or_else(|| err("缺少 label（中文名稱）".into()))?;
    let value = e.value.ok_or_else(|| err("缺少 value".into()))?;
    if !value.is_finite() || value < 0.0 {
        return Err(err(format!("數值 {value} 無效（須為非負有限數）")));
    }
    let unit_raw = non_empty(e.unit).ok_or_else(|| err("缺少 unit".into()))?;
    let unit =
        FactorUnit::parse(&unit_raw).ok_or_else(|| err(format!("未知的單位「{unit_raw}」")))?;

    let source = e.source.ok_or_else(|| err("缺少來源（source）".into()))?;
    let publisher =
        non_empty(source.publisher).ok_or_else(|| err("來源缺少發布機關（publisher）".into()))?;
    let title = non_empty(source.title).ok_or_else(|| err("來源缺少文件名稱（title）".into()))?;
    let reference = match (non_empty(source.reference), non_empty(source.url)) {
        (Some(r), Some(u)) => Some(format!("{r}；{u}")),
        (Some(r), None) => Some(r),
        (None, u) => u,
    };

    let status_raw = non_empty(e.status).ok_or_else(|| err("缺少 status".into()))?;
    let status = FactorStatus::parse(&status_raw).ok_or_else(|| {
        err(format!(
            "未知的狀態「{status_raw}」（應為 official 或 unverified）"
        ))
    })?;

    let published =
        non_empty(e.published).ok_or_else(|| err("缺少發布日期（published）".into()))?;
    if published == "unknown" {
        if status != FactorStatus::Unverified {
            return Err(err("發布日期不詳的係數必須標示為 unverified".into()));
        }
    } else if !valid_published(&published) {
        return Err(err(format!(
            "發布日期「{published}」格式錯誤（YYYY、YYYY-MM 或 YYYY-MM-DD）"
        )));
    }

    let valid_from = parse_bound(e.valid_from).map_err(|m| err(format!("valid_from {m}")))?;
    let valid_to = parse_bound(e.valid_to).map_err(|m| err(format!("valid_to {m}")))?;
    if let (Some(a), Some(b)) = (
        valid_from.and_then(Bound::first_day),
        valid_to.and_then(Bound::last_day),
    ) {
        if a > b {
            return Err(err("valid_from 晚於 valid_to".into()));
        }
    }

    let aliases: Vec<String> = e
        .aliases
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();

    Ok(Factor {
        id,
        version,
        label,
        value,
        unit,
        gas: non_empty(e.gas),
        aliases,
        excluded: e.excluded.unwrap_or(false),
        source: FactorSource {
            publisher,
            title,
            reference,
        },
        published,
        valid_from,
        valid_to,
        status,
        note: non_empty(e.note),
        file: file.to_string(),
    })
}

fn valid_published(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize| p.len() == len && p.chars().all(|c| c.is_ascii_digit());
    match parts.as_slice() {
        [y] => num(y, 4),
        [y, m] => num(y, 4) && num(m, 2) && matches!(m.parse::<u32>(), Ok(1..=12)),
        [_, _, _] => NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        _ => false,
    }
}

fn parse_bound(v: Option<serde_json::Value>) -> Result<Option<Bound>, String> {
    let year_ok = |y: i64| (1900..=2200).contains(&y);
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(y) if year_ok(y) => Ok(Some(Bound::Year(y as i32))),
            _ => Err(format!("「{n}」不是有效年份")),
        },
        Some(serde_json::Value::String(s)) => {
            let s = s.trim();
            if s.len() == 4 && s.chars().all(|c| c.is_ascii_digit()) {
                match s.parse::<i64>() {
                    Ok(y) if year_ok(y) => Ok(Some(Bound::Year(y as i32))),
                    _ => Err(format!("「{s}」不是有效年份")),
                }
            } else {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| Some(Bound::Date(d)))
                    .map_err(|_| format!("「{s}」不是年份或日期（YYYY-MM-DD）"))
            }
        }
        Some(other) => Err(format!("「{other}」不是年份或日期")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_json(id: &str, version: &str, from: &str, to: &str) -> String {
        format!(
            r#"{{"id":"{id}","version":"{version}","label":"測試","value":1.0,"unit":"kgCO2e/kWh",
            "source":{{"publisher":"測試機關","title":"測試文件"}},"published":"2025-04-30",
            "valid_from":{from},"valid_to":{to},"status":"official"}}"#
        )
    }

    fn file(entries: &[String]) -> String {
        format!(r#"{{"schema":1,"entries":[{}]}}"#, entries.join(","))
    }

    #[test]
    fn builtin_files_load_and_every_entry_has_a_source() {
        let lib = FactorLibrary::builtin().expect("builtin factors load");
        assert!(lib.factors().len() >= 40, "{} entries", lib.factors().len());
        for f in lib.factors() {
            assert!(!f.source.publisher.is_empty(), "{}", f.reference());
            assert!(!f.source.title.is_empty(), "{}", f.reference());
            assert!(!f.label.is_empty());
        }
        // Every embedded file contributes entries.
        for (name, _) in BUILTIN_FILES {
            assert!(lib.factors().iter().any(|f| f.file == *name), "{name}");
        }
        let views = lib.entries();
        assert_eq!(views.len(), lib.factors().len());
        assert!(views
            .iter()
            .all(|v| !v.source.publisher.is_empty() && !v.valid_period.is_empty()));
    }

    #[test]
    fn builtin_values_match_the_reference_files() {
        let lib = FactorLibrary::builtin().unwrap();
        let d = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        let v = |id: &str| lib.factor_for(id, d).map(|f| f.value);
        assert_eq!(v("combustion.motor_gasoline.mobile.co2"), Some(69300.0));
        assert_eq!(v("combustion.diesel.stationary.ch4"), Some(3.0));
        assert_eq!(v("combustion.natural_gas.stationary.co2"), Some(56100.0));
        assert_eq!(v("lhv.motor_gasoline"), Some(7609.0));
        assert_eq!(v("gwp.ch4_fossil"), Some(30.0));
        assert_eq!(v("electricity.grid.tw"), Some(0.474));
        // The superseded gasoline heating value is kept as its own version.
        let old = lib.factor_for(
            "lhv.motor_gasoline",
            NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
        );
        assert_eq!(old.map(|f| f.value), Some(7800.0));
        // UNVERIFIED flags survive loading.
        for id in [
            "lhv.natural_gas",
            "lhv.lpg.litre",
            "water.tap.taiwan_water",
            "septic.ch4_per_person_hour",
        ] {
            assert!(
                lib.versions(id)
                    .iter()
                    .all(|f| f.status == FactorStatus::Unverified),
                "{id}"
            );
        }
        let grid2023 = lib.factor_for(
            "electricity.grid.tw",
            NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
        );
        assert_eq!(
            grid2023.map(|f| (f.value, f.status)),
            Some((0.494, FactorStatus::Official))
        );
        let grid2024 = lib.factor_for("electricity.grid.tw", d).unwrap();
        assert_eq!(grid2024.status, FactorStatus::Unverified);
    }

    #[test]
    fn unknown_unit_is_rejected_naming_file_and_entry() {
        let bad =
            file(&[entry_json("x.y", "1", "2020", "2020").replace("kgCO2e/kWh", "kgCO2/furlong")]);
        let err = FactorLibrary::from_files(&[("bad.json".into(), bad)]).unwrap_err();
        match &err {
            FactorError::Invalid {
                file,
                entry,
                reason,
            } => {
                assert_eq!(file, "bad.json");
                assert_eq!(entry, "x.y@1");
                assert!(reason.contains("kgCO2/furlong"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("bad.json"));
    }

    #[test]
    fn missing_source_is_rejected() {
        let text = entry_json("x.y", "1", "2020", "2020").replace(
            r#""source":{"publisher":"測試機關","title":"測試文件"},"#,
            "",
        );
        let err = FactorLibrary::from_files(&[("nosrc.json".into(), file(&[text]))]).unwrap_err();
        assert!(
            matches!(&err, FactorError::Invalid { file, entry, reason }
            if file == "nosrc.json" && entry == "x.y@1" && reason.contains("來源")),
            "{err:?}"
        );
        // An empty publisher is as bad as none.
        let text = entry_json("x.y", "1", "2020", "2020").replace("測試機關", " ");
        let err = FactorLibrary::from_files(&[("f.json".into(), file(&[text]))]).unwrap_err();
        assert!(err.to_string().contains("publisher"), "{err}");
    }

    #[test]
    fn overlapping_periods_for_one_id_are_rejected() {
        let a = entry_json("grid", "2023", "2023", "2023");
        let b = entry_json("grid", "2023b", "\"2023-07-01\"", "null");
        let err =
            FactorLibrary::from_files(&[("o.json".into(), file(&[a.clone(), b]))]).unwrap_err();
        assert!(
            matches!(&err, FactorError::Invalid { entry, reason, .. }
            if entry == "grid@2023b" && reason.contains("重疊")),
            "{err:?}"
        );
        // Adjacent periods are fine; so are equal periods of different ids.
        let c = entry_json("grid", "2024", "2024", "null");
        let d = entry_json("other", "1", "2023", "2023");
        assert!(FactorLibrary::from_files(&[("ok.json".into(), file(&[a, c, d]))]).is_ok());
    }

    #[test]
    fn other_validation_errors() {
        let cases = [
            (
                entry_json("a", "1", "2020", "2020").replace("official", "draft"),
                "draft",
            ),
            (entry_json("a", "1", "2021", "2020"), "晚於"),
            (entry_json("a", "1", "\"20x0\"", "null"), "valid_from"),
            (
                entry_json("a", "1", "2020", "2020").replace("2025-04-30", "unknown"),
                "unverified",
            ),
            (
                entry_json("a", "1", "2020", "2020").replace("1.0", "-1.0"),
                "-1",
            ),
            (
                entry_json("a", "1", "2020", "2020").replace("\"label\"", "\"lable\""),
                "欄位",
            ),
        ];
        for (text, needle) in cases {
            let err = FactorLibrary::from_files(&[("v.json".into(), file(&[text]))]).unwrap_err();
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
        let err = FactorLibrary::from_files(&[("j.json".into(), "{not json".into())]).unwrap_err();
        assert!(matches!(err, FactorError::Parse { .. }));
        let twice = entry_json("a", "1", "2020", "2020");
        let err = FactorLibrary::from_files(&[("t.json".into(), file(&[twice.clone(), twice]))])
            .unwrap_err();
        assert!(err.to_string().contains("重複"), "{err}");
    }

    #[test]
    fn fingerprint_changes_when_a_factor_changes() {
        let base = FactorLibrary::builtin().unwrap();
        let again = FactorLibrary::builtin().unwrap();
        assert_eq!(base.fingerprint(), again.fingerprint());
        assert_eq!(base.fingerprint().len(), 64);
        // Override one value with the same id and version.
        let text =
            entry_json("electricity.grid.tw", "2024", "2024", "2024").replace("1.0", "0.475");
        let changed = base
            .clone()
            .with_extra_files(&[("x.json".into(), file(&[text]))])
            .unwrap();
        assert_ne!(base.fingerprint(), changed.fingerprint());
        assert_eq!(changed.factors().len(), base.factors().len());
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let f = changed.factor_for("electricity.grid.tw", d).unwrap();
        assert_eq!(
            (f.value, f.status, f.file.as_str()),
            (0.475, FactorStatus::Official, "x.json")
        );
    }

    #[test]
    fn extra_dir_is_read_and_validated() {
        let dir =
            std::env::temp_dir().join(format!("ecosphere-factors-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let new = entry_json("electricity.grid.tw", "2025", "2025", "2025");
        std::fs::write(dir.join("grid-2025.json"), file(&[new])).unwrap();
        std::fs::write(dir.join("readme.txt"), "ignored").unwrap();
        let lib = FactorLibrary::builtin()
            .unwrap()
            .with_extra_dir(&dir)
            .unwrap();
        let d = NaiveDate::from_ymd_opt(2025, 5, 1).unwrap();
        assert_eq!(
            lib.factor_for("electricity.grid.tw", d)
                .map(|f| f.version.as_str()),
            Some("2025")
        );
        // An overlapping new version is an error naming the file.
        let bad = entry_json("electricity.grid.tw", "2024-rev", "2024", "2024");
        std::fs::write(dir.join("z-bad.json"), file(&[bad])).unwrap();
        let err = FactorLibrary::builtin()
            .unwrap()
            .with_extra_dir(&dir)
            .unwrap_err();
        assert!(err.to_string().contains("z-bad.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let missing = FactorLibrary::builtin()
            .unwrap()
            .with_extra_dir(&dir)
            .unwrap_err();
        assert!(matches!(missing, FactorError::Io { .. }));
    }

    #[test]
    fn pick_prefers_covering_then_latest_then_earliest() {
        let lib = FactorLibrary::builtin().unwrap();
        let at = |y, m| NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        assert!(
            matches!(lib.pick("electricity.grid.tw", at(2022, 5)), Some(Pick::Exact(f)) if f.version == "2022")
        );
        assert!(
            matches!(lib.pick("electricity.grid.tw", at(2026, 1)), Some(Pick::Later(f)) if f.version == "2024")
        );
        assert!(
            matches!(lib.pick("electricity.grid.tw", at(2018, 1)), Some(Pick::Earlier(f)) if f.version == "2019")
        );
        assert!(lib.pick("no.such.id", at(2024, 1)).is_none());
    }
}
