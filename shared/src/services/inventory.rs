//! The inventory of a company and year, aggregated from the emission lines at read time
//! (so the totals always equal the sum of their lines): by scope, ISO 14064-1 category,
//! month and source; hotspots; year-on-year change split into an activity effect and a
//! factor effect.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::inventory::{Activity, ActivityStatus, EmissionRecord};
use crate::domain::{ActivityKind, Unit};

/// One emission source (kind + detail) over the year.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceTotal {
    pub key: String,
    pub kind: ActivityKind,
    pub detail: Option<String>,
    pub label: String,
    pub scope: u8,
    pub category: u8,
    pub ghg_protocol: String,
    pub quantity: f64,
    pub unit: Unit,
    pub co2_kg: f64,
    pub ch4_kg: f64,
    pub n2o_kg: f64,
    pub other_kg_co2e: f64,
    pub kg_co2e: f64,
    pub excluded_kg_co2e: f64,
    /// Share of the year's total, 0..1.
    pub share: f64,
    pub provisional: bool,
    pub unverified: bool,
    /// Bills (documents) behind it.
    pub documents: usize,
    /// The factors used (`id@version`).
    pub factor_refs: Vec<String>,
    /// kgCO2e per unit of activity (the implied factor): for the year-on-year split.
    pub implied_factor: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthTotal {
    pub month: String,
    /// kgCO2e of scopes 1, 2, 3.
    pub by_scope: [f64; 3],
    pub total: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct YearOnYear {
    pub previous_year: i32,
    pub previous_total: f64,
    pub change: f64,
    /// The part of the change due to using more or less (at last year's factors).
    pub activity_effect: f64,
    /// The part due to different factors (this year's quantities).
    pub factor_effect: f64,
    pub rows: Vec<YoyRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct YoyRow {
    pub label: String,
    pub unit: Unit,
    pub previous_quantity: f64,
    pub quantity: f64,
    pub previous_kg: f64,
    pub kg: f64,
    pub activity_effect: f64,
    pub factor_effect: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub tax_id: String,
    pub year: i32,
    pub total_kg_co2e: f64,
    pub excluded_kg_co2e: f64,
    /// (scope, kgCO2e) for scopes 1..=3.
    pub by_scope: Vec<(u8, f64)>,
    /// (ISO category, kgCO2e) for categories 1..=6.
    pub by_category: Vec<(u8, f64)>,
    pub monthly: Vec<MonthTotal>,
    /// Largest first.
    pub sources: Vec<SourceTotal>,
    /// The sources that make up at least 80% of the total (largest first).
    pub hotspots: Vec<SourceTotal>,
    pub yoy: Option<YearOnYear>,
    pub accepted: usize,
    pub needs_review: usize,
    pub duplicates: usize,
    pub provisional: bool,
    pub unverified: bool,
    pub notes: Vec<String>,
    /// Results recomputed because a factor was published or corrected (filled by the caller).
    pub restatements: Vec<crate::domain::inventory::Restatement>,
}

fn source_key(kind: ActivityKind, detail: &Option<String>) -> String {
    format!("{}:{}", kind.as_str(), detail.as_deref().unwrap_or(""))
}

fn sources(lines: &[EmissionRecord]) -> Vec<SourceTotal> {
    let mut map: BTreeMap<String, (SourceTotal, std::collections::BTreeSet<String>)> = BTreeMap::new();
    for l in lines {
        let key = source_key(l.kind, &l.detail);
        let entry = map.entry(key.clone()).or_insert_with(|| {
            let label = match &l.detail {
                Some(d) if !d.is_empty() => format!("{}（{}）", l.kind.label(), d),
                _ => l.kind.label().to_string(),
            };
            (
                SourceTotal {
                    key,
                    kind: l.kind,
                    detail: l.detail.clone(),
                    label,
                    scope: l.scope,
                    category: l.category,
                    ghg_protocol: l.ghg_protocol.clone(),
                    quantity: 0.0,
                    unit: l.unit,
                    co2_kg: 0.0,
                    ch4_kg: 0.0,
                    n2o_kg: 0.0,
                    other_kg_co2e: 0.0,
                    kg_co2e: 0.0,
                    excluded_kg_co2e: 0.0,
                    share: 0.0,
                    provisional: false,
                    unverified: false,
                    documents: 0,
                    factor_refs: Vec::new(),
                    implied_factor: 0.0,
                },
                Default::default(),
            )
        });
        let s = &mut entry.0;
        s.quantity += l.quantity;
        s.co2_kg += l.co2_kg;
        s.ch4_kg += l.ch4_kg;
        s.n2o_kg += l.n2o_kg;
        s.other_kg_co2e += l.other_kg_co2e;
        s.kg_co2e += l.kg_co2e;
        s.excluded_kg_co2e += l.excluded_kg_co2e;
        s.provisional |= l.provisional;
        s.unverified |= l.unverified;
        for f in &l.factor_refs {
            if !s.factor_refs.contains(f) {
                s.factor_refs.push(f.clone());
            }
        }
        entry.1.insert(l.document.clone());
    }
    let total: f64 = map.values().map(|(s, _)| s.kg_co2e).sum();
    let mut out: Vec<SourceTotal> = map
        .into_values()
        .map(|(mut s, docs)| {
            s.documents = docs.len();
            s.share = if total > 0.0 { s.kg_co2e / total } else { 0.0 };
            s.implied_factor = if s.quantity > 0.0 { s.kg_co2e / s.quantity } else { 0.0 };
            s
        })
        .collect();
    out.sort_by(|a, b| b.kg_co2e.partial_cmp(&a.kg_co2e).unwrap_or(std::cmp::Ordering::Equal).then(a.key.cmp(&b.key)));
    out
}

/// Builds the summary of `year` from its lines (and the previous year's, for the
/// comparison) and the company's activities (for the review counts).
pub fn summarize(tax_id: &str, year: i32, lines: &[EmissionRecord], previous: &[EmissionRecord], activities: &[Activity]) -> Summary {
    let lines: Vec<&EmissionRecord> = lines.iter().filter(|l| l.year == year).collect();
    let owned: Vec<EmissionRecord> = lines.iter().map(|l| (*l).clone()).collect();
    let total: f64 = owned.iter().map(|l| l.kg_co2e).sum();
    let excluded: f64 = owned.iter().map(|l| l.excluded_kg_co2e).sum();
    let by_scope = (1..=3u8).map(|s| (s, owned.iter().filter(|l| l.scope == s).map(|l| l.kg_co2e).sum())).collect();
    let by_category = (1..=6u8).map(|c| (c, owned.iter().filter(|l| l.category == c).map(|l| l.kg_co2e).sum())).collect();
    let monthly = (1..=12)
        .map(|m| {
            let month = format!("{year}-{m:02}");
            let mut by_scope = [0.0; 3];
            for l in owned.iter().filter(|l| l.month == month) {
                if (1..=3).contains(&l.scope) {
                    by_scope[(l.scope - 1) as usize] += l.kg_co2e;
                }
            }
            MonthTotal { month, total: by_scope.iter().sum(), by_scope }
        })
        .collect();
    let srcs = sources(&owned);
    let mut hotspots = Vec::new();
    let mut cumulative = 0.0;
    for s in &srcs {
        if total <= 0.0 || cumulative >= 0.8 * total - 1e-9 {
            break;
        }
        cumulative += s.kg_co2e;
        hotspots.push(s.clone());
    }
    let prev_lines: Vec<EmissionRecord> = previous.iter().filter(|l| l.year == year - 1).cloned().collect();
    let yoy = (!prev_lines.is_empty()).then(|| year_on_year(year - 1, &sources(&prev_lines), &srcs));
    let in_year = |a: &&Activity| a.status != ActivityStatus::Rejected;
    let count = |st: ActivityStatus| activities.iter().filter(in_year).filter(|a| a.status == st).count();
    let provisional = owned.iter().any(|l| l.provisional);
    let unverified = owned.iter().any(|l| l.unverified);
    let mut notes: Vec<String> = Vec::new();
    for l in &owned {
        for n in &l.notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
    }
    if excluded > 0.0 {
        notes.push(format!(
            "HCFC 冷媒（如 R-22）不屬我國管制之溫室氣體，依環境部作法以 0 計入總量；其排放 {:.2} kgCO2e 另行揭露。",
            excluded
        ));
    }
    Summary {
        tax_id: tax_id.to_string(),
        year,
        total_kg_co2e: total,
        excluded_kg_co2e: excluded,
        by_scope,
        by_category,
        monthly,
        sources: srcs,
        hotspots,
        yoy,
        accepted: count(ActivityStatus::Accepted),
        needs_review: count(ActivityStatus::NeedsReview),
        duplicates: count(ActivityStatus::Duplicate),
        provisional,
        unverified,
        notes,
        restatements: Vec::new(),
    }
}

/// ΔE = Σ (A₁ − A₀)·F₀ (activity) + Σ A₁·(F₁ − F₀) (factor), per source; a new source is
/// all activity effect, a source gone is −E₀ of activity effect. The two add up exactly.
fn year_on_year(previous_year: i32, prev: &[SourceTotal], cur: &[SourceTotal]) -> YearOnYear {
    let mut keys: Vec<&str> = prev.iter().chain(cur.iter()).map(|s| s.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    let mut rows = Vec::new();
    for k in keys {
        let p = prev.iter().find(|s| s.key == k);
        let c = cur.iter().find(|s| s.key == k);
        let (a0, e0) = p.map_or((0.0, 0.0), |s| (s.quantity, s.kg_co2e));
        let (a1, e1) = c.map_or((0.0, 0.0), |s| (s.quantity, s.kg_co2e));
        let f1 = c.map_or(0.0, |s| s.implied_factor);
        let f0 = p.map_or(f1, |s| s.implied_factor);
        let (activity, factor) = match (p, c) {
            (Some(_), Some(_)) => ((a1 - a0) * f0, a1 * (f1 - f0)),
            (None, Some(_)) => (e1, 0.0),
            (Some(_), None) => (-e0, 0.0),
            (None, None) => (0.0, 0.0),
        };
        let any = c.or(p).expect("one of them");
        rows.push(YoyRow {
            label: any.label.clone(),
            unit: any.unit,
            previous_quantity: a0,
            quantity: a1,
            previous_kg: e0,
            kg: e1,
            activity_effect: activity,
            factor_effect: factor,
        });
    }
    let previous_total: f64 = prev.iter().map(|s| s.kg_co2e).sum();
    let total: f64 = cur.iter().map(|s| s.kg_co2e).sum();
    YearOnYear {
        previous_year,
        previous_total,
        change: total - previous_total,
        activity_effect: rows.iter().map(|r| r.activity_effect).sum(),
        factor_effect: rows.iter().map(|r| r.factor_effect).sum(),
        rows,
    }
}

/// The export document of CONTRACT.md: `{"activities": [...], "emissions": [...],
/// "review": [...]}` (plus `duplicates` and `files`). Activities are the counted and
/// the waiting ones (`accepted` / `needs_review`); duplicates are listed apart.
pub fn export_document(
    files: &[crate::domain::inventory::FileRecord],
    activities: &[Activity],
    lines: &[EmissionRecord],
) -> serde_json::Value {
    use serde_json::json;
    let act = |a: &Activity| {
        json!({
            "id": a.id,
            "kind": a.kind.map(|k| k.as_str()),
            "detail": a.detail,
            "quantity": a.quantity,
            "unit": a.unit.map(|u| u.as_str()),
            "period_start": a.period_start,
            "period_end": a.period_end,
            "meter_id": a.meter_id,
            "invoice_number": a.invoice_number,
            "amount_ntd": a.amount_ntd,
            "status": a.status.as_str(),
            "confidence": a.confidence,
            "method": a.method.as_str(),
            "issues": a.issues,
            "batch_id": a.batch_id,
            "document": { "blob_key": a.document, "page": a.page },
            "duplicate_of": a.duplicate_of,
            "confirmed_by": a.confirmed_by.as_ref().map(|_| true),
        })
    };
    let activities_json: Vec<_> =
        activities.iter().filter(|a| matches!(a.status, ActivityStatus::Accepted | ActivityStatus::NeedsReview)).map(act).collect();
    let duplicates: Vec<_> = activities.iter().filter(|a| a.status == ActivityStatus::Duplicate).map(act).collect();
    let review: Vec<_> = activities
        .iter()
        .filter(|a| a.status == ActivityStatus::NeedsReview)
        .map(|a| {
            json!({
                "activity_id": a.id,
                "kind": a.kind.map(|k| k.as_str()),
                "issues": a.issues,
                "document": { "blob_key": a.document, "page": a.page },
                "values": { "quantity": a.quantity, "unit": a.unit.map(|u| u.as_str()), "period_start": a.period_start,
                            "period_end": a.period_end, "meter_id": a.meter_id, "amount_ntd": a.amount_ntd },
            })
        })
        .chain(files.iter().filter(|f| f.status == crate::domain::inventory::FileStatus::Failed).map(|f| {
            json!({ "file": f.name, "batch_id": f.batch_id, "document": { "blob_key": f.blob_key }, "status": "failed", "issues": [f.reason] })
        }))
        .collect();
    let emissions: Vec<_> = lines
        .iter()
        .map(|l| {
            json!({
                "activity_id": l.activity_id,
                "kind": l.kind.as_str(),
                "detail": l.detail,
                "month": l.month,
                "quantity": l.quantity,
                "unit": l.unit.as_str(),
                "co2_kg": l.co2_kg,
                "ch4_kg": l.ch4_kg,
                "n2o_kg": l.n2o_kg,
                "other_kg_co2e": l.other_kg_co2e,
                "kg_co2e": l.kg_co2e,
                "excluded_kg_co2e": l.excluded_kg_co2e,
                "scope": l.scope,
                "category": l.category,
                "ghg_protocol": l.ghg_protocol,
                "source": l.source_label,
                "document": l.document,
                "provenance": {
                    "factors": l.factor_refs,
                    "formula": l.formula,
                    "library": l.library,
                    "provisional": l.provisional,
                    "unverified": l.unverified,
                    "notes": l.notes,
                },
            })
        })
        .collect();
    let files_json: Vec<_> = files
        .iter()
        .map(|f| {
            json!({ "batch_id": f.batch_id, "name": f.name, "blob_key": f.blob_key, "status": f.status.as_str(),
                    "reason": f.reason, "activities": f.activities, "needs_review": f.needs_review, "duplicates": f.duplicates,
                    "method": f.method.map(|m| m.as_str()) })
        })
        .collect();
    json!({ "activities": activities_json, "emissions": emissions, "review": review, "duplicates": duplicates, "files": files_json })
}

/// The emission lines as CSV (UTF-8 with BOM so Excel opens it in zh-TW).
pub fn emissions_csv(lines: &[EmissionRecord]) -> String {
    fn cell(s: &str) -> String {
        // Quote everything; neutralise spreadsheet formulas.
        let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() { format!("'{s}") } else { s.to_string() };
        format!("\"{}\"", s.replace('"', "\"\""))
    }
    let mut out = String::from("\u{feff}");
    out.push_str("月份,排放源,細項,活動數據,單位,範疇,ISO類別,GHG Protocol,CO2(kg),CH4(kg),N2O(kg),其他(kgCO2e),CO2e(kg),暫用係數,未查證係數,係數,計算式,單據\r\n");
    for l in lines {
        let row = [
            l.month.clone(),
            l.kind.label().to_string(),
            l.detail.clone().unwrap_or_default(),
            format!("{:.4}", l.quantity),
            l.unit.as_str().to_string(),
            l.scope.to_string(),
            l.category.to_string(),
            l.ghg_protocol.clone(),
            format!("{:.4}", l.co2_kg),
            format!("{:.6}", l.ch4_kg),
            format!("{:.6}", l.n2o_kg),
            format!("{:.4}", l.other_kg_co2e),
            format!("{:.4}", l.kg_co2e),
            if l.provisional { "是" } else { "否" }.to_string(),
            if l.unverified { "是" } else { "否" }.to_string(),
            l.factor_refs.join(" "),
            l.formula.clone(),
            l.document.clone(),
        ];
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: ActivityKind, month: &str, q: f64, kg: f64, scope: u8, cat: u8, doc: &str) -> EmissionRecord {
        EmissionRecord {
            tax_id: "22099131".into(),
            activity_id: format!("a-{doc}"),
            kind,
            detail: None,
            document: doc.into(),
            month: month.into(),
            year: month[..4].parse().unwrap(),
            quantity: q,
            unit: kind.units()[0],
            co2_kg: kg,
            ch4_kg: 0.0,
            n2o_kg: 0.0,
            other_kg_co2e: 0.0,
            kg_co2e: kg,
            excluded_kg_co2e: 0.0,
            scope,
            category: cat,
            ghg_protocol: String::new(),
            source_label: String::new(),
            factor_refs: vec![],
            provisional: false,
            unverified: false,
            notes: vec![],
            formula: String::new(),
            library: "x".into(),
            computed_at: String::new(),
        }
    }

    #[test]
    fn totals_equal_the_sum_of_lines_and_hotspots_reach_80_percent() {
        let lines = vec![
            line(ActivityKind::Electricity, "2025-01", 1000.0, 474.0, 2, 2, "d1"),
            line(ActivityKind::Electricity, "2025-02", 1000.0, 474.0, 2, 2, "d1"),
            line(ActivityKind::Gasoline, "2025-02", 100.0, 229.9, 1, 1, "d2"),
            line(ActivityKind::Water, "2025-03", 50.0, 7.6, 3, 4, "d3"),
        ];
        let s = summarize("22099131", 2025, &lines, &[], &[]);
        let sum: f64 = lines.iter().map(|l| l.kg_co2e).sum();
        assert!((s.total_kg_co2e - sum).abs() < 1e-9);
        assert!((s.by_scope.iter().map(|x| x.1).sum::<f64>() - sum).abs() < 1e-9);
        assert!((s.by_category.iter().map(|x| x.1).sum::<f64>() - sum).abs() < 1e-9);
        assert!((s.monthly.iter().map(|m| m.total).sum::<f64>() - sum).abs() < 1e-9);
        assert_eq!(s.monthly.len(), 12);
        assert_eq!(s.sources[0].kind, ActivityKind::Electricity);
        assert_eq!(s.sources[0].documents, 1);
        // Electricity alone is 948 / 1185.5 = 79.97%, short of 80%: gasoline joins it.
        assert_eq!(s.hotspots.len(), 2);
        assert_eq!(s.hotspots[1].kind, ActivityKind::Gasoline);
        assert!(s.yoy.is_none());
    }

    #[test]
    fn year_on_year_effects_add_up_to_the_change() {
        let prev = vec![
            line(ActivityKind::Electricity, "2024-01", 1000.0, 494.0, 2, 2, "p1"),
            line(ActivityKind::Diesel, "2024-05", 100.0, 264.6, 1, 1, "p2"),
        ];
        let cur = vec![
            line(ActivityKind::Electricity, "2025-01", 1200.0, 1200.0 * 0.474, 2, 2, "c1"),
            line(ActivityKind::Gasoline, "2025-02", 50.0, 114.95, 1, 1, "c2"),
        ];
        let s = summarize("22099131", 2025, &cur, &prev, &[]);
        let y = s.yoy.expect("yoy");
        assert!((y.activity_effect + y.factor_effect - y.change).abs() < 1e-9);
        let e = y.rows.iter().find(|r| r.label == ActivityKind::Electricity.label()).unwrap();
        // Activity: (1200 − 1000) × 0.494 = 98.8; factor: 1200 × (0.474 − 0.494) = −24.0.
        assert!((e.activity_effect - 98.8).abs() < 1e-9);
        assert!((e.factor_effect + 24.0).abs() < 1e-9);
        let d = y.rows.iter().find(|r| r.label == ActivityKind::Diesel.label()).unwrap();
        assert!((d.activity_effect + 264.6).abs() < 1e-9);
    }
}
