//! Emission calculation: an accepted activity's lines (one per calendar month) from the
//! factor library, replacing whatever was computed before (idempotent); an activity that
//! no longer counts has no lines. Restating recomputes every line made with another
//! version of the library.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Datelike;

use crate::domain::inventory::{Activity, ActivityStatus, EmissionRecord};
use crate::domain::{FirmYearTotal, TaxId};
use crate::error::{AppError, AppResult};
use crate::factors::{CalcInput, FactorLibrary};
use crate::ports::{ActivityStore, Clock, TotalsStore};
use crate::records::timestamp;

pub struct CalculateService {
    activities: Arc<dyn ActivityStore>,
    totals: Arc<dyn TotalsStore>,
    library: Arc<FactorLibrary>,
    clock: Arc<dyn Clock>,
}

impl CalculateService {
    pub fn new(activities: Arc<dyn ActivityStore>, totals: Arc<dyn TotalsStore>, library: Arc<FactorLibrary>, clock: Arc<dyn Clock>) -> Self {
        Self { activities, totals, library, clock }
    }

    pub fn totals(&self) -> &Arc<dyn TotalsStore> {
        &self.totals
    }

    /// The inventory years an activity's lines can fall in (its period's calendar years).
    pub fn years_of(a: &Activity) -> BTreeSet<i32> {
        match (a.period_start, a.period_end) {
            (Some(s), Some(e)) if s <= e => (s.year()..=e.year()).collect(),
            (Some(d), _) | (_, Some(d)) => BTreeSet::from([d.year()]),
            (None, None) => BTreeSet::new(),
        }
    }

    /// Replaces the firm-year totals of `years` with a recomputation from the lines
    /// (so redelivered changes and restatements converge, never add twice).
    pub async fn refresh_totals(&self, tax_id: &TaxId, years: &BTreeSet<i32>) -> AppResult<()> {
        let now = timestamp(self.clock.now());
        for &year in years {
            let lines = self.activities.list_emissions(tax_id, Some(year)).await?;
            let total = FirmYearTotal::from_lines(tax_id.as_str(), year, &lines, &now);
            if self.totals.get(tax_id, year).await?.is_some_and(|t| t.same_figures(&total)) {
                continue;
            }
            self.totals.put(&total).await?;
        }
        Ok(())
    }

    /// Every year of a firm, from all its lines: years that lost their lines are removed.
    pub async fn refresh_all_totals(&self, tax_id: &TaxId) -> AppResult<()> {
        let lines = self.activities.list_emissions(tax_id, None).await?;
        let mut years: BTreeSet<i32> = lines.iter().map(|l| l.year).collect();
        years.extend(self.totals.years(tax_id).await?);
        let now = timestamp(self.clock.now());
        for year in years {
            self.totals.put(&FirmYearTotal::from_lines(tax_id.as_str(), year, &lines, &now)).await?;
        }
        Ok(())
    }

    /// Builds the totals of firms that have lines but none (a data directory from before
    /// totals existed). Returns how many firms were built.
    pub async fn build_missing_totals(&self) -> AppResult<usize> {
        let mut n = 0;
        for tax in self.activities.companies().await? {
            if self.totals.years(&tax).await?.is_empty() && !self.activities.list_emissions(&tax, None).await?.is_empty() {
                self.refresh_all_totals(&tax).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub fn library(&self) -> &FactorLibrary {
        &self.library
    }

    /// The lines of one activity (empty when it does not count). `Err` with a zh-TW
    /// message when the library cannot compute it (an unknown refrigerant...).
    pub fn lines_for(&self, a: &Activity) -> Result<Vec<EmissionRecord>, String> {
        if !a.counts() {
            return Ok(Vec::new());
        }
        let (Some(kind), Some(quantity), Some(unit), Some(start), Some(end)) = (a.kind, a.quantity, a.unit, a.period_start, a.period_end) else {
            return Ok(Vec::new());
        };
        let input = CalcInput { kind, detail: a.detail.clone(), quantity, unit, period_start: start, period_end: end };
        let lines = self.library.calculate(&input).map_err(|e| e.to_string())?;
        let fp = self.library.fingerprint();
        let now = timestamp(self.clock.now());
        Ok(lines
            .into_iter()
            .map(|l| EmissionRecord {
                tax_id: a.tax_id.clone(),
                activity_id: a.id.clone(),
                kind,
                detail: a.detail.clone(),
                document: a.document.clone(),
                month: l.month,
                year: l.year,
                quantity: l.quantity,
                unit: l.unit,
                co2_kg: l.co2_kg,
                ch4_kg: l.ch4_kg,
                n2o_kg: l.n2o_kg,
                other_kg_co2e: l.other_kg_co2e,
                kg_co2e: l.kg_co2e,
                excluded_kg_co2e: l.excluded_kg_co2e,
                scope: l.scope,
                category: l.category,
                ghg_protocol: l.ghg_protocol,
                source_label: l.source_label,
                factor_refs: l.factor_refs,
                provisional: l.provisional,
                unverified: l.unverified,
                notes: l.notes,
                formula: l.formula,
                library: fp.clone(),
                computed_at: now.clone(),
            })
            .collect())
    }

    /// Recomputes one activity as stored now (the stream record may be stale, so the
    /// store is read again: a redelivered old record cannot resurrect old values).
    pub async fn recalculate(&self, tax_id: &TaxId, activity_id: &str) -> AppResult<()> {
        let Some(a) = self.activities.get_activity(tax_id, activity_id).await? else {
            return self.activities.replace_emissions(tax_id, activity_id, Vec::new(), self.clock.now()).await;
        };
        match self.lines_for(&a) {
            Ok(lines) => self.activities.replace_emissions(tax_id, activity_id, lines, self.clock.now()).await,
            Err(reason) => {
                // It cannot be computed: it goes back to a person, never silently zero.
                self.activities.replace_emissions(tax_id, activity_id, Vec::new(), self.clock.now()).await?;
                let mut b = a.clone();
                b.status = ActivityStatus::NeedsReview;
                b.confirmed_by = None;
                if !b.issues.contains(&reason) {
                    b.issues.push(reason);
                }
                b.updated_at = timestamp(self.clock.now());
                match self.activities.update_activity(&b, a.version).await {
                    Ok(_) | Err(AppError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Recomputes every counted activity whose lines were made with another library
    /// version (a factor was published or corrected). Returns how many were recomputed.
    pub async fn restate_all(&self) -> AppResult<usize> {
        let fp = self.library.fingerprint();
        let mut n = 0;
        for tax in self.activities.companies().await? {
            let lines = self.activities.list_emissions(&tax, None).await?;
            let mut stale: Vec<String> = lines.iter().filter(|l| l.library != fp).map(|l| l.activity_id.clone()).collect();
            // Counted activities without lines (e.g. computed while the library lacked a factor).
            for a in self.activities.list_activities(&tax, None).await? {
                if a.counts() && !lines.iter().any(|l| l.activity_id == a.id) {
                    stale.push(a.id.clone());
                }
            }
            stale.sort();
            stale.dedup();
            let restated = !stale.is_empty();
            for id in stale {
                self.recalculate(&tax, &id).await?;
                n += 1;
            }
            if restated {
                self.refresh_all_totals(&tax).await?;
            }
        }
        Ok(n)
    }
}
