//! The firm's 行業對標 for a year. The population (every firm's profile and totals for
//! the year) is read from the aggregates, never from lines, and kept for a few minutes
//! per process; the firm's own figures are always read fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::TaxId;
use crate::error::AppResult;
use crate::national::benchmark::{benchmark, population, Benchmark, NoBenchmark, Peer};
use crate::national::privacy::Thresholds;
use crate::ports::{FirmProfileStore, TotalsStore};

type Population = Arc<Vec<Peer>>;

pub struct BenchmarkService {
    profiles: Arc<dyn FirmProfileStore>,
    totals: Arc<dyn TotalsStore>,
    thresholds: Thresholds,
    ttl: Duration,
    cache: Mutex<HashMap<i32, (Instant, Population)>>,
}

impl BenchmarkService {
    pub fn new(profiles: Arc<dyn FirmProfileStore>, totals: Arc<dyn TotalsStore>, thresholds: Thresholds, ttl: Duration) -> Self {
        Self { profiles, totals, thresholds, ttl, cache: Mutex::new(HashMap::new()) }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The year's population, from the cache when fresh.
    pub async fn population(&self, year: i32) -> AppResult<Population> {
        if let Some((at, p)) = self.cache.lock().map_err(|_| crate::AppError::internal("benchmark cache poisoned"))?.get(&year) {
            if at.elapsed() < self.ttl {
                return Ok(p.clone());
            }
        }
        let p = Arc::new(population(self.profiles.list_year(year).await?, self.totals.list_year(year).await?));
        self.cache.lock().map_err(|_| crate::AppError::internal("benchmark cache poisoned"))?.insert(year, (Instant::now(), p.clone()));
        Ok(p)
    }

    pub async fn for_firm(&self, tax_id: &TaxId, year: i32) -> AppResult<Result<Benchmark, NoBenchmark>> {
        let Some(profile) = self.profiles.get(tax_id, year).await? else {
            return Ok(Err(NoBenchmark { reason: format!("尚未填寫 {year} 年度公司資料（行業代號、縣市、營收、員工人數），填寫後即可與同業比較。") }));
        };
        let Some(total) = self.totals.get(tax_id, year).await? else {
            return Ok(Err(NoBenchmark { reason: format!("{year} 年尚無已計算的排放量，無法與同業比較。") }));
        };
        let me = Peer { tax_id: tax_id.to_string(), profile: profile.fields, total };
        let cached = self.population(year).await?;
        let mut peers: Vec<Peer> = cached.iter().filter(|p| p.tax_id != me.tax_id).cloned().collect();
        peers.push(me.clone());
        Ok(benchmark(year, &me, &peers, &self.thresholds))
    }
}
