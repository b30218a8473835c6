//! `ActivityStore` in DynamoDB (the single table: pk/sk, gsi1, sparse gsi2, stream
//! NEW_AND_OLD_IMAGES). Everything of a company lives under `pk = COMPANY#{tax}`:
//!
//! - `ACTIVITY#{id}`: the activity, exactly the `records::ActivityItem` serialisation
//!   (the calculate function decodes stream images with `records::activity_from_image`);
//! - `FILE#{key}#{version}`: a dropped file (entity `file`), claimed with a conditional put;
//! - `EMISSION#{activity}#{month}`: an emission line (entity `emission`);
//! - `RESTATE#{timestamp}#{activity}`: a restatement (entity `restatement`);
//! - `DEDUPE#{key}`: which activity holds a bill's dedupe key (entity `dedupe`). It is
//!   written in the same `TransactWriteItems` as the activity, with the condition "absent,
//!   or already ours", so of two concurrent files with the same bill exactly one counts;
//!   the holder releases it (or hands it to a waiting duplicate) when it stops counting;
//! - `ACTIVITIES`: a marker with `gsi2pk = HAS_ACTIVITIES` (sparse gsi2), so
//!   `companies()` is one Query.
//!
//! The semantics are those of `SqliteActivityStore`: only an accepted activity holds
//! its dedupe key; another copy is stored as its `Duplicate`, or, when it waits for a
//! person, keeps waiting with `duplicate_of` and the review hint `DUPLICATE_HINT`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::aws::sdk_err;
use super::dynamo::cancellation_reasons;
use crate::domain::inventory::{Activity, ActivityStatus, EmissionRecord, FileRecord, FileStatus, Restatement};
use crate::domain::TaxId;
use crate::error::{AppError, AppResult};
use crate::ports::{ActivityStore, FileClaim};
use crate::records::{activity_sk, dedupe_sk, emission_sk, file_sk, timestamp, ActivityItem, ENTITY_EMISSION, ENTITY_FILE};

/// DynamoDB's limit of items in one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// Retries of a transaction that lost a race (`TransactionConflict`, a dedupe key taken
/// between the read and the write).
const CONFLICT_RETRIES: u32 = 8;
/// The sparse gsi2 partition of files being read (sort key: when the claim was taken).
const FILE_PROCESSING_GSI2PK: &str = "FILE#processing";

/// The sparse gsi2 partition of the "this company has activities" markers.
pub const HAS_ACTIVITIES_GSI2PK: &str = "HAS_ACTIVITIES";
/// The sort key of a company's marker item.
pub const ACTIVITIES_MARKER_SK: &str = "ACTIVITIES";
const ENTITY_DEDUPE: &str = "dedupe";
const ENTITY_RESTATEMENT: &str = "restatement";
const ENTITY_MARKER: &str = "company_activities";

/// The zh-TW message of a lost optimistic-concurrency race (as in SQLite).
fn version_conflict() -> AppError {
    AppError::Conflict("這筆資料已被其他人更新，請重新整理後再修改".into())
}
fn activity_not_found() -> AppError {
    AppError::NotFound("找不到這筆活動數據".into())
}

type Item = HashMap<String, AttributeValue>;

fn company(tax: &str) -> String {
    format!("COMPANY#{tax}")
}

fn to_item<T: Serialize>(v: &T) -> AppResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| AppError::internal(format!("encode item: {e}")))
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> AppResult<T> {
    serde_dynamo::from_item(item).map_err(|e| AppError::internal(format!("decode item: {e}")))
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_string(), AttributeValue::S(pk)), ("sk".to_string(), AttributeValue::S(sk))])
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

#[derive(Debug, Serialize, Deserialize)]
struct FileItem {
    pk: String,
    sk: String,
    entity: String,
    /// When the current claim was taken (a claim older than the lease is taken over).
    claimed_at: String,
    /// Sparse gsi2 entry (`FILE_PROCESSING_GSI2PK`, claimed_at) only while the file is
    /// `Processing`: the sweeper finds abandoned claims without scanning companies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    /// How many times reading was started (a takeover of a stale claim adds one).
    #[serde(default = "one_read")]
    reads: u32,
    #[serde(flatten)]
    file: FileRecord,
}

fn one_read() -> u32 {
    1
}

impl FileItem {
    fn new(file: &FileRecord, claimed_at: String) -> Self {
        Self {
            pk: company(&file.tax_id),
            sk: file_sk(&file.key, &file.version),
            entity: ENTITY_FILE.into(),
            gsi2pk: (file.status == FileStatus::Processing).then(|| FILE_PROCESSING_GSI2PK.to_string()),
            gsi2sk: (file.status == FileStatus::Processing).then(|| claimed_at.clone()),
            claimed_at,
            reads: 1,
            file: file.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct EmissionItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(flatten)]
    line: EmissionRecord,
}

#[derive(Debug, Serialize, Deserialize)]
struct RestatementItem {
    pk: String,
    sk: String,
    entity: String,
    #[serde(flatten)]
    restatement: Restatement,
}

#[derive(Debug, Serialize, Deserialize)]
struct DedupeItem {
    pk: String,
    sk: String,
    entity: String,
    activity_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct MarkerItem {
    pk: String,
    sk: String,
    entity: String,
    gsi2pk: String,
    gsi2sk: String,
    tax_id: String,
}

/// The outcome of one try of a transaction.
enum Attempt<T> {
    Done(T),
    Failed(AppError),
    /// Lost a race: read again and try again.
    Retry,
}

/// Runs `attempt` until it is done, failed, or has lost `CONFLICT_RETRIES` races.
async fn with_conflict_retries<T, F, Fut>(mut attempt: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = AppResult<Attempt<T>>>,
{
    for n in 0..=CONFLICT_RETRIES {
        match attempt().await? {
            Attempt::Done(t) => return Ok(t),
            Attempt::Failed(e) => return Err(e),
            Attempt::Retry => {
                let base = 10u64 << n.min(6);
                let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % base;
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            }
        }
    }
    Err(AppError::Unavailable("TransactWriteItems: too many transaction conflicts".into()))
}

// ---------------------------------------------------------------------------------
// The write plan: activities and the dedupe items they take, keep or give back, in
// one transaction. Pure (no I/O), so the dedupe rules are unit-tested without a table.
// ---------------------------------------------------------------------------------

/// What a dedupe item must look like when the transaction runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// It names this activity.
    HeldBy(String),
    /// It is absent or names this activity.
    FreeOr(String),
}

/// The one operation of a transaction on a dedupe item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyOp {
    expect: Expect,
    /// The holder afterwards (`None`: the item is deleted).
    after: Option<String>,
    /// False for a pure condition check (the holder stays as it is).
    write: bool,
}

impl KeyOp {
    fn acquire(id: &str) -> Self {
        Self { expect: Expect::FreeOr(id.into()), after: Some(id.into()), write: true }
    }
    fn release(id: &str) -> Self {
        Self { expect: Expect::HeldBy(id.into()), after: None, write: true }
    }
    fn check(id: &str) -> Self {
        Self { expect: Expect::HeldBy(id.into()), after: Some(id.into()), write: false }
    }
    /// `next` applied after `self` in the same transaction: one operation on the item.
    fn then(self, next: KeyOp) -> Self {
        Self { expect: self.expect, after: next.after, write: self.write || next.write }
    }
}

/// The condition on an activity item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActivityCond {
    /// Not stored yet.
    New,
    /// Stored at this version.
    Version(u32),
}

/// The review hint on a waiting activity whose bill was already recorded (shared with SQLite).
pub use crate::domain::inventory::DUPLICATE_HINT;

/// The dedupe key an activity holds: only a counted (accepted) activity holds its key,
/// so a bill waiting for a person never blocks a clean copy from counting (as SQLite).
fn held_key(a: &Activity) -> Option<&str> {
    match a.status {
        ActivityStatus::Accepted => a.dedupe_key.as_deref(),
        ActivityStatus::NeedsReview | ActivityStatus::Duplicate | ActivityStatus::Rejected => None,
    }
}

#[derive(Debug, Default)]
struct Plan {
    activities: Vec<(Activity, ActivityCond)>,
    keys: BTreeMap<String, KeyOp>,
    /// The holders of dedupe keys as read from the table (`None`: free).
    known: HashMap<String, Option<String>>,
}

impl Plan {
    /// The dedupe keys whose holders `add` needs to know.
    fn needed_keys(&self, a: &Activity, old: Option<&Activity>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in [a.dedupe_key.as_ref(), old.and_then(|o| o.dedupe_key.as_ref())].into_iter().flatten() {
            if !self.known.contains_key(k) && !self.keys.contains_key(k) && !out.contains(k) {
                out.push(k.clone());
            }
        }
        out
    }

    /// Who holds `key` once the planned operations ran.
    fn holder(&self, key: &str) -> Option<&str> {
        match self.keys.get(key) {
            Some(op) => op.after.as_deref(),
            None => self.known.get(key).and_then(|h| h.as_deref()),
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.activities.iter().any(|(a, _)| a.id == id)
    }

    /// Number of items the transaction writes or checks.
    fn len(&self) -> usize {
        self.activities.len() + self.keys.len()
    }

    fn push_key_op(&mut self, key: &str, op: KeyOp) {
        let merged = match self.keys.remove(key) {
            Some(prev) => prev.then(op),
            None => op,
        };
        self.keys.insert(key.to_string(), merged);
    }

    /// Plans writing `a` (the new state; `old` as stored): applies dedupe as SQLite does
    /// and returns the activity as it will be stored.
    fn add(&mut self, mut a: Activity, old: Option<&Activity>, cond: ActivityCond) -> Activity {
        let mut held_by_other = None;
        if a.status != ActivityStatus::Rejected {
            let holder = a.dedupe_key.as_deref().and_then(|k| self.holder(k)).filter(|h| *h != a.id).map(String::from);
            held_by_other = holder.clone();
            a.apply_dedupe(holder);
        }
        let new_key = held_key(&a).map(String::from);
        // Give back a key this activity held and no longer holds.
        if let Some(ok) = old.and_then(|o| o.dedupe_key.clone()) {
            if self.holder(&ok) == Some(a.id.as_str()) && new_key.as_deref() != Some(ok.as_str()) {
                self.push_key_op(&ok, KeyOp::release(&a.id));
            }
        }
        if let Some(k) = &new_key {
            self.push_key_op(k, KeyOp::acquire(&a.id));
        } else if let (Some(k), Some(h)) = (a.dedupe_key.clone(), held_by_other) {
            // A duplicate (or a hinted waiting copy) is stored only while its original
            // still holds the key.
            self.push_key_op(&k, KeyOp::check(&h));
        }
        self.activities.push((a.clone(), cond));
        a
    }
}

/// Does an activity's period touch `year` (the filter of SQLite's `list_activities`)?
fn touches_year(a: &Activity, year: i32) -> bool {
    use chrono::Datelike;
    match (a.period_start, a.period_end) {
        (Some(s), Some(e)) => s.year() <= year && e.year() >= year,
        (Some(d), None) | (None, Some(d)) => d.year() == year,
        // Undated items waiting for a person are shown in every year.
        (None, None) => true,
    }
}

/// A file's outcome from its stored activities (as SQLite's `finish_file`).
fn file_outcome(file: &FileRecord, stored: &[Activity]) -> FileRecord {
    let mut f = file.clone();
    f.activities = stored.len() as u32;
    f.needs_review = stored.iter().filter(|a| a.status == ActivityStatus::NeedsReview).count() as u32;
    f.duplicates = stored.iter().filter(|a| a.status == ActivityStatus::Duplicate).count() as u32;
    if f.status != FileStatus::Failed {
        f.status = if f.needs_review > 0 { FileStatus::NeedsReview } else { FileStatus::Done };
    }
    f
}

/// The file list as SQLite shows it: review and duplicate counts follow the activities
/// (a person's confirmations), sorted by batch, name and time.
fn refresh_files(mut files: Vec<FileRecord>, activities: &[Activity]) -> Vec<FileRecord> {
    for f in &mut files {
        let of_file = activities.iter().filter(|a| a.document == f.blob_key);
        let (mut review, mut dup) = (0u32, 0u32);
        for a in of_file {
            match a.status {
                ActivityStatus::NeedsReview => review += 1,
                ActivityStatus::Duplicate => dup += 1,
                _ => {}
            }
        }
        f.needs_review = review;
        f.duplicates = dup;
        if matches!(f.status, FileStatus::NeedsReview | FileStatus::Done) {
            f.status = if review > 0 { FileStatus::NeedsReview } else { FileStatus::Done };
        }
    }
    files.sort_by(|a, b| (&a.batch_id, &a.name, &a.received_at).cmp(&(&b.batch_id, &b.name, &b.received_at)));
    files
}

/// The restatement `replace_emissions` records, if any (same rule as SQLite).
fn restatement(tax: &str, activity_id: &str, old: &[EmissionRecord], new: &[EmissionRecord], now: DateTime<Utc>) -> Option<Restatement> {
    let old_total: f64 = old.iter().map(|l| l.kg_co2e).sum();
    let new_total: f64 = new.iter().map(|l| l.kg_co2e).sum();
    let (o, n) = (old.first()?, new.first()?);
    (o.library != n.library && (old_total - new_total).abs() > 1e-9).then(|| Restatement {
        tax_id: tax.to_string(),
        activity_id: activity_id.to_string(),
        old_kg_co2e: old_total,
        new_kg_co2e: new_total,
        old_library: o.library.clone(),
        new_library: n.library.clone(),
        at: timestamp(now),
    })
}

fn is_retryable(reasons: &[String]) -> bool {
    reasons.iter().any(|c| c == "TransactionConflict" || c == "ThrottlingError")
}

fn failed_at(reasons: &[String], i: usize) -> bool {
    reasons.get(i).is_some_and(|c| c == "ConditionalCheckFailed")
}

#[derive(Clone)]
pub struct DynamoActivityStore {
    client: Client,
    table: String,
}

impl DynamoActivityStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    async fn get_item(&self, key: Item) -> AppResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        Ok(out.item)
    }

    async fn query_prefix(&self, pk: String, prefix: &str) -> AppResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| sdk_err("Query", e))?.items.unwrap_or_default());
        }
        Ok(out)
    }

    async fn load_activity(&self, tax: &str, id: &str) -> AppResult<Option<Activity>> {
        match self.get_item(key(company(tax), activity_sk(id))).await? {
            Some(item) => Ok(Some(from_item::<ActivityItem>(item)?.activity)),
            None => Ok(None),
        }
    }

    async fn all_activities(&self, tax: &str) -> AppResult<Vec<Activity>> {
        self.query_prefix(company(tax), "ACTIVITY#")
            .await?
            .into_iter()
            .map(|i| from_item::<ActivityItem>(i).map(|a| a.activity))
            .collect()
    }

    /// Reads the holders of the dedupe keys `add` will need into the plan.
    async fn load_holders(&self, plan: &mut Plan, tax: &str, a: &Activity, old: Option<&Activity>) -> AppResult<()> {
        for k in plan.needed_keys(a, old) {
            let holder = match self.get_item(key(company(tax), dedupe_sk(&k))).await? {
                Some(item) => Some(from_item::<DedupeItem>(item)?.activity_id),
                None => None,
            };
            plan.known.insert(k, holder);
        }
        Ok(())
    }

    /// The transaction items of a plan: activities first (index = position in
    /// `plan.activities`), then the dedupe items.
    fn plan_items(&self, tax: &str, plan: &Plan) -> AppResult<Vec<TransactWriteItem>> {
        let mut items = Vec::with_capacity(plan.len());
        for (a, cond) in &plan.activities {
            let mut put = Put::builder().table_name(&self.table).set_item(Some(to_item(&ActivityItem::from(a))?));
            put = match cond {
                ActivityCond::New => put.condition_expression("attribute_not_exists(pk)"),
                ActivityCond::Version(v) => put
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            };
            items.push(TransactWriteItem::builder().put(put.build().map_err(AppError::internal)?).build());
        }
        for (k, op) in &plan.keys {
            let (cond, id) = match &op.expect {
                Expect::HeldBy(h) => ("activity_id = :h", h),
                Expect::FreeOr(h) => ("attribute_not_exists(pk) OR activity_id = :h", h),
            };
            let item = match (&op.after, op.write) {
                (Some(after), true) => {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_item(&DedupeItem {
                            pk: company(tax),
                            sk: dedupe_sk(k),
                            entity: ENTITY_DEDUPE.into(),
                            activity_id: after.clone(),
                        })?))
                        .condition_expression(cond)
                        .expression_attribute_values(":h", s(id))
                        .build()
                        .map_err(AppError::internal)?;
                    TransactWriteItem::builder().put(put).build()
                }
                (None, _) => {
                    let del = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(company(tax), dedupe_sk(k))))
                        .condition_expression(cond)
                        .expression_attribute_values(":h", s(id))
                        .build()
                        .map_err(AppError::internal)?;
                    TransactWriteItem::builder().delete(del).build()
                }
                (Some(_), false) => {
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(company(tax), dedupe_sk(k))))
                        .condition_expression(cond)
                        .expression_attribute_values(":h", s(id))
                        .build()
                        .map_err(AppError::internal)?;
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(item);
        }
        Ok(items)
    }

    fn marker_put(&self, tax: &str) -> AppResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&MarkerItem {
                pk: company(tax),
                sk: ACTIVITIES_MARKER_SK.into(),
                entity: ENTITY_MARKER.into(),
                gsi2pk: HAS_ACTIVITIES_GSI2PK.into(),
                gsi2sk: tax.to_string(),
                tax_id: tax.to_string(),
            })?))
            .build()
            .map_err(AppError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn plain_put(&self, item: Item) -> AppResult<TransactWriteItem> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item)).build().map_err(AppError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `Ok(Err(reasons))` when the transaction was cancelled.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> AppResult<Result<(), Vec<String>>> {
        if items.is_empty() {
            return Ok(Ok(()));
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => match cancellation_reasons(&e) {
                Some(reasons) => Ok(Err(reasons)),
                None => Err(sdk_err("TransactWriteItems", e)),
            },
        }
    }

    /// One transaction of `finish_file`: activities from `start` while they fit, and the
    /// file item when the last one fits too. Returns the stored activities and where the
    /// next chunk starts.
    async fn finish_chunk(
        &self,
        file: &FileRecord,
        activities: &[Activity],
        start: usize,
        with_marker: bool,
        earlier: &[Activity],
    ) -> AppResult<Attempt<(Vec<Activity>, usize, bool)>> {
        let tax = file.tax_id.as_str();
        let reserved = 2; // the marker and the file item
        let mut plan = Plan::default();
        let mut stored = Vec::new();
        let mut next = start;
        while let Some(a) = activities.get(next) {
            // At most 3 items per activity (itself, the key it takes, the key it gives back).
            if plan.len() + 3 + reserved > MAX_TRANSACTION_ITEMS || plan.contains(&a.id) {
                break;
            }
            let mut a = a.clone();
            if a.tax_id != tax {
                return Ok(Attempt::Failed(AppError::internal("activity of another company in finish_file")));
            }
            let old = self.load_activity(tax, &a.id).await?;
            let cond = match &old {
                Some(o) if o.confirmed_by.is_some() => {
                    // Redelivery of the same file version: keep a person's work.
                    stored.push(o.clone());
                    next += 1;
                    continue;
                }
                Some(o) => {
                    a.version = o.version + 1;
                    ActivityCond::Version(o.version)
                }
                None => ActivityCond::New,
            };
            self.load_holders(&mut plan, tax, &a, old.as_ref()).await?;
            stored.push(plan.add(a, old.as_ref(), cond));
            next += 1;
        }
        let mut items = self.plan_items(tax, &plan)?;
        let marker = with_marker && !plan.activities.is_empty();
        if marker {
            items.push(self.marker_put(tax)?);
        }
        if next >= activities.len() {
            let all: Vec<Activity> = earlier.iter().chain(stored.iter()).cloned().collect();
            let outcome = file_outcome(file, &all);
            items.push(self.plain_put(to_item(&FileItem::new(&outcome, outcome.updated_at.clone()))?)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Attempt::Done((stored, next, marker))),
            // Lost a race (a dedupe key was taken, the activity changed): read again.
            Err(reasons) if is_retryable(&reasons) || reasons.iter().any(|c| c == "ConditionalCheckFailed") => Ok(Attempt::Retry),
            Err(reasons) => Err(AppError::internal(format!("TransactWriteItems cancelled: {reasons:?}"))),
        }
    }

    async fn update_attempt(&self, activity: &Activity, expected_version: u32) -> AppResult<Attempt<Activity>> {
        let tax = activity.tax_id.as_str();
        let Some(old) = self.load_activity(tax, &activity.id).await? else { return Ok(Attempt::Failed(activity_not_found())) };
        if old.version != expected_version {
            return Ok(Attempt::Failed(version_conflict()));
        }
        let mut next = activity.clone();
        next.version = old.version + 1;
        let mut plan = Plan::default();
        self.load_holders(&mut plan, tax, &next, Some(&old)).await?;
        let a = plan.add(next, Some(&old), ActivityCond::Version(expected_version));
        // A duplicate waiting on this one is freed when this one no longer counts
        // (SQLite frees one: here the first by id).
        if !a.counts() && old.dedupe_key.is_some() {
            let mut waiting: Vec<Activity> = self
                .all_activities(tax)
                .await?
                .into_iter()
                .filter(|w| w.id != a.id && w.status == ActivityStatus::Duplicate && w.duplicate_of.as_deref() == Some(a.id.as_str()))
                .collect();
            waiting.sort_by(|x, y| x.id.cmp(&y.id));
            if let Some(before) = waiting.into_iter().next() {
                let mut freed = before.clone();
                freed.version += 1;
                freed.status = ActivityStatus::Accepted;
                freed.duplicate_of = None;
                freed.refresh();
                self.load_holders(&mut plan, tax, &freed, Some(&before)).await?;
                plan.add(freed, Some(&before), ActivityCond::Version(before.version));
            }
        }
        let items = self.plan_items(tax, &plan)?;
        match self.transact(items).await? {
            Ok(()) => Ok(Attempt::Done(a)),
            Err(reasons) if is_retryable(&reasons) => Ok(Attempt::Retry),
            Err(reasons) if failed_at(&reasons, 0) => match self.load_activity(tax, &activity.id).await? {
                None => Ok(Attempt::Failed(activity_not_found())),
                Some(now) if now.version != expected_version => Ok(Attempt::Failed(version_conflict())),
                Some(_) => Ok(Attempt::Retry),
            },
            Err(reasons) if reasons.iter().any(|c| c == "ConditionalCheckFailed") => Ok(Attempt::Retry),
            Err(reasons) => Err(AppError::internal(format!("TransactWriteItems cancelled: {reasons:?}"))),
        }
    }

    async fn replace_attempt(&self, tax: &str, activity_id: &str, lines: &[EmissionRecord], now: DateTime<Utc>) -> AppResult<Attempt<()>> {
        let pk = company(tax);
        let old: Vec<EmissionRecord> = self
            .query_prefix(pk.clone(), &format!("EMISSION#{activity_id}#"))
            .await?
            .into_iter()
            .map(|i| from_item::<EmissionItem>(i).map(|e| e.line))
            .collect::<AppResult<_>>()?;
        let old_by_sk: HashMap<String, &EmissionRecord> = old.iter().map(|l| (emission_sk(activity_id, &l.month), l)).collect();
        let mut items = Vec::new();
        // Each line is written only if it is still as read (a concurrent recalculation
        // makes this one retry, so the lines are never a mix of two).
        let mut new_sks = HashSet::new();
        for l in lines {
            let sk = emission_sk(activity_id, &l.month);
            if !new_sks.insert(sk.clone()) {
                return Ok(Attempt::Failed(AppError::internal(format!("two emission lines for month {}", l.month))));
            }
            let item = to_item(&EmissionItem { pk: pk.clone(), sk: sk.clone(), entity: ENTITY_EMISSION.into(), line: l.clone() })?;
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            let put = match old_by_sk.get(&sk) {
                Some(o) => put.condition_expression("computed_at = :c").expression_attribute_values(":c", s(&o.computed_at)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            items.push(TransactWriteItem::builder().put(put.build().map_err(AppError::internal)?).build());
        }
        for (sk, o) in &old_by_sk {
            if new_sks.contains(sk) {
                continue;
            }
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), sk.clone())))
                .condition_expression("computed_at = :c")
                .expression_attribute_values(":c", s(&o.computed_at))
                .build()
                .map_err(AppError::internal)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        if let Some(r) = restatement(tax, activity_id, &old, lines, now) {
            let item = to_item(&RestatementItem {
                pk: pk.clone(),
                sk: format!("RESTATE#{}#{activity_id}", r.at),
                entity: ENTITY_RESTATEMENT.into(),
                restatement: r,
            })?;
            items.push(self.plain_put(item)?);
        }
        // Over DynamoDB's limit (an activity spanning years of months): several
        // transactions, the restatement in the last one.
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(MAX_TRANSACTION_ITEMS));
            let chunk = std::mem::replace(&mut rest, tail);
            match self.transact(chunk).await? {
                Ok(()) => {}
                Err(reasons) if is_retryable(&reasons) || reasons.iter().any(|c| c == "ConditionalCheckFailed") => {
                    return Ok(Attempt::Retry)
                }
                Err(reasons) => return Err(AppError::internal(format!("TransactWriteItems cancelled: {reasons:?}"))),
            }
        }
        Ok(Attempt::Done(()))
    }
}

#[async_trait]
impl ActivityStore for DynamoActivityStore {
    async fn claim_file(&self, file: &FileRecord, now: DateTime<Utc>, lease: chrono::Duration) -> AppResult<FileClaim> {
        let mut claimed = file.clone();
        claimed.status = FileStatus::Processing;
        let mut fresh = FileItem::new(&claimed, timestamp(now));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&fresh)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => return Ok(FileClaim::Claimed),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(sdk_err("PutItem", e)),
        }
        // Files are never deleted; treat a vanished item as busy, the event is retried.
        let Some(item) = self.get_item(key(company(&file.tax_id), file_sk(&file.key, &file.version))).await? else {
            return Ok(FileClaim::InProgress);
        };
        let stored = from_item::<FileItem>(item)?;
        if stored.file.status != FileStatus::Processing {
            return Ok(FileClaim::AlreadyDone(stored.file));
        }
        if stored.claimed_at > timestamp(now - lease) {
            return Ok(FileClaim::InProgress);
        }
        // Take the stale claim over, only if no one else did since we read it.
        fresh.reads = stored.reads.saturating_add(1);
        let takeover = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&fresh)?))
            .condition_expression("#st = :processing AND claimed_at = :seen")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(FileStatus::Processing.as_str()))
            .expression_attribute_values(":seen", AttributeValue::S(stored.claimed_at.clone()))
            .send()
            .await;
        match takeover {
            Ok(_) => Ok(FileClaim::TakenOver { previous_reads: stored.reads }),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(FileClaim::InProgress),
            Err(e) => Err(sdk_err("PutItem", e)),
        }
    }

    async fn finish_file(&self, file: &FileRecord, activities: Vec<Activity>) -> AppResult<Vec<Activity>> {
        let mut with_marker = !activities.is_empty()
            && self.get_item(key(company(&file.tax_id), ACTIVITIES_MARKER_SK.into())).await?.is_none();
        let mut stored: Vec<Activity> = Vec::with_capacity(activities.len());
        let mut start = 0;
        loop {
            let (chunk, next, marker) =
                with_conflict_retries(|| self.finish_chunk(file, &activities, start, with_marker, &stored)).await?;
            with_marker &= !marker;
            stored.extend(chunk);
            start = next;
            if start >= activities.len() {
                return Ok(stored);
            }
        }
    }

    async fn list_files(&self, tax_id: &TaxId) -> AppResult<Vec<FileRecord>> {
        let tax = tax_id.to_string();
        let files: Vec<FileRecord> = self
            .query_prefix(company(&tax), "FILE#")
            .await?
            .into_iter()
            .map(|i| from_item::<FileItem>(i).map(|f| f.file))
            .collect::<AppResult<_>>()?;
        let activities = if files.is_empty() { Vec::new() } else { self.all_activities(&tax).await? };
        Ok(refresh_files(files, &activities))
    }

    async fn list_activities(&self, tax_id: &TaxId, year: Option<i32>) -> AppResult<Vec<Activity>> {
        let mut out: Vec<Activity> =
            self.all_activities(&tax_id.to_string()).await?.into_iter().filter(|a| year.is_none_or(|y| touches_year(a, y))).collect();
        out.sort_by(|a, b| (a.period_start, &a.document, a.page, &a.id).cmp(&(b.period_start, &b.document, b.page, &b.id)));
        Ok(out)
    }

    async fn get_activity(&self, tax_id: &TaxId, id: &str) -> AppResult<Option<Activity>> {
        self.load_activity(&tax_id.to_string(), id).await
    }

    async fn update_activity(&self, activity: &Activity, expected_version: u32) -> AppResult<Activity> {
        with_conflict_retries(|| self.update_attempt(activity, expected_version)).await
    }

    async fn replace_emissions(&self, tax_id: &TaxId, activity_id: &str, lines: Vec<EmissionRecord>, now: DateTime<Utc>) -> AppResult<()> {
        let tax = tax_id.to_string();
        with_conflict_retries(|| self.replace_attempt(&tax, activity_id, &lines, now)).await
    }

    async fn list_emissions(&self, tax_id: &TaxId, year: Option<i32>) -> AppResult<Vec<EmissionRecord>> {
        let mut out: Vec<EmissionRecord> = self
            .query_prefix(company(&tax_id.to_string()), "EMISSION#")
            .await?
            .into_iter()
            .map(|i| from_item::<EmissionItem>(i).map(|e| e.line))
            .collect::<AppResult<Vec<_>>>()?
            .into_iter()
            .filter(|l| year.is_none_or(|y| l.year == y))
            .collect();
        out.sort_by(|a, b| (&a.month, &a.activity_id).cmp(&(&b.month, &b.activity_id)));
        Ok(out)
    }

    async fn list_restatements(&self, tax_id: &TaxId) -> AppResult<Vec<Restatement>> {
        self.query_prefix(company(&tax_id.to_string()), "RESTATE#")
            .await?
            .into_iter()
            .map(|i| from_item::<RestatementItem>(i).map(|r| r.restatement))
            .collect()
    }

    async fn companies(&self) -> AppResult<Vec<TaxId>> {
        let mut out = Vec::new();
        for item in super::dynamo::query_all(&self.client, &self.table, Some("gsi2"), "gsi2pk", HAS_ACTIVITIES_GSI2PK.into(), None).await? {
            let marker: MarkerItem = from_item(item)?;
            if let Ok(t) = TaxId::parse(&marker.tax_id) {
                out.push(t);
            }
        }
        out.sort_by_key(|t| t.to_string());
        out.dedup();
        Ok(out)
    }

    async fn stale_files(&self, claimed_before: DateTime<Utc>) -> AppResult<Vec<FileRecord>> {
        // The partition holds only the files being read right now: a handful.
        let before = timestamp(claimed_before);
        let mut out = Vec::new();
        for item in super::dynamo::query_all(&self.client, &self.table, Some("gsi2"), "gsi2pk", FILE_PROCESSING_GSI2PK.into(), None).await? {
            let stored = from_item::<FileItem>(item)?;
            // The index is eventually consistent: a file finished a moment ago may still be listed.
            if stored.file.status == FileStatus::Processing && stored.claimed_at <= before {
                out.push(stored.file);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{ActivityKind, ExtractionMethod, Unit};
    use chrono::NaiveDate;

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    /// An electricity bill of meter `meter` for Jan-Feb 2025, as parsed; the quantity
    /// follows the meter's digits, so bills of different meters are different bills.
    fn bill(id: &str, meter: &str) -> Activity {
        let digits = meter.chars().filter_map(|c| c.to_digit(10)).fold(0u32, |n, d| n * 10 + d);
        let mut a = Activity {
            id: id.into(),
            tax_id: "22099131".into(),
            batch_id: "b1".into(),
            document: format!("drop/22099131/b1/{id}.pdf"),
            page: 1,
            kind: Some(ActivityKind::Electricity),
            detail: None,
            quantity: Some(1000.0 + f64::from(digits)),
            unit: Some(Unit::Kwh),
            period_start: date(2025, 1, 1),
            period_end: date(2025, 2, 28),
            meter_id: Some(meter.into()),
            invoice_number: None,
            amount_ntd: Some(4321.0),
            unit_price: None,
            confidence: 0.93,
            method: ExtractionMethod::PdfText,
            status: ActivityStatus::Accepted,
            issues: vec![],
            dedupe_key: None,
            duplicate_of: None,
            version: 1,
            updated_at: "2025-03-01T00:00:00.000Z".into(),
            confirmed_by: None,
        };
        a.refresh();
        a
    }

    fn line(activity: &str, month: &str, kg: f64, library: &str) -> EmissionRecord {
        EmissionRecord {
            tax_id: "22099131".into(),
            activity_id: activity.into(),
            kind: ActivityKind::Electricity,
            detail: None,
            document: "drop/22099131/b1/a.pdf".into(),
            month: month.into(),
            year: month[..4].parse().unwrap_or(0),
            quantity: 100.0,
            unit: Unit::Kwh,
            co2_kg: kg,
            ch4_kg: 0.0,
            n2o_kg: 0.0,
            other_kg_co2e: 0.0,
            kg_co2e: kg,
            excluded_kg_co2e: 0.0,
            scope: 2,
            category: 2,
            ghg_protocol: "scope2".into(),
            source_label: "外購電力".into(),
            factor_refs: vec!["moenv-2024-electricity".into()],
            provisional: false,
            unverified: false,
            notes: vec![],
            formula: "100 × 0.474".into(),
            library: library.into(),
            computed_at: "2025-03-01T00:00:00.000Z".into(),
        }
    }

    fn key_of(a: &Activity) -> String {
        a.dedupe_key.clone().expect("a bill with meter and period has a dedupe key")
    }

    #[test]
    fn a_free_key_is_taken_only_if_still_free() {
        let a = bill("a1", "01-2345-67");
        let mut plan = Plan::default();
        assert_eq!(plan.needed_keys(&a, None), vec![key_of(&a)]);
        plan.known.insert(key_of(&a), None);
        let stored = plan.add(a.clone(), None, ActivityCond::New);
        assert_eq!(stored.status, ActivityStatus::Accepted);
        assert_eq!(plan.keys.get(&key_of(&a)), Some(&KeyOp { expect: Expect::FreeOr("a1".into()), after: Some("a1".into()), write: true }));
        assert!(plan.needed_keys(&a, None).is_empty());
        assert_eq!(plan.len(), 2);
    }

    #[test]
    fn a_held_key_makes_a_duplicate_that_checks_the_holder() {
        let a = bill("a2", "01-2345-67");
        let mut plan = Plan::default();
        plan.known.insert(key_of(&a), Some("a1".into()));
        let stored = plan.add(a.clone(), None, ActivityCond::New);
        assert_eq!((stored.status, stored.duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some("a1")));
        assert_eq!(plan.keys.get(&key_of(&a)), Some(&KeyOp::check("a1")));
    }

    #[test]
    fn the_same_bill_twice_in_one_transaction_counts_once() {
        let (a, b) = (bill("a1", "M1"), bill("a2", "M1"));
        let mut plan = Plan::default();
        plan.known.insert(key_of(&a), None);
        let first = plan.add(a.clone(), None, ActivityCond::New);
        let second = plan.add(b, None, ActivityCond::New);
        assert_eq!(first.status, ActivityStatus::Accepted);
        assert_eq!((second.status, second.duplicate_of.as_deref()), (ActivityStatus::Duplicate, Some("a1")));
        // One operation on the dedupe item: the take by the first.
        assert_eq!(plan.keys.len(), 1);
        assert_eq!(plan.keys.get(&key_of(&a)), Some(&KeyOp::acquire("a1")));
    }

    #[test]
    fn rejecting_the_holder_releases_the_key_or_hands_it_to_the_freed_duplicate() {
        let old = bill("a1", "M1");
        let mut rejected = old.clone();
        rejected.status = ActivityStatus::Rejected;
        let mut plan = Plan::default();
        plan.known.insert(key_of(&old), Some("a1".into()));
        let stored = plan.add(rejected, Some(&old), ActivityCond::Version(1));
        assert_eq!(stored.status, ActivityStatus::Rejected);
        assert_eq!(plan.keys.get(&key_of(&old)), Some(&KeyOp::release("a1")));

        // The waiting duplicate takes it over in the same transaction: one put, on
        // condition that the rejected one still held it.
        let mut before = bill("a2", "M1");
        before.status = ActivityStatus::Duplicate;
        before.duplicate_of = Some("a1".into());
        let mut freed = before.clone();
        freed.status = ActivityStatus::Accepted;
        freed.duplicate_of = None;
        let stored = plan.add(freed, Some(&before), ActivityCond::Version(1));
        assert_eq!((stored.status, stored.duplicate_of), (ActivityStatus::Accepted, None));
        assert_eq!(
            plan.keys.get(&key_of(&old)),
            Some(&KeyOp { expect: Expect::HeldBy("a1".into()), after: Some("a2".into()), write: true })
        );
    }

    #[test]
    fn a_corrected_key_moves_and_a_waiting_activity_keeps_holding() {
        let old = bill("a1", "M1");
        let corrected = bill("a1", "M2");
        let mut plan = Plan::default();
        plan.known.insert(key_of(&old), Some("a1".into()));
        plan.known.insert(key_of(&corrected), None);
        plan.add(corrected.clone(), Some(&old), ActivityCond::Version(1));
        assert_eq!(plan.keys.get(&key_of(&old)), Some(&KeyOp::release("a1")));
        assert_eq!(plan.keys.get(&key_of(&corrected)), Some(&KeyOp::acquire("a1")));

        // Waiting for a person does not hold the key: a clean copy still counts.
        let mut waiting = bill("a3", "M3");
        waiting.issues.push("信心度偏低".into());
        waiting.refresh();
        assert_eq!(waiting.status, ActivityStatus::NeedsReview);
        let mut plan = Plan::default();
        plan.known.insert(key_of(&waiting), None);
        let stored = plan.add(waiting.clone(), None, ActivityCond::New);
        assert_eq!((stored.status, stored.duplicate_of.clone()), (ActivityStatus::NeedsReview, None));
        assert!(plan.keys.is_empty());
        let clean = plan.add(bill("a4", "M3"), None, ActivityCond::New);
        assert_eq!(clean.status, ActivityStatus::Accepted);
        assert_eq!(plan.keys.get(&key_of(&waiting)), Some(&KeyOp::acquire("a4")));

        // A waiting copy of a counted bill keeps waiting, with the hint (once).
        let mut plan = Plan::default();
        plan.known.insert(key_of(&waiting), Some("a4".into()));
        let hinted = plan.add(waiting.clone(), None, ActivityCond::New);
        assert_eq!((hinted.status, hinted.duplicate_of.as_deref()), (ActivityStatus::NeedsReview, Some("a4")));
        assert_eq!(hinted.issues.iter().filter(|i| *i == DUPLICATE_HINT).count(), 1);
        assert_eq!(plan.keys.get(&key_of(&waiting)), Some(&KeyOp::check("a4")));
        let again = plan.add(hinted.clone(), Some(&hinted), ActivityCond::Version(1));
        assert_eq!(again.issues, hinted.issues);
    }

    #[test]
    fn a_duplicate_whose_original_is_gone_counts_again() {
        let mut dup = bill("a2", "M1");
        dup.status = ActivityStatus::Duplicate;
        dup.duplicate_of = Some("a1".into());
        let mut plan = Plan::default();
        plan.known.insert(key_of(&dup), None);
        let stored = plan.add(dup.clone(), Some(&dup), ActivityCond::Version(1));
        assert_eq!((stored.status, stored.duplicate_of), (ActivityStatus::Accepted, None));
        assert_eq!(plan.keys.get(&key_of(&dup)), Some(&KeyOp::acquire("a2")));
        // A rejected activity takes nothing and is never a duplicate.
        let mut rej = bill("a4", "M1");
        rej.status = ActivityStatus::Rejected;
        let mut plan = Plan::default();
        plan.known.insert(key_of(&rej), Some("a1".into()));
        let stored = plan.add(rej, None, ActivityCond::New);
        assert_eq!((stored.status, stored.duplicate_of), (ActivityStatus::Rejected, None));
        assert!(plan.keys.is_empty());
    }

    fn test_store() -> DynamoActivityStore {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("ap-northeast-1"))
            .build();
        DynamoActivityStore::new(Client::from_conf(conf), "t")
    }

    #[test]
    fn plan_items_carry_the_conditions() {
        let store = test_store();
        let old = bill("a1", "M1");
        let mut rejected = old.clone();
        rejected.status = ActivityStatus::Rejected;
        rejected.version = 2;
        let mut plan = Plan::default();
        plan.known.insert(key_of(&old), Some("a1".into()));
        plan.add(rejected, Some(&old), ActivityCond::Version(1));
        let mut other = bill("b1", "M9");
        other.status = ActivityStatus::Duplicate;
        other.duplicate_of = Some("zz".into());
        plan.known.insert(key_of(&other), Some("zz".into()));
        plan.add(other.clone(), None, ActivityCond::New);
        let items = store.plan_items("22099131", &plan).unwrap();
        assert_eq!(items.len(), 4);
        let put = items[0].put().unwrap();
        assert_eq!(put.condition_expression(), Some("version = :v"));
        assert_eq!(put.expression_attribute_values().unwrap().get(":v"), Some(&AttributeValue::N("1".into())));
        assert_eq!(put.item().get("entity"), Some(&s("activity")));
        assert_eq!(put.item().get("sk"), Some(&s("ACTIVITY#a1")));
        assert_eq!(put.item().get("version"), Some(&AttributeValue::N("2".into())));
        assert_eq!(items[1].put().unwrap().condition_expression(), Some("attribute_not_exists(pk)"));
        // BTreeMap order of the keys: meter:electricity:M1… before meter:electricity:M9….
        let del = items[2].delete().unwrap();
        assert_eq!(del.condition_expression(), Some("activity_id = :h"));
        assert_eq!(del.key().get("sk"), Some(&s(&dedupe_sk(&key_of(&old)))));
        assert_eq!(del.key().get("pk"), Some(&s("COMPANY#22099131")));
        let check = items[3].condition_check().unwrap();
        assert_eq!(check.condition_expression(), "activity_id = :h");
        assert_eq!(check.expression_attribute_values().unwrap().get(":h"), Some(&s("zz")));
    }

    #[test]
    fn stored_items_decode_as_the_stream_consumers_do() {
        let a = bill("a1", "M1");
        let item = to_item(&ActivityItem::from(&a)).unwrap();
        let image: serde_dynamo::Item = serde_dynamo::Item::from(item.clone());
        assert_eq!(crate::records::activity_from_image(&image).unwrap().unwrap(), a);
        assert_eq!(from_item::<ActivityItem>(item).unwrap().activity, a);

        // Files and emission lines are not activities for the stream filter.
        let file = FileRecord {
            tax_id: "22099131".into(),
            batch_id: "b1".into(),
            key: "drop/22099131/b1/電費.pdf".into(),
            blob_key: "drop/22099131/b1/電費.pdf".into(),
            name: "電費.pdf".into(),
            version: "v1".into(),
            size: 2048,
            status: FileStatus::Processing,
            file_type: None,
            method: None,
            reason: None,
            activities: 0,
            needs_review: 0,
            duplicates: 0,
            received_at: "2025-03-01T00:00:00.000Z".into(),
            updated_at: "2025-03-01T00:00:00.000Z".into(),
        };
        let fi = to_item(&FileItem::new(&file, "2025-03-01T00:00:00.000Z".into())).unwrap();
        assert_eq!(fi.get("entity"), Some(&s("file")));
        assert_eq!(fi.get("status"), Some(&s("processing")));
        assert!(crate::records::activity_from_image(&serde_dynamo::Item::from(fi.clone())).is_none());
        assert_eq!(from_item::<FileItem>(fi).unwrap().file, file);
        let l = line("a1", "2025-01", 58.5, "lib1");
        let ei = to_item(&EmissionItem { pk: company("22099131"), sk: emission_sk("a1", "2025-01"), entity: ENTITY_EMISSION.into(), line: l.clone() })
            .unwrap();
        assert!(crate::records::activity_from_image(&serde_dynamo::Item::from(ei.clone())).is_none());
        assert_eq!(from_item::<EmissionItem>(ei).unwrap().line, l);
    }

    #[test]
    fn restatements_only_for_a_changed_total_under_another_library() {
        let now = Utc::now();
        let old = vec![line("a1", "2025-01", 50.0, "lib1"), line("a1", "2025-02", 10.0, "lib1")];
        assert!(restatement("22099131", "a1", &old, &old, now).is_none());
        let same_lib = vec![line("a1", "2025-01", 70.0, "lib1")];
        assert!(restatement("22099131", "a1", &old, &same_lib, now).is_none());
        let same_total = vec![line("a1", "2025-01", 60.0, "lib2")];
        assert!(restatement("22099131", "a1", &old, &same_total, now).is_none());
        let changed = vec![line("a1", "2025-01", 30.0, "lib2"), line("a1", "2025-02", 40.0, "lib2")];
        let r = restatement("22099131", "a1", &old, &changed, now).unwrap();
        assert_eq!((r.old_kg_co2e, r.new_kg_co2e), (60.0, 70.0));
        assert_eq!((r.old_library.as_str(), r.new_library.as_str()), ("lib1", "lib2"));
        assert!(restatement("22099131", "a1", &[], &changed, now).is_none());
    }

    #[test]
    fn year_filter_and_file_counts_follow_sqlite() {
        let a = bill("a1", "M1");
        assert!(touches_year(&a, 2025) && !touches_year(&a, 2024));
        let mut span = a.clone();
        span.period_start = date(2024, 12, 15);
        assert!(touches_year(&span, 2024) && touches_year(&span, 2025) && !touches_year(&span, 2026));
        let mut undated = a.clone();
        undated.period_start = None;
        undated.period_end = None;
        assert!(touches_year(&undated, 1999));

        let mut review = bill("a2", "M2");
        review.quantity = None;
        review.refresh();
        let mut dup = bill("a3", "M1");
        dup.status = ActivityStatus::Duplicate;
        let file = FileRecord {
            tax_id: "22099131".into(),
            batch_id: "b1".into(),
            key: "k".into(),
            blob_key: a.document.clone(),
            name: "a.pdf".into(),
            version: "v1".into(),
            size: 1,
            status: FileStatus::Processing,
            file_type: None,
            method: None,
            reason: None,
            activities: 0,
            needs_review: 0,
            duplicates: 0,
            received_at: "t".into(),
            updated_at: "t".into(),
        };
        let f = file_outcome(&file, &[a.clone(), review.clone(), dup.clone()]);
        assert_eq!((f.activities, f.needs_review, f.duplicates, f.status), (3, 1, 1, FileStatus::NeedsReview));
        let f = file_outcome(&file, &[a.clone()]);
        assert_eq!((f.needs_review, f.status), (0, FileStatus::Done));
        let mut failed = file.clone();
        failed.status = FileStatus::Failed;
        assert_eq!(file_outcome(&failed, &[]).status, FileStatus::Failed);

        // Counts follow a person's work: once the review item is confirmed the file is done.
        let mut listed = file_outcome(&file, &[a.clone(), review.clone()]);
        listed.blob_key = a.document.clone();
        review.document = a.document.clone();
        let shown = refresh_files(vec![listed.clone()], &[a.clone(), review.clone()]);
        assert_eq!((shown[0].needs_review, shown[0].status), (1, FileStatus::NeedsReview));
        review.quantity = Some(1.0);
        review.issues.clear();
        review.refresh();
        assert_eq!(review.status, ActivityStatus::Accepted);
        let shown = refresh_files(vec![listed], &[a, review]);
        assert_eq!((shown[0].needs_review, shown[0].status), (0, FileStatus::Done));
    }
}
