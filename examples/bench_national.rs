//! Benchmark of issue 18 (national figures and benchmarks), on the local backend:
//!
//!     cargo run --release --example bench_national -- --firms 2000 [--samples 200]
//!
//! Fills a fresh data directory with N demo firms (12 months × 4 sources each: bimonthly
//! electricity and water bills, monthly fuel, refrigerant for some) through the real drop
//! folder, ingest and calculation, then prints, with the workload size:
//! - the national page (`GET /staff/national`'s HTML) and a firm's 行業對標: p50/p99 ms;
//! - the cost of keeping the firm-year totals up to date as a ratio of the calculation
//!   it follows (both timed on the same firms in the same run);
//! - the process's peak memory (VmHWM).
//! Figures, not assertions: this machine is shared and noisy.

use std::time::Instant;

use ecosphere::domain::TaxId;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(ms: &mut [f64], p: f64) -> f64 {
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--firms", 2000);
    let samples = arg(&args, "--samples", 200);
    let year = 2025;
    let dir = tempfile::tempdir()?;
    let config = ecosphere::Config::from_lookup(|k| match k {
        "APP_DATA_DIR" => Some(dir.path().to_string_lossy().to_string()),
        "APP_ADDR" => Some("127.0.0.1:0".into()),
        _ => None,
    })?;
    let app = ecosphere::App::from_config(config).await?;
    let local = app.local.as_ref().ok_or("local mode")?;

    let t = Instant::now();
    let firms = ecosphere::national::demo::generate(n, year, 2026);
    for f in &firms {
        app.firms.save_fields(&f.tax_id, year, f.profile.clone(), None, "bench").await?;
        let d = local.drop_dir.join(f.tax_id.as_str()).join("bench");
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("ledger.csv"), &f.csv)?;
    }
    ecosphere_local::process_pending(&app).await?;
    let ingest_s = t.elapsed().as_secs_f64();
    let lines: usize = {
        let mut n = 0;
        for f in firms.iter().take(50) {
            n += app.activities.list_emissions(&f.tax_id, Some(year)).await?.len();
        }
        n * firms.len() / firms.len().min(50)
    };
    let totals = app.calculate.totals().list_year(year).await?;
    println!("workload: {n} firms, year {year}, ~{lines} emission lines, {} firm-year totals; ingest+calculate {ingest_s:.1} s ({:.1} ms/firm)", totals.len(), ingest_s * 1000.0 / n as f64);

    // Aggregate upkeep vs calculation, on the same firms.
    let (mut calc, mut agg) = (0.0f64, 0.0f64);
    for f in firms.iter().take(samples) {
        let acts = app.activities.list_activities(&f.tax_id, Some(year)).await?;
        let t = Instant::now();
        for a in &acts {
            app.calculate.recalculate(&f.tax_id, &a.id).await?;
        }
        calc += t.elapsed().as_secs_f64();
        let years = acts.iter().flat_map(ecosphere::services::calculate::CalculateService::years_of).collect();
        let t = Instant::now();
        app.calculate.refresh_totals(&f.tax_id, &years).await?;
        agg += t.elapsed().as_secs_f64();
    }
    println!("aggregate upkeep: {:.3} × the calculation it follows ({} firms: calculate {:.1} ms, totals {:.1} ms)", agg / calc, samples.min(n), calc * 1000.0, agg * 1000.0);

    // Pages.
    let mut national = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let html = staff::national_html(&app, year).await?;
        national.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(html.contains("data-county"));
    }
    let mut bench = Vec::new();
    for f in firms.iter().take(samples) {
        let t = Instant::now();
        let b = app.benchmark.for_firm(&f.tax_id, year).await?;
        bench.push(t.elapsed().as_secs_f64() * 1000.0);
        let _ = b;
    }
    let cold = bench[0];
    println!(
        "national page: p50 {:.1} ms, p99 {:.1} ms (20 renders, {n} firms)",
        percentile(&mut national.clone(), 0.5),
        percentile(&mut national, 0.99)
    );
    println!(
        "firm benchmark: p50 {:.2} ms, p99 {:.2} ms ({} firms; first call {cold:.1} ms loads the year's population, then cached)",
        percentile(&mut bench.clone(), 0.5),
        percentile(&mut bench, 0.99),
        samples.min(n)
    );
    let me = TaxId::parse(firms[0].tax_id.as_str())?;
    let b = app.benchmark.for_firm(&me, year).await?;
    match b {
        Ok(b) => println!("example peer group: {} ({} firms), {} suggestions", b.group.definition, b.group.firms, b.advice.len()),
        Err(e) => println!("example: {}", e.reason),
    }
    println!("peak memory: {:.0} MiB (VmHWM)", peak_rss_mib());
    Ok(())
}
