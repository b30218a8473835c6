//! Fault injection (issue 13): random crash points over the apply → review → e-mail flow
//! and a batch of dropped files, on the local system (SQLite, blob folder, outbox).
//!
//! A schedule runs the users' workload with a crash plan (`ecosphere::faults`): at a
//! random store call the process dies before the call, dies right after it, or the
//! calling task panics. Then the system restarts on the same data directory (a second
//! crash strikes during recovery in a third of the schedules), users retry what failed
//! for them (the same form with the same idempotency key, the review link again), and
//! the clock moves on past every lease while the watcher, the feed and the sweepers run.
//!
//! The result must equal a run without faults: every file in its final state with the
//! same activities, every activity counted once (the same emission lines and firm-year
//! totals), every e-mail in the outbox exactly once, nothing left claimed, queued or
//! dead-lettered. The seed is printed; `FAULT_SEED=…` and `FAULT_SCHEDULES=…` replay.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecosphere::adapters::drop::DropWatcher;
use ecosphere::adapters::sqlite::feed::ChangeFeed;
use ecosphere::domain::{ApplicationStatus, EmailAddress, RawForm, ReviewAction, TaxId};
use ecosphere::faults::{Faults, Mode};
use ecosphere::ports::{ManualClock, Submission};
use ecosphere::App;

use super::common::{Rng, aws_config, create_resources, moto_sent_emails, sdk, set_aws_env, stream_event, valid_form, Moto};

const TAX: &str = "22099131";
const REVIEWERS: &str = "reviewer@ecosphere.example.com,second@ecosphere.example.com";
const KEY: &str = "6b1f3f0e-8d0b-4a5e-9a51-3c1a2f5e7d90";

/// Three ledgers of one company (distinct meters and periods: no duplicates between them).
const FILES: [(&str, &str); 3] = [
    ("ledger-q1.csv", "類別,數量,單位,起日,迄日,電號或水號,金額,發票號碼\n電力,1234,kWh,2025-01-05,2025-03-06,07-12-3456-78-9,4567,\n自來水,56,度,2025-01-10,2025-03-11,3-1234567-8,789,\n"),
    ("ledger-q2.csv", "類別,數量,單位,起日,迄日,電號或水號,金額,發票號碼\n電力,1500,kWh,2025-03-07,2025-05-06,07-12-3456-78-9,5100,\n95無鉛汽油,30.5,L,2025-04-15,2025-04-15,,952,AB-12345678\n"),
    ("fuel.csv", "類別,細項,數量,單位,起日,迄日,電號或水號,金額,發票號碼\n柴油,,120,L,2025-05-02,2025-05-02,,3600,CD-22223333\n冷媒,R-410A,3.5,kg,2025-06-02,2025-06-02,,4200,\n"),
];


/// The run's seed: `FAULT_SEED`, or the time.
fn seed() -> u64 {
    std::env::var("FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    })
}

/// Injected panics are expected by the hundred: their backtraces stay out of the log.
fn quiet_injected_panics() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let injected = info.payload().downcast_ref::<String>().is_some_and(|m| m.starts_with("injected panic"));
        if !injected {
            default_hook(info);
        }
    }));
}

/// One schedule's crash plans: a random mode at one of the first run's `calls`, and in
/// a third of the schedules a second crash (kill) within the recovery's first `recovery_calls`.
fn plans(rng: &mut Rng, calls: u64, recovery_calls: u64) -> (Mode, Vec<Arc<Faults>>) {
    let mode = match rng.below(3) {
        0 => Mode::Kill,
        1 => Mode::KillAfter,
        _ => Mode::Panic,
    };
    let mut plans = vec![Faults::new(rng.below(calls as usize) as u64, mode)];
    if rng.below(3) == 0 {
        let second = if rng.below(2) == 0 { Mode::Kill } else { Mode::KillAfter };
        plans.push(Faults::new(rng.below(recovery_calls as usize) as u64, second));
    }
    (mode, plans)
}

fn config(dir: &Path, faults: Option<Arc<Faults>>) -> ecosphere::Config {
    let d = dir.to_string_lossy().to_string();
    let mut c = ecosphere::Config::from_lookup(|k| match k {
        "APP_DATA_DIR" => Some(d.clone()),
        "APP_ADDR" => Some("127.0.0.1:0".into()),
        "APP_REVIEWERS" => Some(REVIEWERS.into()),
        "APP_OCR" => Some("none".into()),
        _ => None,
    })
    .unwrap();
    c.faults = faults;
    c
}

/// Runs `f`, turning a panic (an injected one) into an error, as a server's request
/// task would end with it.
async fn attempt<T>(f: impl std::future::Future<Output = Result<T, ecosphere::AppError>>) -> Result<T, ecosphere::AppError> {
    ecosphere::stream::confined("workload", f).await
}

/// What the users do, and redo when it failed for them. Idempotent by design: the
/// same form with the same key, the review link for the version they were sent.
async fn users(app: &Arc<App>) {
    let mut form = valid_form("維他命股份有限公司", TAX);
    form.push(("idempotency_key".into(), KEY.into()));
    let submitted = attempt(app.apply.submit(&RawForm(form))).await;
    let application = match submitted {
        Ok(Submission::Created(a) | Submission::Replayed(a)) => Some(a),
        Err(_) => None,
    };
    let Some(application) = application else { return };
    // The reviewer follows the link from the e-mail (sent only once the request is out).
    let reviewer = EmailAddress::parse("reviewer@ecosphere.example.com").unwrap();
    let Ok(Some(current)) = attempt(app.applications.get(&application.id)).await else { return };
    if current.status == ApplicationStatus::Pending {
        let token = app.review.token(&current, ReviewAction::Approve, &reviewer, chrono::Duration::days(7));
        let _ = attempt(app.review.decide(&token, Some("approve"), None)).await;
    }
}

/// Copies the batch into the drop folder (once: the bookkeeper drops it one time).
fn drop_files(dir: &Path) {
    let batch = dir.join("drop").join(TAX).join("2025-h1");
    std::fs::create_dir_all(&batch).unwrap();
    for (name, text) in FILES {
        std::fs::write(batch.join(name), text).unwrap();
    }
}

/// One round of the background work: the watcher (scan, deliver, sweep), the change
/// feed (every consumer, then its dead letters).
async fn background(app: &Arc<App>) {
    let local = app.local.as_ref().unwrap();
    let watcher = DropWatcher::new(local.drop_dir.clone(), local.rejected_dir.clone(), app.blobs.clone(), local.db.clone(), app.clock.clone());
    let feed = ChangeFeed::new(local.db.clone(), app.config.feed.clone(), app.clock.clone());
    let max = app.config.feed.max_attempts;
    let ingest = ecosphere_local::object_consumer(app).unwrap();
    for _ in 0..2 {
        let _ = attempt(watcher.scan()).await;
    }
    for _ in 0..max {
        let _ = attempt(watcher.deliver(ingest.as_ref(), max)).await;
    }
    let _ = attempt(watcher.redrive(ingest.as_ref(), max)).await;
    let _ = attempt(app.ingest.sweep()).await;
    let _ = attempt(app.notify.reconcile(app.applications.as_ref())).await;
    for c in ecosphere_local::stream_consumers(app) {
        for _ in 0..3 {
            let _ = attempt(feed.drain(c.as_ref())).await;
        }
        let _ = attempt(feed.redrive(c.as_ref())).await;
    }
}

/// What the system holds at the end, in a form two runs can be compared by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Outcome {
    application: Option<(String, u32)>,
    decisions: usize,
    members: usize,
    /// Outbox messages (recipients | subject) → copies.
    emails: BTreeMap<String, usize>,
    /// File name → (status, activities, needs review, duplicates).
    files: BTreeMap<String, (String, u32, u32, u32)>,
    activities: usize,
    /// Activity id → emission lines (scope, grams).
    lines: BTreeMap<String, Vec<(String, i64)>>,
    totals: Option<i64>,
    stuck: Vec<String>,
}

async fn outcome(app: &Arc<App>, dir: &Path) -> Outcome {
    let tax = TaxId::parse(TAX).unwrap();
    let mut o = Outcome::default();
    let apps = app.applications.list_for_company(&tax).await.unwrap();
    if let Some(a) = apps.iter().find(|a| a.status != ApplicationStatus::Rejected) {
        o.application = Some((format!("{:?}", a.status), a.version));
    }
    o.members = app.members.list(&tax).await.unwrap().len();
    for e in std::fs::read_dir(dir.join("outbox")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".eml") {
            // Runs differ in ids (and so in notification keys): a message is known by
            // its recipients and subject, as its reader would know it.
            let text = std::fs::read_to_string(e.path()).unwrap();
            let header = |h: &str| text.lines().find(|l| l.starts_with(h)).unwrap_or_default().to_string();
            *o.emails.entry(format!("{} | {}", header("To:"), header("Subject:"))).or_default() += 1;
        }
    }
    for f in app.activities.list_files(&tax).await.unwrap() {
        if f.status.as_str() == "processing" {
            o.stuck.push(format!("file {} processing", f.name));
        }
        o.files.insert(f.name.clone(), (f.status.as_str().to_string(), f.activities, f.needs_review, f.duplicates));
    }
    o.activities = app.activities.list_activities(&tax, None).await.unwrap().len();
    for l in app.activities.list_emissions(&tax, None).await.unwrap() {
        o.lines.entry(l.activity_id.clone()).or_default().push((format!("{}/{}", l.scope, l.category), (l.kg_co2e * 1000.0).round() as i64));
    }
    for v in o.lines.values_mut() {
        v.sort();
    }
    o.totals = app.calculate_totals(&tax, 2025).await;
    let db = app.local.as_ref().unwrap().db.clone();
    let leftovers: Vec<String> = db
        .call(|conn| {
            let mut out = Vec::new();
            let decisions: i64 = conn.query_row("SELECT COUNT(*) FROM application_decisions", [], |r| r.get(0)).unwrap();
            out.push(format!("decisions={decisions}"));
            for (sql, what) in [
                ("SELECT key FROM notifications WHERE state = 'sending'", "notification still claimed"),
                ("SELECT key FROM drop_events WHERE delivered_at IS NULL", "drop event not delivered"),
                ("SELECT consumer || ':' || seq FROM feed_dead_letters", "dead letter"),
            ] {
                let mut st = conn.prepare(sql).unwrap();
                for r in st.query_map([], |r| r.get::<_, String>(0)).unwrap() {
                    out.push(format!("{what}: {}", r.unwrap()));
                }
            }
            Ok(out)
        })
        .await
        .unwrap();
    let mut leftovers = leftovers.into_iter();
    o.decisions = leftovers.next().unwrap().trim_start_matches("decisions=").parse().unwrap();
    o.stuck.extend(leftovers);
    let waiting = walk(&dir.join("drop"));
    if !waiting.is_empty() {
        o.stuck.push(format!("left in the drop folder: {waiting:?}"));
    }
    o
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.file_name().to_string_lossy().to_string());
        }
    }
    out
}

trait Totals {
    async fn calculate_totals(&self, tax: &TaxId, year: i32) -> Option<i64>;
}
impl Totals for App {
    async fn calculate_totals(&self, tax: &TaxId, year: i32) -> Option<i64> {
        let db = self.local.as_ref().unwrap().db.clone();
        let totals = ecosphere::adapters::SqliteTotalsStore::new(db);
        ecosphere::ports::TotalsStore::get(&totals, tax, year).await.unwrap().map(|t| t.grams_co2e)
    }
}

/// The whole life of one schedule: workload with the plan, restarts, recovery rounds.
/// `plans` are the crash plans of the first run and of the recovery (if any).
async fn run_schedule(dir: &Path, clock: Arc<ManualClock>, plans: &[Arc<Faults>]) -> Outcome {
    let first = plans.first().cloned();
    let mut app = App::with_clock(config(dir, first.clone()), clock.clone()).await.unwrap();
    users(&app).await;
    background(&app).await;
    drop_files(dir);
    background(&app).await;
    users(&app).await;
    background(&app).await;
    let mut later = plans.iter().skip(1);
    // Recovery: restart when the process died (a panic leaves it running), then rounds
    // of users retrying and background work, with time moving on past every lease.
    for round in 0..12 {
        let died = app.config.faults.as_ref().is_some_and(|f| f.dead());
        if died || (round == 0 && app.config.faults.is_some()) {
            let plan = if died { later.next().cloned() } else { None };
            drop(app);
            app = App::with_clock(config(dir, plan), clock.clone()).await.unwrap();
        }
        clock.advance(chrono::Duration::minutes(1));
        users(&app).await;
        background(&app).await;
    }
    if app.config.faults.as_ref().is_some_and(|f| f.dead()) {
        // The second crash struck in the last round: one more restart and round.
        drop(app);
        app = App::with_clock(config(dir, None), clock.clone()).await.unwrap();
        for _ in 0..8 {
            clock.advance(chrono::Duration::minutes(1));
            users(&app).await;
            background(&app).await;
        }
    }
    outcome(&app, dir).await
}

fn start_time() -> DateTime<Utc> {
    // A Monday morning in Taipei, inside the 2025 inventory year's next year.
    "2026-03-02T01:00:00Z".parse().unwrap()
}

#[derive(Default, Debug)]
struct Tally {
    schedules: usize,
    struck: usize,
    lost: usize,
    duplicated: usize,
    stuck: usize,
    by_mode: BTreeMap<String, usize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_at_random_points_lose_nothing_duplicate_nothing_and_leave_nothing_stuck() {
    let seed = seed();
    let schedules: usize = std::env::var("FAULT_SCHEDULES").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    println!("fault injection: seed {seed} (FAULT_SEED={seed} replays), {schedules} schedules");
    quiet_injected_panics();

    // The run without faults: the expected outcome, and how many store calls it makes.
    let tmp = tempfile::tempdir().unwrap();
    let counter = Faults::counting();
    let expected = run_schedule(tmp.path(), Arc::new(ManualClock::new(start_time())), &[counter.clone()]).await;
    let calls = counter.calls();
    assert!(expected.stuck.is_empty(), "{:?}", expected.stuck);
    assert_eq!(expected.application.as_ref().map(|a| a.0.as_str()), Some("Approved"));
    assert_eq!((expected.decisions, expected.members), (1, 1), "one decision, the applicant as the admin member");
    assert_eq!(expected.emails.len(), 3, "two review requests and the decision: {:?}", expected.emails);
    assert_eq!(expected.files.len(), 3);
    assert!(expected.activities >= 6 && expected.totals.unwrap_or(0) > 0, "{expected:?}");
    println!("fault injection: a run without faults makes {calls} store calls, {} e-mails, {} activities", expected.emails.len(), expected.activities);

    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    // The first run's calls are where crashes strike; a recovery crash strikes within its first calls.
    let first_run_calls = calls.min(400);
    for i in 0..schedules {
        let tmp = tempfile::tempdir().unwrap();
        let (mode, plans) = plans(&mut rng, first_run_calls, 120);
        let got = run_schedule(tmp.path(), Arc::new(ManualClock::new(start_time())), &plans).await;
        tally.schedules += 1;
        if plans[0].struck() {
            tally.struck += 1;
            *tally.by_mode.entry(format!("{mode:?}")).or_default() += 1;
        }
        let lost = expected.emails.keys().filter(|k| !got.emails.contains_key(*k)).count()
            + expected.files.keys().filter(|k| !got.files.contains_key(*k)).count()
            + expected.activities.saturating_sub(got.activities)
            + usize::from(got.application.is_none());
        let duplicated = got.emails.values().map(|n| n.saturating_sub(1)).sum::<usize>()
            + got.activities.saturating_sub(expected.activities)
            + got.decisions.saturating_sub(expected.decisions);
        tally.lost += lost;
        tally.duplicated += duplicated;
        tally.stuck += got.stuck.len();
        if got != expected {
            failures.push(format!(
                "schedule {i} (plans {:?}): lost {lost}, duplicated {duplicated}, stuck {:?}\n  got      {got:?}\n  expected {expected:?}",
                plans.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>(),
                got.stuck
            ));
        }
    }
    println!(
        "fault injection: seed {seed}: {} schedules ({} struck: {:?}): {} lost, {} duplicated, {} stuck, {} differ from the run without faults",
        tally.schedules,
        tally.struck,
        tally.by_mode,
        tally.lost,
        tally.duplicated,
        tally.stuck,
        failures.len()
    );
    assert!(failures.is_empty(), "seed {seed}: {} schedules differ:\n{}", failures.len(), failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n"));
    assert!(tally.struck * 10 >= tally.schedules * 9, "most schedules crash somewhere: {tally:?}");
}

/// The same flow on the AWS emulator (DynamoDB + its stream, SESv2), with the crash
/// plan in front of the SDK's HTTP client: every SDK request is a crash point (never
/// sent, sent with its answer lost, or a panic in the caller). The stream is delivered
/// from its start on every round, as Lambda's retries would; the notification sweeper
/// runs after it.
async fn run_aws_schedule(moto: &str, sdk: &aws_config::SdkConfig, clock: Arc<ManualClock>, plans: &[Arc<Faults>]) -> AwsOutcome {
    reqwest::Client::new().post(format!("{moto}/moto-api/reset")).send().await.unwrap().error_for_status().unwrap();
    create_resources(sdk, "faults", "faults-bucket").await;
    let config = |faults: Option<Arc<Faults>>| {
        let mut c = aws_config(moto, "faults", "faults-bucket");
        c.reviewers = REVIEWERS.split(',').map(|r| EmailAddress::parse(r).unwrap()).collect();
        c.faults = faults;
        c
    };
    let mut app = App::with_clock(config(plans.first().cloned()), clock.clone()).await.unwrap();
    let round = |app: Arc<App>| async move {
        users(&app).await;
        let consumer = notify::NotifyConsumer::new(app.clone());
        let batch = stream_event(sdk, "faults").await;
        let _ = ecosphere::stream::confined("stream", async {
            let resp = ecosphere::stream::StreamConsumer::handle(&consumer, batch).await?;
            if resp.batch_item_failures.is_empty() { Ok(()) } else { Err(ecosphere::AppError::Unavailable("batch item failures".into())) }
        })
        .await;
        let _ = attempt(app.notify.reconcile(app.applications.as_ref())).await;
    };
    round(app.clone()).await;
    round(app.clone()).await;
    let mut later = plans.iter().skip(1);
    for r in 0..10 {
        let died = app.config.faults.as_ref().is_some_and(|f| f.dead());
        if died || (r == 0 && app.config.faults.is_some()) {
            let plan = if died { later.next().cloned() } else { None };
            drop(app);
            app = App::with_clock(config(plan), clock.clone()).await.unwrap();
        }
        clock.advance(chrono::Duration::minutes(1));
        round(app.clone()).await;
    }
    if app.config.faults.as_ref().is_some_and(|f| f.dead()) {
        drop(app);
        app = App::with_clock(config(None), clock.clone()).await.unwrap();
        for _ in 0..7 {
            clock.advance(chrono::Duration::minutes(1));
            round(app.clone()).await;
        }
    }
    let clean = App::with_clock(config(None), clock.clone()).await.unwrap();
    let tax = TaxId::parse(TAX).unwrap();
    let apps = clean.applications.list_for_company(&tax).await.unwrap();
    let mut o = AwsOutcome {
        applications: apps.iter().map(|a| (format!("{:?}", a.status), a.version)).collect(),
        members: clean.members.list(&tax).await.unwrap().len(),
        ..Default::default()
    };
    for (to, raw) in moto_sent_emails(moto).await {
        let subject = raw.lines().find(|l| l.starts_with("Subject:")).unwrap_or_default().to_string();
        *o.emails.entry(format!("{} | {subject}", to.join(","))).or_default() += 1;
    }
    o
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct AwsOutcome {
    applications: Vec<(String, u32)>,
    members: usize,
    emails: BTreeMap<String, usize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_emulator_failed_sdk_calls_lose_nothing_and_send_no_email_more_than_twice() {
    let seed = seed();
    let schedules: usize = std::env::var("FAULT_SCHEDULES_EMULATOR").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    println!("fault injection on the emulator: seed {seed} (FAULT_SEED={seed} replays), {schedules} schedules");
    quiet_injected_panics();
    let moto = Moto::start();
    set_aws_env();
    let sdk = sdk(&moto.url).await;

    let counter = Faults::counting();
    let expected = run_aws_schedule(&moto.url, &sdk, Arc::new(ManualClock::new(start_time())), &[counter.clone()]).await;
    let calls = counter.calls();
    assert_eq!(expected.applications, vec![("Approved".to_string(), 2)], "{expected:?}");
    assert_eq!(expected.members, 1);
    assert_eq!(expected.emails.len(), 3, "two review requests and the decision: {expected:?}");
    assert!(expected.emails.values().all(|&n| n == 1), "{expected:?}");
    println!("fault injection on the emulator: a run without faults makes {calls} SDK calls, {} e-mails", expected.emails.len());

    let mut rng = Rng(seed);
    let (mut struck, mut lost, mut duplicated) = (0, 0, 0);
    let mut by_mode: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for i in 0..schedules {
        let (mode, plans) = plans(&mut rng, calls.min(400), 60);
        let got = run_aws_schedule(&moto.url, &sdk, Arc::new(ManualClock::new(start_time())), &plans).await;
        if plans[0].struck() {
            struck += 1;
            *by_mode.entry(format!("{mode:?}")).or_default() += 1;
        }
        lost += expected.emails.keys().filter(|k| !got.emails.contains_key(*k)).count() + usize::from(got.applications.is_empty());
        duplicated += got.emails.values().map(|n| n.saturating_sub(1)).sum::<usize>() + got.applications.len().saturating_sub(1);
        // SES has no idempotency key: a crash after SES accepted a message and before its
        // claim was marked sent leaves the claim to expire, and the sweeper sends it again
        // (at least once; the outbox and the local system are exactly once). So here a
        // second copy is counted, never a third, and never a loss.
        let at_most_twice = got.emails.values().all(|&n| n <= 2);
        let same_keys = got.emails.keys().eq(expected.emails.keys());
        if got.applications != expected.applications || got.members != expected.members || !same_keys || !at_most_twice {
            failures.push(format!("schedule {i} (plans {plans:?}):\n  got      {got:?}\n  expected {expected:?}"));
        }
    }
    println!(
        "fault injection on the emulator: seed {seed}: {schedules} schedules ({struck} struck: {by_mode:?}): {lost} lost, {duplicated} duplicated (SES: a crash between SendEmail and marking the claim), {} wrong",
        failures.len()
    );
    assert!(failures.is_empty(), "seed {seed}: {} schedules differ:\n{}", failures.len(), failures.iter().take(5).cloned().collect::<Vec<_>>().join("\n"));
    assert!(struck * 10 >= schedules * 9, "most schedules crash somewhere: {struck} of {schedules}");
}
