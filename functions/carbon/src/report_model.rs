//! From a company's `Summary` to the report renderer's `ReportModel`.

use chrono::{DateTime, FixedOffset, Utc};
use ecosphere::factors::{category_label, scope_label, FactorLibrary, FactorStatus as LibStatus};
use ecosphere::report::model::{FactorRef, FactorStatus, Hotspot, InventoryRow, MonthBar, ReportModel, Slice, YearOnYear, YoyRow};
use ecosphere::services::inventory::Summary;

pub fn build(s: &Summary, company_name: &str, library: &FactorLibrary, now: DateTime<Utc>) -> ReportModel {
    let taipei = FixedOffset::east_opt(8 * 3600).expect("UTC+8");
    let total = s.total_kg_co2e;
    let share = |v: f64| if total > 0.0 { v / total } else { 0.0 };
    let mut cumulative = 0.0;
    let hotspots = s
        .hotspots
        .iter()
        .map(|h| {
            cumulative += share(h.kg_co2e);
            Hotspot { source: h.label.clone(), kg_co2e: h.kg_co2e, share: share(h.kg_co2e), cumulative_share: cumulative }
        })
        .collect();
    let entries = library.entries();
    let mut used: Vec<String> = s.sources.iter().flat_map(|r| r.factor_refs.iter().cloned()).collect();
    used.sort();
    used.dedup();
    let factor_refs = used
        .iter()
        .filter_map(|r| entries.iter().find(|e| &e.reference == r))
        .map(|e| FactorRef {
            id: e.reference.clone(),
            label: e.label.clone(),
            value: e.value,
            unit: e.unit.clone(),
            source: format!("{} {}{}", e.source.publisher, e.source.title, e.source.reference.as_deref().map(|r| format!("（{r}）")).unwrap_or_default()),
            status: match e.status {
                LibStatus::Official => FactorStatus::Official,
                LibStatus::Unverified => FactorStatus::Unverified,
            },
        })
        .collect();
    ReportModel {
        company_name: company_name.to_string(),
        tax_id: s.tax_id.clone(),
        year: s.year,
        generated_at: format!("{} (台北時間)", now.with_timezone(&taipei).format("%Y-%m-%d %H:%M")),
        generated_on: now,
        total_kg_co2e: total,
        excluded_kg_co2e: s.excluded_kg_co2e,
        by_scope: s.by_scope.iter().map(|(k, v)| Slice { label: scope_label(*k).to_string(), kg_co2e: *v }).collect(),
        by_category: s.by_category.iter().map(|(k, v)| Slice { label: category_label(*k).to_string(), kg_co2e: *v }).collect(),
        monthly: s.monthly.iter().map(|m| MonthBar { month: m.month.clone(), by_scope_kg: m.by_scope }).collect(),
        hotspots,
        inventory: s
            .sources
            .iter()
            .map(|r| InventoryRow {
                scope: r.scope,
                category: r.category,
                source: r.kind.label().to_string(),
                detail: r.detail.clone(),
                quantity: r.quantity,
                unit: r.unit.as_str().to_string(),
                factor_text: if r.quantity > 0.0 { format!("{:.4} kgCO2e/{}", r.implied_factor, r.unit.as_str()) } else { "—".into() },
                co2_kg: r.co2_kg,
                ch4_kg: r.ch4_kg,
                n2o_kg: r.n2o_kg,
                other_kg_co2e: r.other_kg_co2e,
                kg_co2e: r.kg_co2e,
                share: share(r.kg_co2e),
                provisional: r.provisional,
                unverified: r.unverified,
                documents: r.documents as u32,
            })
            .collect(),
        yoy: s.yoy.as_ref().map(|y| YearOnYear {
            prev_year: y.previous_year,
            prev_total_kg_co2e: y.previous_total,
            change_kg_co2e: y.change,
            activity_effect_kg_co2e: y.activity_effect,
            factor_effect_kg_co2e: y.factor_effect,
            rows: y
                .rows
                .iter()
                .map(|r| YoyRow {
                    source: r.label.clone(),
                    prev_kg_co2e: r.previous_kg,
                    curr_kg_co2e: r.kg,
                    activity_effect_kg_co2e: r.activity_effect,
                    factor_effect_kg_co2e: r.factor_effect,
                })
                .collect(),
        }),
        notes: s.notes.clone(),
        factor_refs,
    }
}
