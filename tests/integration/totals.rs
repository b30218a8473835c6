//! Firm-year totals (the aggregate national figures and benchmarks read) equal a direct
//! recomputation from the lines after random sequences of ingest, correction,
//! exclusion, stale redelivery and restatement — on SQLite and on DynamoDB (moto),
//! through the calculate function's stream consumer.

use super::common::*;

use std::sync::Arc;

use calculate::CalculateConsumer;
use chrono::NaiveDate;
use ecosphere::domain::activity::{ActivityKind, ExtractionMethod, Unit};
use ecosphere::domain::inventory::{Activity, ActivityStatus, FileRecord, FileStatus};
use ecosphere::domain::{FirmYearTotal, TaxId};
use ecosphere::records::ActivityItem;
use ecosphere::stream::{StreamConsumer, StreamEvent, StreamEventRecord};
use ecosphere::App;

const FIRMS: [&str; 3] = ["22099131", "10458574", "99754141"];

use super::common::Rng;

fn image(a: Option<&Activity>) -> serde_dynamo::Item {
    match a {
        Some(a) => serde_dynamo::to_item(ActivityItem::from(a)).unwrap(),
        None => serde_dynamo::Item::from(std::collections::HashMap::<String, serde_dynamo::AttributeValue>::new()),
    }
}

fn event(changes: &[(Option<Activity>, Option<Activity>)], seq: &mut u64) -> StreamEvent {
    let mut e = StreamEvent::default();
    for (old, new) in changes {
        *seq += 1;
        let mut r = StreamEventRecord::default();
        r.event_name = match (old, new) {
            (None, _) => "INSERT",
            (_, None) => "REMOVE",
            _ => "MODIFY",
        }
        .into();
        r.change.old_image = image(old.as_ref());
        r.change.new_image = image(new.as_ref());
        r.change.sequence_number = Some(format!("{seq:021}"));
        e.records.push(r);
    }
    e
}

fn file(tax: &str, n: usize) -> FileRecord {
    let key = format!("drop/{tax}/b{n}/ledger-{n}.csv");
    FileRecord {
        tax_id: tax.into(),
        batch_id: format!("b{n}"),
        key: key.clone(),
        blob_key: key,
        name: format!("ledger-{n}.csv"),
        version: "v1".into(),
        size: 100,
        status: FileStatus::Processing,
        file_type: None,
        method: Some(ExtractionMethod::Csv),
        reason: None,
        activities: 0,
        needs_review: 0,
        duplicates: 0,
        received_at: "2026-01-05T00:00:00.000Z".into(),
        updated_at: "2026-01-05T00:00:00.000Z".into(),
    }
}

/// A random bill: electricity (bimonthly, sometimes Dec–Jan across years), water or
/// gasoline, in 2024 or 2025.
fn activity(f: &FileRecord, row: u32, rng: &mut Rng) -> Activity {
    let year = 2024 + rng.below(2) as i32;
    let month = 1 + rng.below(12) as u32;
    let start = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
    let (kind, unit, months, detail) = match rng.below(3) {
        0 => (ActivityKind::Electricity, Unit::Kwh, 2, None),
        1 => (ActivityKind::Water, Unit::M3, 2, None),
        _ => (ActivityKind::Gasoline, Unit::Litre, 1, Some("95無鉛汽油".to_string())),
    };
    let end = start.checked_add_months(chrono::Months::new(months)).and_then(|d| d.pred_opt());
    let mut a = Activity {
        id: format!("{}-{}-{row}", f.tax_id, f.batch_id),
        tax_id: f.tax_id.clone(),
        batch_id: f.batch_id.clone(),
        document: f.blob_key.clone(),
        page: row,
        kind: Some(kind),
        detail,
        quantity: Some(50.0 + rng.below(5000) as f64),
        unit: Some(unit),
        period_start: Some(start),
        period_end: end,
        meter_id: None,
        invoice_number: None,
        amount_ntd: None,
        unit_price: None,
        confidence: 1.0,
        method: ExtractionMethod::Csv,
        status: ActivityStatus::Accepted,
        issues: vec![],
        dedupe_key: None,
        duplicate_of: None,
        version: 1,
        updated_at: "2026-01-05T00:00:00.000Z".into(),
        confirmed_by: None,
    };
    a.refresh();
    a
}

async fn check_converged(app: &App, when: &str) -> usize {
    let mut compared = 0;
    for tax in FIRMS {
        let t = TaxId::parse(tax).unwrap();
        for year in [2023, 2024, 2025, 2026] {
            let lines = app.activities.list_emissions(&t, Some(year)).await.unwrap();
            let direct = FirmYearTotal::from_lines(tax, year, &lines, "");
            let stored = app.calculate.totals().get(&t, year).await.unwrap();
            match stored {
                Some(s) => assert!(s.same_figures(&direct), "{when}: {tax} {year}: stored {s:?}, lines say {direct:?}"),
                None => assert_eq!(direct.lines, 0, "{when}: {tax} {year}: no totals for {} lines", direct.lines),
            }
            compared += usize::from(direct.lines > 0);
        }
    }
    compared
}

async fn random_history(app: Arc<App>, seed: u64) {
    let consumer = CalculateConsumer::new(app.clone());
    let mut rng = Rng(seed);
    let mut seq = 0u64;
    let mut sent: Vec<StreamEvent> = Vec::new();
    let mut batches = 0usize;
    let (mut corrections, mut exclusions, mut redeliveries, mut restatements) = (0, 0, 0, 0);
    for step in 0..40 {
        let tax = FIRMS[rng.below(FIRMS.len())];
        let t = TaxId::parse(tax).unwrap();
        let existing = app.activities.list_activities(&t, None).await.unwrap();
        let op = if existing.is_empty() { 0 } else { rng.below(5) };
        let e = match op {
            // Ingest a file of 1–6 rows.
            0 => {
                batches += 1;
                let f = file(tax, batches);
                let rows: Vec<Activity> = (1..=1 + rng.below(6) as u32).map(|r| activity(&f, r, &mut rng)).collect();
                let stored = app.activities.finish_file(&f, rows).await.unwrap();
                event(&stored.into_iter().map(|a| (None, Some(a))).collect::<Vec<_>>(), &mut seq)
            }
            // A person corrects a quantity, or a period into another year.
            1 | 2 => {
                corrections += 1;
                let a = existing[rng.below(existing.len())].clone();
                let mut b = a.clone();
                b.quantity = Some(10.0 + rng.below(9000) as f64);
                if rng.below(3) == 0 {
                    b.period_start = a.period_start.map(|d| d.with_year(if d.year() == 2024 { 2025 } else { 2024 }).unwrap_or(d));
                    b.period_end = b.period_start.map(|d| d.checked_add_months(chrono::Months::new(1)).unwrap().pred_opt().unwrap());
                }
                b.status = ActivityStatus::Accepted;
                b.updated_at = format!("2026-01-06T00:00:{:02}.000Z", step % 60);
                let stored = app.activities.update_activity(&b, a.version).await.unwrap();
                event(&[(Some(a), Some(stored))], &mut seq)
            }
            // Excluded (rejected by a person), so it no longer counts.
            3 => {
                exclusions += 1;
                let a = existing[rng.below(existing.len())].clone();
                let mut b = a.clone();
                b.status = ActivityStatus::Rejected;
                let stored = app.activities.update_activity(&b, a.version).await.unwrap();
                event(&[(Some(a), Some(stored))], &mut seq)
            }
            // An old event delivered again (out of order): must change nothing.
            _ => {
                redeliveries += 1;
                sent[rng.below(sent.len())].clone()
            }
        };
        let resp = consumer.handle(e.clone()).await.unwrap();
        assert!(resp.batch_item_failures.is_empty(), "step {step}: {resp:?}");
        sent.push(e);
        if step % 10 == 9 {
            // Restatement: lines made with another library version are recomputed.
            restatements += 1;
            let acts = app.activities.list_activities(&t, None).await.unwrap();
            if let Some(a) = acts.iter().find(|a| a.counts()) {
                let mut lines = app.activities.list_emissions(&t, None).await.unwrap();
                lines.retain(|l| l.activity_id == a.id);
                for l in &mut lines {
                    l.library = "an-older-library".into();
                    l.kg_co2e *= 3.0;
                }
                app.activities.replace_emissions(&t, &a.id, lines, chrono::Utc::now()).await.unwrap();
            }
            app.calculate.restate_all().await.unwrap();
            check_converged(&app, &format!("after step {step}")).await;
        }
    }
    let compared = check_converged(&app, "at the end").await;
    assert!(compared >= 3, "the history produced totals to compare ({compared})");
    assert!(corrections > 0 && exclusions > 0 && redeliveries > 0 && restatements > 0);
}

use chrono::Datelike;

#[tokio::test]
async fn totals_converge_on_sqlite() {
    for seed in [7u64, 1234567, 99] {
        let tmp = tempfile::tempdir().unwrap();
        let app = App::from_config(local_config(tmp.path())).await.unwrap();
        random_history(app, seed).await;
    }
}

#[tokio::test]
async fn totals_converge_on_dynamodb() {
    let moto = Moto::start();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "totals", "totals-bucket").await;
    set_aws_env();
    let app = App::from_config(aws_config(&moto.url, "totals", "totals-bucket")).await.unwrap();
    random_history(app, 4242).await;
}
