//! The `ActivityStore` contract: the same checks against SQLite and against DynamoDB on
//! the moto server (claims and redelivery, the same bill counted once, optimistic
//! concurrency, emission lines replaced never added, restatements, year filters,
//! companies isolated by 統一編號).

use super::common;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::*;
use ecosphere::adapters::{DynamoActivityStore, SqliteActivityStore, SqliteDb};
use ecosphere::domain::activity::{ActivityKind, ExtractionMethod, Unit};
use ecosphere::domain::inventory::{Activity, ActivityStatus, EmissionRecord, FileRecord, FileStatus};
use ecosphere::domain::TaxId;
use ecosphere::ports::{ActivityStore, FileClaim};
use ecosphere::AppError;

const TAX: &str = "22099131";
/// The review hint of a waiting copy of a counted bill, on both backends.
use ecosphere::domain::inventory::DUPLICATE_HINT;
const OTHER_TAX: &str = "10458574";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).single().expect("valid time")
}

fn ts(t: DateTime<Utc>) -> String {
    ecosphere::records::timestamp(t)
}

fn tax(s: &str) -> TaxId {
    TaxId::parse(s).unwrap()
}

fn file(tax: &str, name: &str, version: &str) -> FileRecord {
    let key = format!("drop/{tax}/b1/{name}");
    FileRecord {
        tax_id: tax.into(),
        batch_id: "b1".into(),
        key: key.clone(),
        blob_key: key,
        name: name.into(),
        version: version.into(),
        size: 4096,
        status: FileStatus::Processing,
        file_type: None,
        method: Some(ExtractionMethod::PdfText),
        reason: None,
        activities: 0,
        needs_review: 0,
        duplicates: 0,
        received_at: ts(t0()),
        updated_at: ts(t0()),
    }
}

/// An electricity bill on page `page` of `f`: meter `meter`, the two months from `start`;
/// the quantity follows the meter's digits, so bills of different meters are different.
fn bill(f: &FileRecord, page: u32, meter: &str, start: NaiveDate) -> Activity {
    let digits = meter.chars().filter_map(|c| c.to_digit(10)).fold(0u64, |n, d| (n * 10 + u64::from(d)) % 1_000_000);
    let end = start.checked_add_months(chrono::Months::new(2)).and_then(|d| d.pred_opt());
    let mut a = Activity {
        id: format!("{}-{}-{page}", f.tax_id, f.name.replace('.', "_")),
        tax_id: f.tax_id.clone(),
        batch_id: f.batch_id.clone(),
        document: f.blob_key.clone(),
        page,
        kind: Some(ActivityKind::Electricity),
        detail: Some("台電 表燈非時間電價".into()),
        quantity: Some(100.0 + digits as f64),
        unit: Some(Unit::Kwh),
        period_start: Some(start),
        period_end: end,
        meter_id: Some(meter.into()),
        invoice_number: None,
        amount_ntd: Some(4096.5),
        unit_price: None,
        confidence: 0.96,
        method: ExtractionMethod::PdfText,
        status: ActivityStatus::Accepted,
        issues: vec![],
        dedupe_key: None,
        duplicate_of: None,
        version: 1,
        updated_at: ts(t0()),
        confirmed_by: None,
    };
    a.refresh();
    a
}

/// A fuel receipt with an e-invoice number.
fn receipt(f: &FileRecord, invoice: &str) -> Activity {
    let mut a = bill(f, 1, "unused", NaiveDate::from_ymd_opt(2025, 2, 1).unwrap());
    a.kind = Some(ActivityKind::Gasoline);
    a.unit = Some(Unit::Litre);
    a.meter_id = None;
    a.period_end = a.period_start;
    a.invoice_number = Some(invoice.into());
    a.refresh();
    a
}

fn line(tax: &str, activity: &str, month: &str, kg: f64, library: &str) -> EmissionRecord {
    EmissionRecord {
        tax_id: tax.into(),
        activity_id: activity.into(),
        kind: ActivityKind::Electricity,
        detail: None,
        document: format!("drop/{tax}/b1/bill.pdf"),
        month: month.into(),
        year: month[..4].parse().unwrap(),
        quantity: 640.0,
        unit: Unit::Kwh,
        co2_kg: kg,
        ch4_kg: 0.0,
        n2o_kg: 0.0,
        other_kg_co2e: 0.0,
        kg_co2e: kg,
        excluded_kg_co2e: 0.0,
        scope: 2,
        category: 2,
        ghg_protocol: "scope2_location".into(),
        source_label: "外購電力".into(),
        factor_refs: vec!["moenv-2024:electricity".into()],
        provisional: false,
        unverified: false,
        notes: vec![],
        formula: format!("640 kWh × {:.4}", kg / 640.0),
        library: library.into(),
        computed_at: ts(t0()),
    }
}

async fn claims_contract(store: Arc<dyn ActivityStore>) {
    let lease = Duration::minutes(10);
    let f = file(TAX, "電費-202501.pdf", "v1");
    assert_eq!(store.claim_file(&f, t0(), lease).await.unwrap(), FileClaim::Claimed);
    // A redelivered event while the first reader works: leave it.
    assert_eq!(store.claim_file(&f, t0() + Duration::minutes(9), lease).await.unwrap(), FileClaim::InProgress);
    // The reader crashed: after the lease another takes over, and holds it for a new lease.
    // The sweeper sees the abandoned claim once the lease is over, not before.
    assert!(store.stale_files(t0() - Duration::seconds(1)).await.unwrap().is_empty());
    let stale = store.stale_files(t0() + Duration::minutes(1)).await.unwrap();
    assert_eq!(stale.iter().map(|x| (x.key.as_str(), x.version.as_str(), x.status)).collect::<Vec<_>>(), vec![(f.key.as_str(), "v1", FileStatus::Processing)]);
    let t1 = t0() + Duration::minutes(11);
    assert_eq!(store.claim_file(&f, t1, lease).await.unwrap(), FileClaim::TakenOver { previous_reads: 1 });
    assert_eq!(store.claim_file(&f, t1 + Duration::minutes(5), lease).await.unwrap(), FileClaim::InProgress);
    // Taken over again after another lease: the count of interrupted reads goes on.
    let t1 = t1 + Duration::minutes(11);
    assert_eq!(store.claim_file(&f, t1, lease).await.unwrap(), FileClaim::TakenOver { previous_reads: 2 });
    assert!(store.stale_files(t1 - Duration::seconds(1)).await.unwrap().is_empty(), "the new claim is not stale");
    let listed = store.list_files(&tax(TAX)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, FileStatus::Processing);

    // Finished with its activities: one counted, one waiting for a person.
    let ok = bill(&f, 1, "01-2345-67", NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    let mut unsure = bill(&f, 2, "01-2345-68", NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    unsure.quantity = None;
    unsure.refresh();
    assert_eq!(unsure.status, ActivityStatus::NeedsReview);
    let mut finished = f.clone();
    finished.updated_at = ts(t1 + Duration::minutes(1));
    let stored = store.finish_file(&finished, vec![ok.clone(), unsure.clone()]).await.unwrap();
    assert_eq!(stored, vec![ok.clone(), unsure.clone()]);
    assert!(store.stale_files(t1 + Duration::hours(1)).await.unwrap().is_empty(), "a finished file is never stale");
    assert_eq!(store.get_activity(&tax(TAX), &ok.id).await.unwrap(), Some(ok.clone()));
    assert_eq!(store.get_activity(&tax(TAX), &unsure.id).await.unwrap(), Some(unsure.clone()));

    // A redelivery after it is done does nothing, and says what the outcome was.
    match store.claim_file(&f, t1 + Duration::hours(2), lease).await.unwrap() {
        FileClaim::AlreadyDone(done) => {
            assert_eq!((done.status, done.activities, done.needs_review, done.duplicates), (FileStatus::NeedsReview, 2, 1, 0));
            assert_eq!((done.key.as_str(), done.version.as_str()), (f.key.as_str(), "v1"));
        }
        other => panic!("expected AlreadyDone, got {other:?}"),
    }
    // Another version of the same key is another file.
    let f2 = file(TAX, "電費-202501.pdf", "v2");
    assert_eq!(store.claim_file(&f2, t1, lease).await.unwrap(), FileClaim::Claimed);

    // A person confirms the waiting one; a redelivery of the file keeps that work and
    // rewrites (never adds) the rest.
    let mut confirmed = unsure.clone();
    confirmed.quantity = Some(980.0);
    confirmed.issues.clear();
    confirmed.confirmed_by = Some("ming@vitamin.com.tw".into());
    confirmed.refresh();
    let confirmed = store.update_activity(&confirmed, 1).await.unwrap();
    assert_eq!((confirmed.status, confirmed.version), (ActivityStatus::Accepted, 2));
    let again = store.finish_file(&finished, vec![ok.clone(), unsure.clone()]).await.unwrap();
    assert_eq!(again[1], confirmed);
    assert_eq!((again[0].status, again[0].version), (ActivityStatus::Accepted, 2));
    let all = store.list_activities(&tax(TAX), None).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&confirmed));
    // The file follows the review queue: nothing waits any more.
    let files = store.list_files(&tax(TAX)).await.unwrap();
    let first = files.iter().find(|x| x.version == "v1").unwrap();
    assert_eq!((first.status, first.needs_review), (FileStatus::Done, 0));

    // A failed file stays failed, with its reason.
    let bad = file(TAX, "壞掉.pdf", "v1");
    assert_eq!(store.claim_file(&bad, t0(), lease).await.unwrap(), FileClaim::Claimed);
    let mut failed = bad.clone();
    failed.status = FileStatus::Failed;
    failed.reason = Some("檔案無法讀取".into());
    assert!(store.finish_file(&failed, vec![]).await.unwrap().is_empty());
    match store.claim_file(&bad, t0() + Duration::days(1), lease).await.unwrap() {
        FileClaim::AlreadyDone(done) => assert_eq!((done.status, done.reason.as_deref()), (FileStatus::Failed, Some("檔案無法讀取"))),
        other => panic!("expected AlreadyDone, got {other:?}"),
    }
    assert_eq!(store.list_files(&tax(TAX)).await.unwrap().len(), 3);

    // Another company sees none of it.
    assert!(store.list_files(&tax(OTHER_TAX)).await.unwrap().is_empty());
    assert!(store.list_activities(&tax(OTHER_TAX), None).await.unwrap().is_empty());
    assert_eq!(store.get_activity(&tax(OTHER_TAX), &ok.id).await.unwrap(), None);
    assert_eq!(store.companies().await.unwrap(), vec![tax(TAX)]);
}

async fn dedupe_contract(store: Arc<dyn ActivityStore>) {
    let jan = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let (fa, fb) = (file(TAX, "a.pdf", "v1"), file(TAX, "b.pdf", "v1"));
    let a = bill(&fa, 1, "01-2345-67", jan);
    let b = bill(&fb, 1, "01-2345-67", jan);
    let stored_a = store.finish_file(&fa, vec![a.clone()]).await.unwrap();
    assert_eq!(stored_a[0].status, ActivityStatus::Accepted);
    // The same meter and period in another file: kept, counted once.
    let stored_b = store.finish_file(&fb, vec![b.clone()]).await.unwrap();
    assert_eq!((stored_b[0].status, stored_b[0].duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some(a.id.as_str())));
    assert_eq!(store.get_activity(&tax(TAX), &b.id).await.unwrap().unwrap().status, ActivityStatus::Duplicate);
    let fb_listed = store.list_files(&tax(TAX)).await.unwrap().into_iter().find(|f| f.name == "b.pdf").unwrap();
    assert_eq!((fb_listed.duplicates, fb_listed.status), (1, FileStatus::Done));
    let counted: Vec<_> = store.list_activities(&tax(TAX), Some(2025)).await.unwrap().into_iter().filter(|x| x.counts()).collect();
    assert_eq!(counted.len(), 1);

    // Optimistic concurrency: a stale version is refused, nothing written.
    let mut edit = a.clone();
    edit.detail = Some("改過".into());
    match store.update_activity(&edit, 7).await {
        Err(AppError::Conflict(msg)) => assert!(msg.contains("已被其他人更新"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get_activity(&tax(TAX), &a.id).await.unwrap().unwrap(), a);
    let mut ghost = a.clone();
    ghost.id = "no-such-activity".into();
    assert!(matches!(store.update_activity(&ghost, 1).await, Err(AppError::NotFound(_))));
    // Another company cannot update it either.
    let mut foreign = a.clone();
    foreign.tax_id = OTHER_TAX.into();
    assert!(matches!(store.update_activity(&foreign, 1).await, Err(AppError::NotFound(_))));

    // Rejecting the counted one frees the waiting duplicate.
    let mut reject = a.clone();
    reject.status = ActivityStatus::Rejected;
    reject.confirmed_by = Some("ming@vitamin.com.tw".into());
    let rejected = store.update_activity(&reject, 1).await.unwrap();
    assert_eq!((rejected.status, rejected.version), (ActivityStatus::Rejected, 2));
    let freed = store.get_activity(&tax(TAX), &b.id).await.unwrap().unwrap();
    assert_eq!((freed.status, freed.duplicate_of.clone(), freed.version), (ActivityStatus::Accepted, None, 2));
    // The freed one now holds the bill: a third copy is its duplicate.
    let fc = file(TAX, "c.pdf", "v1");
    let c = bill(&fc, 1, "01-2345-67", jan);
    let stored_c = store.finish_file(&fc, vec![c.clone()]).await.unwrap();
    assert_eq!((stored_c[0].status, stored_c[0].duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some(b.id.as_str())));
    // Reading the rejected one again as it was does not make it count twice.
    let mut unreject = rejected.clone();
    unreject.status = ActivityStatus::Accepted;
    let back = store.update_activity(&unreject, 2).await.unwrap();
    assert_eq!((back.status, back.duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some(b.id.as_str())));

    // A corrected quantity is another bill: the old one is free for a new copy.
    let mut moved = freed.clone();
    moved.quantity = Some(4321.0);
    moved.refresh();
    assert_ne!(moved.dedupe_key, freed.dedupe_key);
    let moved = store.update_activity(&moved, 2).await.unwrap();
    assert_eq!(moved.status, ActivityStatus::Accepted);
    let fd = file(TAX, "d.pdf", "v1");
    let d = bill(&fd, 1, "01-2345-67", jan);
    assert_eq!(store.finish_file(&fd, vec![d.clone()]).await.unwrap()[0].status, ActivityStatus::Accepted);
    // Same meter, another period: another bill.
    let fe = file(TAX, "e.pdf", "v1");
    let e = bill(&fe, 1, "01-2345-67", NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
    assert_eq!(store.finish_file(&fe, vec![e]).await.unwrap()[0].status, ActivityStatus::Accepted);

    // A copy waiting for a person keeps waiting, with a hint naming the counted one;
    // confirmed, it is the duplicate it is.
    let fh = file(TAX, "h.pdf", "v1");
    let mut h = bill(&fh, 1, "01-2345-67", NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
    h.issues.push("辨識信心度偏低，請確認".into());
    h.refresh();
    let hinted = store.finish_file(&fh, vec![h.clone()]).await.unwrap().remove(0);
    let counted_e = store.list_activities(&tax(TAX), None).await.unwrap().into_iter().find(|x| x.document.ends_with("e.pdf")).unwrap();
    assert_eq!((hinted.status, hinted.duplicate_of.as_deref()), (ActivityStatus::NeedsReview, Some(counted_e.id.as_str())));
    assert!(hinted.issues.iter().any(|i| i == DUPLICATE_HINT), "{:?}", hinted.issues);
    let mut confirm = hinted.clone();
    confirm.issues.clear();
    confirm.confirmed_by = Some("ming@vitamin.com.tw".into());
    confirm.refresh();
    let confirmed = store.update_activity(&confirm, 1).await.unwrap();
    assert_eq!((confirmed.status, confirmed.duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some(counted_e.id.as_str())));
    // A waiting bill never blocks a clean copy from counting.
    let (fw, fx) = (file(TAX, "w.pdf", "v1"), file(TAX, "x.pdf", "v1"));
    let mut w = bill(&fw, 1, "03-3333-33", jan);
    w.issues.push("辨識信心度偏低，請確認".into());
    w.refresh();
    let x = bill(&fx, 1, "03-3333-33", jan);
    assert_eq!((w.status, &w.dedupe_key), (ActivityStatus::NeedsReview, &x.dedupe_key));
    store.finish_file(&fw, vec![w]).await.unwrap();
    assert_eq!(store.finish_file(&fx, vec![x]).await.unwrap()[0].status, ActivityStatus::Accepted);

    // Two copies in one file: the first counts.
    let fg = file(TAX, "g.pdf", "v1");
    let g1 = bill(&fg, 1, "05-5555-55", jan);
    let g2 = bill(&fg, 2, "05-5555-55", jan);
    let stored_g = store.finish_file(&fg, vec![g1.clone(), g2]).await.unwrap();
    assert_eq!(stored_g[0].status, ActivityStatus::Accepted);
    assert_eq!((stored_g[1].status, stored_g[1].duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some(g1.id.as_str())));

    // The race: 10 files with the same e-invoice number finished at once: one counts.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let f = file(TAX, &format!("receipt-{i}.jpg"), "v1");
                store.finish_file(&f, vec![receipt(&f, "AB-12345678")]).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.extend(t.await.unwrap().unwrap());
    }
    let winners: Vec<_> = outcomes.iter().filter(|x| x.status == ActivityStatus::Accepted).collect();
    assert_eq!(winners.len(), 1, "{outcomes:#?}");
    let winner = winners[0].id.clone();
    assert!(outcomes
        .iter()
        .filter(|x| x.id != winner)
        .all(|x| x.status == ActivityStatus::Duplicate && x.duplicate_of.as_deref() == Some(winner.as_str())));
    let stored: Vec<_> = store.list_activities(&tax(TAX), None).await.unwrap();
    let receipts: Vec<_> = stored.iter().filter(|x| x.invoice_number.is_some()).collect();
    assert_eq!(receipts.len(), 10);
    assert_eq!(receipts.iter().filter(|x| x.counts()).count(), 1);

    // Dedupe is per company: the same bill of another company counts there.
    let fo = file(OTHER_TAX, "a.pdf", "v1");
    let o = bill(&fo, 1, "01-2345-67", jan);
    assert_eq!(store.finish_file(&fo, vec![o]).await.unwrap()[0].status, ActivityStatus::Accepted);
    assert_eq!(store.companies().await.unwrap(), vec![tax(OTHER_TAX), tax(TAX)]);
}

async fn emissions_contract(store: Arc<dyn ActivityStore>) {
    let f = file(TAX, "bill.pdf", "v1");
    let dec = bill(&f, 1, "01-2345-67", NaiveDate::from_ymd_opt(2024, 12, 1).unwrap());
    let mut undated = bill(&f, 2, "01-2345-68", NaiveDate::from_ymd_opt(2024, 12, 1).unwrap());
    undated.period_start = None;
    undated.period_end = None;
    undated.refresh();
    let old = bill(&f, 3, "01-2345-69", NaiveDate::from_ymd_opt(2023, 3, 1).unwrap());
    store.finish_file(&f, vec![dec.clone(), undated.clone(), old.clone()]).await.unwrap();
    let ids = |v: Vec<Activity>| v.into_iter().map(|a| a.id).collect::<Vec<_>>();
    // Dec 2024 - Jan 2025 touches both years; an undated one waits in every year.
    assert_eq!(ids(store.list_activities(&tax(TAX), Some(2024)).await.unwrap()), vec![undated.id.clone(), dec.id.clone()]);
    assert_eq!(ids(store.list_activities(&tax(TAX), Some(2025)).await.unwrap()), vec![undated.id.clone(), dec.id.clone()]);
    assert_eq!(ids(store.list_activities(&tax(TAX), Some(2023)).await.unwrap()), vec![undated.id.clone(), old.id.clone()]);
    assert_eq!(store.list_activities(&tax(TAX), None).await.unwrap().len(), 3);

    let id = dec.id.clone();
    let v1 = vec![line(TAX, &id, "2024-12", 300.0, "lib-a"), line(TAX, &id, "2025-01", 307.5, "lib-a")];
    store.replace_emissions(&tax(TAX), &id, v1.clone(), t0()).await.unwrap();
    assert_eq!(store.list_emissions(&tax(TAX), None).await.unwrap(), v1);
    // Recalculating never adds.
    store.replace_emissions(&tax(TAX), &id, v1.clone(), t0() + Duration::minutes(1)).await.unwrap();
    assert_eq!(store.list_emissions(&tax(TAX), None).await.unwrap(), v1);
    assert_eq!(store.list_emissions(&tax(TAX), Some(2024)).await.unwrap(), vec![v1[0].clone()]);
    assert_eq!(store.list_emissions(&tax(TAX), Some(2025)).await.unwrap(), vec![v1[1].clone()]);
    assert!(store.list_emissions(&tax(TAX), Some(2023)).await.unwrap().is_empty());
    // Same library, another total (a corrected quantity): no restatement.
    let v2 = vec![line(TAX, &id, "2024-12", 200.0, "lib-a"), line(TAX, &id, "2025-01", 207.5, "lib-a")];
    store.replace_emissions(&tax(TAX), &id, v2.clone(), t0() + Duration::minutes(2)).await.unwrap();
    assert_eq!(store.list_emissions(&tax(TAX), None).await.unwrap(), v2);
    assert!(store.list_restatements(&tax(TAX)).await.unwrap().is_empty());
    // Another library, the same total: no restatement either.
    let v3 = vec![line(TAX, &id, "2024-12", 100.0, "lib-b"), line(TAX, &id, "2025-01", 307.5, "lib-b")];
    store.replace_emissions(&tax(TAX), &id, v3.clone(), t0() + Duration::minutes(3)).await.unwrap();
    assert!(store.list_restatements(&tax(TAX)).await.unwrap().is_empty());
    // Another library and another total: restated; a month no longer computed is gone.
    let at = t0() + Duration::minutes(4);
    let v4 = vec![line(TAX, &id, "2024-12", 390.0, "lib-c")];
    store.replace_emissions(&tax(TAX), &id, v4.clone(), at).await.unwrap();
    assert_eq!(store.list_emissions(&tax(TAX), None).await.unwrap(), v4);
    let r = store.list_restatements(&tax(TAX)).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].activity_id.as_str(), r[0].old_kg_co2e, r[0].new_kg_co2e), (id.as_str(), 407.5, 390.0));
    assert_eq!((r[0].old_library.as_str(), r[0].new_library.as_str(), r[0].at.clone()), ("lib-b", "lib-c", ts(at)));

    // Lines of an activity whose id starts like another's are its own.
    let other_id = format!("{id}0");
    let w = vec![line(TAX, &other_id, "2024-12", 11.0, "lib-c")];
    store.replace_emissions(&tax(TAX), &other_id, w.clone(), at).await.unwrap();
    store.replace_emissions(&tax(TAX), &id, vec![], at).await.unwrap();
    assert_eq!(store.list_emissions(&tax(TAX), None).await.unwrap(), w);
    // Emptied (no longer counted): no restatement for an empty set.
    assert_eq!(store.list_restatements(&tax(TAX)).await.unwrap().len(), 1);

    // Companies are isolated.
    assert!(store.list_emissions(&tax(OTHER_TAX), None).await.unwrap().is_empty());
    assert!(store.list_restatements(&tax(OTHER_TAX)).await.unwrap().is_empty());
    let fo = file(OTHER_TAX, "bill.pdf", "v1");
    let o = bill(&fo, 1, "01-2345-67", NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    store.finish_file(&fo, vec![o.clone()]).await.unwrap();
    let ol = vec![line(OTHER_TAX, &o.id, "2025-01", 5.0, "lib-c")];
    store.replace_emissions(&tax(OTHER_TAX), &o.id, ol.clone(), at).await.unwrap();
    assert_eq!(store.list_emissions(&tax(OTHER_TAX), Some(2025)).await.unwrap(), ol);
    assert_eq!(store.list_emissions(&tax(TAX), None).await.unwrap(), w);
    assert_eq!(store.companies().await.unwrap(), vec![tax(OTHER_TAX), tax(TAX)]);

    // More than one DynamoDB transaction holds: a 60-page file (each page a bill and its
    // dedupe item), and an activity spanning 120 months, replaced by 2 months.
    let big = file(TAX, "年度電費.pdf", "v1");
    let pages: Vec<Activity> =
        (1..=60).map(|p| bill(&big, p, &format!("07-{p:04}-00"), NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())).collect();
    let stored = store.finish_file(&big, pages.clone()).await.unwrap();
    assert_eq!(stored, pages);
    let listed = store.list_files(&tax(TAX)).await.unwrap().into_iter().find(|x| x.name == "年度電費.pdf").unwrap();
    assert_eq!((listed.activities, listed.status), (60, FileStatus::Done));
    assert_eq!(store.list_activities(&tax(TAX), Some(2025)).await.unwrap().iter().filter(|a| a.document == big.blob_key).count(), 60);
    let long_id = pages[0].id.clone();
    let months: Vec<EmissionRecord> = (0..120)
        .map(|i| line(TAX, &long_id, &format!("{}-{:02}", 2015 + i / 12, i % 12 + 1), 1.0, "lib-c"))
        .collect();
    store.replace_emissions(&tax(TAX), &long_id, months.clone(), at).await.unwrap();
    let of_long = |v: Vec<EmissionRecord>| v.into_iter().filter(|l| l.activity_id == long_id).collect::<Vec<_>>();
    assert_eq!(of_long(store.list_emissions(&tax(TAX), None).await.unwrap()), months);
    let two = vec![line(TAX, &long_id, "2015-01", 60.0, "lib-c"), line(TAX, &long_id, "2015-02", 60.0, "lib-c")];
    store.replace_emissions(&tax(TAX), &long_id, two.clone(), at).await.unwrap();
    assert_eq!(of_long(store.list_emissions(&tax(TAX), None).await.unwrap()), two);
}

fn sqlite() -> (tempfile::TempDir, Arc<dyn ActivityStore>) {
    let tmp = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&tmp.path().join("db.sqlite3")).unwrap();
    (tmp, Arc::new(SqliteActivityStore::new(db)))
}

async fn dynamo(table: &str) -> (Moto, aws_config::SdkConfig, Arc<dyn ActivityStore>) {
    let moto = Moto::start();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, table, &format!("{table}-bucket")).await;
    let store = Arc::new(DynamoActivityStore::from_sdk(&sdk, table.to_string()));
    (moto, sdk, store)
}

#[tokio::test]
async fn sqlite_claims_and_redelivery() {
    let (_tmp, store) = sqlite();
    claims_contract(store).await;
}

#[tokio::test]
async fn dynamodb_claims_and_redelivery() {
    let (_moto, _, store) = dynamo("claims").await;
    claims_contract(store).await;
}

#[tokio::test]
async fn sqlite_counts_the_same_bill_once() {
    let (_tmp, store) = sqlite();
    dedupe_contract(store).await;
}

#[tokio::test]
async fn dynamodb_counts_the_same_bill_once() {
    let (_moto, _, store) = dynamo("dedupe").await;
    dedupe_contract(store).await;
}

#[tokio::test]
async fn sqlite_replaces_emissions_and_restates() {
    let (_tmp, store) = sqlite();
    emissions_contract(store).await;
}

#[tokio::test]
async fn dynamodb_replaces_emissions_and_restates() {
    let (_moto, _, store) = dynamo("emissions").await;
    emissions_contract(store).await;
}

/// The calculate function reads activities off the stream with `activity_from_image`;
/// files, emission lines and the bookkeeping items must not look like activities.
#[tokio::test]
async fn dynamodb_stream_carries_activities_only_as_activities() {
    let (_moto, sdk, store) = dynamo("actstream").await;
    let f = file(TAX, "bill.pdf", "v1");
    store.claim_file(&f, t0(), Duration::minutes(10)).await.unwrap();
    let a = bill(&f, 1, "01-2345-67", NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    let b = bill(&f, 2, "01-2345-67", NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    let stored = store.finish_file(&f, vec![a.clone(), b]).await.unwrap();
    store.replace_emissions(&tax(TAX), &a.id, vec![line(TAX, &a.id, "2025-01", 10.0, "lib")], t0()).await.unwrap();
    let mut rejected = a.clone();
    rejected.status = ActivityStatus::Rejected;
    let rejected = store.update_activity(&rejected, 1).await.unwrap();
    let freed = store.get_activity(&tax(TAX), &stored[1].id).await.unwrap().unwrap();

    let records = stream_records(&sdk, "actstream").await;
    let decoded: Vec<(String, Activity)> = records
        .iter()
        .filter_map(|(name, img)| ecosphere::records::activity_from_image(img).map(|r| (name.clone(), r.unwrap())))
        .collect();
    let expected = vec![
        ("INSERT".to_string(), a.clone()),
        ("INSERT".to_string(), stored[1].clone()),
        ("MODIFY".to_string(), rejected),
        ("MODIFY".to_string(), freed),
    ];
    assert_eq!(decoded, expected);
    // Everything else on the stream (file, dedupe, marker, emission) is another entity.
    let others: Vec<String> = records
        .iter()
        .filter(|(_, img)| ecosphere::records::activity_from_image(img).is_none())
        .filter_map(|(_, img)| match img.get("entity") {
            Some(serde_dynamo::AttributeValue::S(e)) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert!(others.contains(&"file".to_string()) && others.contains(&"emission".to_string()), "{others:?}");
    assert!(!others.iter().any(|e| e == "activity"));
}
