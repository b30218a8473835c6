//! The change feed: delivers the SQLite change log to stream consumers the way a
//! Lambda event source mapping delivers a DynamoDB stream — in order, in batches, with
//! a checkpoint per consumer; a batch item failure retries from the failed record with
//! exponential backoff, and after `max_attempts` deliveries the record goes to the
//! dead-letter table (with the event, so it can be replayed) and the feed moves on.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{db_err, SqliteDb};
use crate::config::FeedConfig;
use crate::error::{AppError, AppResult};
use crate::ports::Clock;
use crate::stream::{StreamConsumer, StreamEvent, StreamEventRecord};

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Records delivered in the batch (including ones that failed).
    pub delivered: usize,
    /// Records acknowledged (checkpoint moved past them).
    pub acknowledged: usize,
    /// The sequence number that failed and will be retried, if any.
    pub retrying: Option<i64>,
    pub dead_lettered: Option<i64>,
    /// Nothing delivered because a retry is backing off.
    pub backing_off: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub seq: i64,
    pub attempts: u32,
    pub error: String,
    /// The one-record stream event, as JSON, ready to replay.
    pub event: String,
    pub created_at: String,
}

pub struct ChangeFeed {
    db: SqliteDb,
    cfg: FeedConfig,
    clock: Arc<dyn Clock>,
    region: String,
}

struct State {
    checkpoint: i64,
    failing_seq: Option<i64>,
    attempts: u32,
    next_attempt_at: Option<DateTime<Utc>>,
}

pub fn sequence_number(seq: i64) -> String {
    format!("{seq:021}")
}

impl ChangeFeed {
    pub fn new(db: SqliteDb, cfg: FeedConfig, clock: Arc<dyn Clock>) -> Self {
        Self { db, cfg, clock, region: "local".into() }
    }

    async fn state(&self, consumer: &str) -> AppResult<State> {
        let consumer = consumer.to_string();
        self.db
            .call(move |conn| {
                conn.execute("INSERT OR IGNORE INTO feed_checkpoints (consumer) VALUES (?1)", [&consumer]).map_err(db_err)?;
                conn.query_row(
                    "SELECT checkpoint, failing_seq, attempts, next_attempt_at FROM feed_checkpoints WHERE consumer = ?1",
                    [&consumer],
                    |r| {
                        Ok(State {
                            checkpoint: r.get(0)?,
                            failing_seq: r.get(1)?,
                            attempts: r.get(2)?,
                            next_attempt_at: r
                                .get::<_, Option<String>>(3)?
                                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                                .map(|d| d.with_timezone(&Utc)),
                        })
                    },
                )
                .map_err(db_err)
            })
            .await
    }

    async fn read_batch(&self, after: i64) -> AppResult<Vec<(i64, StreamEventRecord)>> {
        let limit = self.cfg.batch_size as i64;
        let region = self.region.clone();
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT seq, table_name, event_name, keys, old_image, new_image, created_at
                         FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, Option<String>>(5)?,
                            r.get::<_, String>(6)?,
                        ))
                    })
                    .map_err(db_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (seq, table, event_name, keys, old, new, at) = row.map_err(db_err)?;
                    out.push((seq, to_record(seq, &table, &event_name, &keys, old.as_deref(), new.as_deref(), &at, &region)?));
                }
                Ok(out)
            })
            .await
    }

    /// Delivers at most one batch to `consumer`.
    pub async fn poll(&self, consumer: &dyn StreamConsumer) -> AppResult<PollReport> {
        let name = consumer.name().to_string();
        let state = self.state(&name).await?;
        let now = self.clock.now();
        if state.next_attempt_at.is_some_and(|t| t > now) {
            return Ok(PollReport { backing_off: true, ..Default::default() });
        }
        let batch = self.read_batch(state.checkpoint).await?;
        if batch.is_empty() {
            return Ok(PollReport::default());
        }
        let seqs: Vec<i64> = batch.iter().map(|(s, _)| *s).collect();
        let mut event = StreamEvent::default();
        event.records = batch.into_iter().map(|(_, r)| r).collect();
        let records = event.records.clone();
        let outcome = crate::stream::confined(consumer.name(), consumer.handle(event)).await;
        let failure: Option<(i64, String)> = match outcome {
            Ok(resp) => {
                let mut lowest: Option<i64> = None;
                for f in &resp.batch_item_failures {
                    // An identifier that is not in the batch fails the whole batch, as Lambda does.
                    let s = f
                        .item_identifier
                        .as_deref()
                        .and_then(|id| id.parse::<i64>().ok())
                        .filter(|s| seqs.contains(s))
                        .unwrap_or(seqs[0]);
                    lowest = Some(lowest.map_or(s, |l| l.min(s)));
                }
                lowest.map(|s| (s, "reported as a batch item failure".to_string()))
            }
            Err(e) => Some((seqs[0], format!("batch failed: {e}"))),
        };
        let last = *seqs.last().expect("non-empty");
        let Some((failed, error)) = failure else {
            self.save(&name, last, None, 0, None, None).await?;
            return Ok(PollReport { delivered: seqs.len(), acknowledged: seqs.len(), ..Default::default() });
        };
        let acknowledged = seqs.iter().filter(|s| **s < failed).count();
        let attempts = if state.failing_seq == Some(failed) { state.attempts + 1 } else { 1 };
        if attempts >= self.cfg.max_attempts {
            let idx = seqs.iter().position(|s| *s == failed).expect("in batch");
            let mut one = StreamEvent::default();
            one.records = vec![records[idx].clone()];
            let event_json = serde_json::to_string(&one).map_err(AppError::internal)?;
            self.dead_letter(&name, failed, attempts, &error, &event_json).await?;
            tracing::warn!(consumer = %name, seq = failed, attempts, "stream record moved to dead letters");
            self.save(&name, failed, None, 0, None, None).await?;
            return Ok(PollReport {
                delivered: seqs.len(),
                acknowledged: acknowledged + 1,
                dead_lettered: Some(failed),
                ..Default::default()
            });
        }
        let backoff = self.backoff(attempts);
        let next = now + chrono::Duration::from_std(backoff).unwrap_or_default();
        tracing::info!(consumer = %name, seq = failed, attempts, backoff_ms = backoff.as_millis() as u64, "stream record will be retried");
        self.save(&name, failed - 1, Some(failed), attempts, Some(next), Some(error)).await?;
        Ok(PollReport { delivered: seqs.len(), acknowledged, retrying: Some(failed), ..Default::default() })
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.cfg.base_backoff.saturating_mul(factor).min(self.cfg.max_backoff)
    }

    async fn save(
        &self,
        consumer: &str,
        checkpoint: i64,
        failing_seq: Option<i64>,
        attempts: u32,
        next: Option<DateTime<Utc>>,
        error: Option<String>,
    ) -> AppResult<()> {
        let consumer = consumer.to_string();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE feed_checkpoints SET checkpoint = ?2, failing_seq = ?3, attempts = ?4, next_attempt_at = ?5, last_error = ?6
                     WHERE consumer = ?1",
                    params![consumer, checkpoint, failing_seq, attempts, next.map(|t| t.to_rfc3339()), error],
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn dead_letter(&self, consumer: &str, seq: i64, attempts: u32, error: &str, event: &str) -> AppResult<()> {
        let (consumer, error, event) = (consumer.to_string(), error.to_string(), event.to_string());
        let at = self.clock.now().to_rfc3339();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO feed_dead_letters (consumer, seq, attempts, error, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![consumer, seq, attempts, error, event, at],
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    pub async fn dead_letters(&self, consumer: &str) -> AppResult<Vec<DeadLetter>> {
        let consumer = consumer.to_string();
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT id, consumer, seq, attempts, error, event, created_at FROM feed_dead_letters WHERE consumer = ?1 ORDER BY id")
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map([&consumer], |r| {
                        Ok(DeadLetter {
                            id: r.get(0)?,
                            consumer: r.get(1)?,
                            seq: r.get(2)?,
                            attempts: r.get(3)?,
                            error: r.get(4)?,
                            event: r.get(5)?,
                            created_at: r.get(6)?,
                        })
                    })
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
            })
            .await
    }

    /// Delivers every dead letter of `consumer` again (consumers are idempotent): one that
    /// now succeeds is removed; one that fails again stays, with its attempts and error
    /// updated. This is what finishes work whose claim was held by a crashed process: the
    /// feed's own retries end within seconds, a lease lasts minutes, and the sweeper
    /// (`run`, every `redrive_interval`) keeps trying after the lease. Returns
    /// (redriven, still failing).
    pub async fn redrive(&self, consumer: &dyn StreamConsumer) -> AppResult<(usize, usize)> {
        let letters = self.dead_letters(consumer.name()).await?;
        let (mut done, mut failing) = (0, 0);
        for dl in letters {
            let event: StreamEvent = serde_json::from_str(&dl.event).map_err(AppError::internal)?;
            let error = match crate::stream::confined(consumer.name(), consumer.handle(event)).await {
                Ok(resp) if resp.batch_item_failures.is_empty() => None,
                Ok(_) => Some("reported as a batch item failure".to_string()),
                Err(e) => Some(format!("batch failed: {e}")),
            };
            let id = dl.id;
            match error {
                None => {
                    self.db
                        .call(move |conn| conn.execute("DELETE FROM feed_dead_letters WHERE id = ?1", [id]).map(|_| ()).map_err(db_err))
                        .await?;
                    tracing::info!(consumer = consumer.name(), seq = dl.seq, "dead letter redriven");
                    done += 1;
                }
                Some(err) => {
                    self.db
                        .call(move |conn| {
                            conn.execute("UPDATE feed_dead_letters SET attempts = attempts + 1, error = ?2 WHERE id = ?1", params![id, err])
                                .map(|_| ())
                                .map_err(db_err)
                        })
                        .await?;
                    failing += 1;
                }
            }
        }
        Ok((done, failing))
    }

    /// Every dead letter, of every consumer.
    pub async fn all_dead_letters(&self) -> AppResult<Vec<DeadLetter>> {
        let consumers: Vec<String> = self
            .db
            .call(|conn| {
                let mut st = conn.prepare("SELECT DISTINCT consumer FROM feed_dead_letters ORDER BY consumer").map_err(db_err)?;
                let rows = st.query_map([], |r| r.get(0)).map_err(db_err)?;
                rows.collect::<Result<Vec<String>, _>>().map_err(db_err)
            })
            .await?;
        let mut out = Vec::new();
        for c in consumers {
            out.extend(self.dead_letters(&c).await?);
        }
        Ok(out)
    }

    /// The consumer's checkpoint (last acknowledged sequence number).
    pub async fn checkpoint(&self, consumer: &str) -> AppResult<i64> {
        Ok(self.state(consumer).await?.checkpoint)
    }

    /// Polls until the consumer has caught up or is backing off; for tests and `export`.
    pub async fn drain(&self, consumer: &dyn StreamConsumer) -> AppResult<()> {
        loop {
            let r = self.poll(consumer).await?;
            if r.delivered == 0 || r.backing_off {
                return Ok(());
            }
        }
    }

    /// Runs the feed for every consumer until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, consumers: Vec<Arc<dyn StreamConsumer>>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        for consumer in consumers {
            let feed = self.clone();
            let mut stop = shutdown.clone();
            tasks.spawn(async move {
                let mut last_redrive = tokio::time::Instant::now();
                loop {
                    if last_redrive.elapsed() >= feed.cfg.redrive_interval {
                        last_redrive = tokio::time::Instant::now();
                        if let Err(e) = crate::stream::confined("feed redrive", feed.redrive(consumer.as_ref())).await {
                            tracing::error!(consumer = consumer.name(), error = %e, "dead-letter redrive failed");
                        }
                    }
                    // A panic anywhere in a poll is one failed poll, not the end of this consumer.
                    let idle = match crate::stream::confined("feed poll", feed.poll(consumer.as_ref())).await {
                        Ok(r) => r.delivered == 0,
                        Err(e) => {
                            tracing::error!(consumer = consumer.name(), error = %e, "change feed poll failed");
                            true
                        }
                    };
                    if idle {
                        tokio::select! {
                            _ = tokio::time::sleep(feed.cfg.poll_interval) => {}
                            _ = stop.changed() => {}
                        }
                    }
                    if *stop.borrow() {
                        break;
                    }
                }
            });
        }
        let _ = shutdown.wait_for(|s| *s).await;
        while tasks.join_next().await.is_some() {}
    }
}

#[allow(clippy::too_many_arguments)]
fn to_record(
    seq: i64,
    table: &str,
    event_name: &str,
    keys: &str,
    old: Option<&str>,
    new: Option<&str>,
    at: &str,
    region: &str,
) -> AppResult<StreamEventRecord> {
    let image = |json: Option<&str>| -> AppResult<serde_dynamo::Item> {
        match json {
            None => Ok(serde_dynamo::Item::from(std::collections::HashMap::<String, serde_dynamo::AttributeValue>::new())),
            Some(j) => {
                let v: serde_json::Value = serde_json::from_str(j).map_err(AppError::internal)?;
                serde_dynamo::to_item(v).map_err(AppError::internal)
            }
        }
    };
    let mut change = aws_lambda_events::event::dynamodb::StreamRecord::default();
    change.approximate_creation_date_time =
        DateTime::parse_from_rfc3339(at).map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    change.keys = image(Some(keys))?;
    change.new_image = image(new)?;
    change.old_image = image(old)?;
    change.sequence_number = Some(sequence_number(seq));
    change.size_bytes = (keys.len() + old.map_or(0, str::len) + new.map_or(0, str::len)) as i64;
    change.stream_view_type = Some(aws_lambda_events::event::dynamodb::StreamViewType::NewAndOldImages);
    let mut r = StreamEventRecord::default();
    r.aws_region = region.to_string();
    r.change = change;
    r.event_id = format!("local-{seq}");
    r.event_name = event_name.to_string();
    r.event_source = Some("aws:dynamodb".into());
    r.event_version = Some("1.1".into());
    r.event_source_arn = Some(format!("arn:aws:dynamodb:{region}:000000000000:table/{table}/stream/local"));
    r.table_name = Some(table.to_string());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ManualClock;
    use crate::stream::{batch_response, DynamoDbEventResponse};
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Records every delivery; fails the records whose `n` is listed, the given number of times.
    struct Flaky {
        seen: Mutex<Vec<i64>>,
        fail_n: Mutex<HashMap<i64, u32>>,
        whole_batch_errors: Mutex<u32>,
    }

    impl Flaky {
        fn new(fail: &[(i64, u32)]) -> Self {
            Self { seen: Mutex::new(vec![]), fail_n: Mutex::new(fail.iter().copied().collect()), whole_batch_errors: Mutex::new(0) }
        }
        fn seen(&self) -> Vec<i64> {
            self.seen.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl StreamConsumer for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        async fn handle(&self, event: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
            {
                let mut errs = self.whole_batch_errors.lock().unwrap();
                if *errs > 0 {
                    *errs -= 1;
                    return Err(AppError::Unavailable("down".into()));
                }
            }
            let mut failed = vec![];
            for r in &event.records {
                let n = match r.change.new_image.get("n") {
                    Some(serde_dynamo::AttributeValue::N(n)) => n.parse::<i64>().unwrap(),
                    other => panic!("no n: {other:?}"),
                };
                self.seen.lock().unwrap().push(n);
                let mut fail = self.fail_n.lock().unwrap();
                if let Some(left) = fail.get_mut(&n) {
                    if *left > 0 {
                        *left -= 1;
                        failed.push(r.change.sequence_number.clone().unwrap());
                    }
                }
            }
            Ok(batch_response(failed))
        }
    }

    async fn setup(n: i64, cfg: FeedConfig) -> (ChangeFeed, ManualClock) {
        let db = SqliteDb::open_in_memory().unwrap();
        db.call(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            for i in 1..=n {
                let img = serde_json::json!({"pk": format!("T#{i}"), "sk": "T", "n": i});
                super::super::log_change(&tx, "t", "INSERT", &serde_json::json!({"pk": img["pk"], "sk": "T"}), None, Some(&img), "2026-01-01T00:00:00Z")?;
            }
            tx.commit().map_err(db_err)
        })
        .await
        .unwrap();
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        (ChangeFeed::new(db, cfg, Arc::new(clock.clone())), clock)
    }

    fn cfg() -> FeedConfig {
        FeedConfig { batch_size: 3, max_attempts: 3, base_backoff: Duration::from_secs(1), ..FeedConfig::default() }
    }

    #[tokio::test]
    async fn delivers_in_order_in_batches_and_checkpoints() {
        let (feed, _) = setup(7, cfg()).await;
        let c = Flaky::new(&[]);
        let r = feed.poll(&c).await.unwrap();
        assert_eq!((r.delivered, r.acknowledged), (3, 3));
        feed.drain(&c).await.unwrap();
        assert_eq!(c.seen(), (1..=7).collect::<Vec<_>>());
        assert_eq!(feed.checkpoint("flaky").await.unwrap(), 7);
        // Nothing new: nothing delivered again.
        assert_eq!(feed.poll(&c).await.unwrap().delivered, 0);
    }

    #[tokio::test]
    async fn partial_failure_redelivers_from_the_failed_record_after_backoff() {
        let (feed, clock) = setup(5, cfg()).await;
        let c = Flaky::new(&[(2, 1)]);
        let r = feed.poll(&c).await.unwrap();
        assert_eq!((r.delivered, r.acknowledged, r.retrying), (3, 1, Some(2)));
        // Backing off: nothing is delivered until the delay has passed.
        assert!(feed.poll(&c).await.unwrap().backing_off);
        clock.advance(chrono::Duration::milliseconds(1001));
        feed.drain(&c).await.unwrap();
        // 1,2,3 then 2,3,4 then 5: record 2 redelivered with what followed it, nothing lost.
        assert_eq!(c.seen(), vec![1, 2, 3, 2, 3, 4, 5]);
        assert_eq!(feed.checkpoint("flaky").await.unwrap(), 5);
        assert!(feed.dead_letters("flaky").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn whole_batch_error_is_retried_too() {
        let (feed, clock) = setup(2, cfg()).await;
        let c = Flaky::new(&[]);
        *c.whole_batch_errors.lock().unwrap() = 1;
        let r = feed.poll(&c).await.unwrap();
        assert_eq!((r.acknowledged, r.retrying), (0, Some(1)));
        clock.advance(chrono::Duration::seconds(2));
        feed.drain(&c).await.unwrap();
        assert_eq!(c.seen(), vec![1, 2]);
    }

    #[tokio::test]
    async fn permanent_failure_goes_to_dead_letters_with_a_replayable_event() {
        let (feed, clock) = setup(4, cfg()).await;
        let c = Flaky::new(&[(3, u32::MAX)]);
        let mut backoffs = vec![];
        for _ in 0..10 {
            let r = feed.poll(&c).await.unwrap();
            if r.backing_off {
                let st = feed.state("flaky").await.unwrap();
                backoffs.push((st.next_attempt_at.unwrap() - clock.now()).num_milliseconds());
                clock.advance(chrono::Duration::seconds(60));
            }
            if r.dead_lettered.is_some() {
                break;
            }
        }
        // Backoff doubles: 1 s, then 2 s.
        assert_eq!(backoffs, vec![1000, 2000]);
        feed.drain(&c).await.unwrap();
        let dl = feed.dead_letters("flaky").await.unwrap();
        assert_eq!(dl.len(), 1);
        assert_eq!((dl[0].seq, dl[0].attempts), (3, 3));
        let ev: StreamEvent = serde_json::from_str(&dl[0].event).unwrap();
        assert_eq!(ev.records.len(), 1);
        assert_eq!(ev.records[0].change.sequence_number.as_deref(), Some(sequence_number(3).as_str()));
        assert_eq!(ev.records[0].change.new_image.get("n"), Some(&serde_dynamo::AttributeValue::N("3".into())));
        // The feed moved on: 4 was delivered, and the checkpoint is at the end.
        assert!(c.seen().contains(&4));
        assert_eq!(feed.checkpoint("flaky").await.unwrap(), 4);
    }

    /// Issue 13: work whose claim is held by a crashed process fails every retry of the
    /// feed (seconds) until the lease ends (minutes); the redrive finishes it later, once,
    /// and a letter that still fails stays with its count.
    #[tokio::test]
    async fn dead_letters_are_redriven_until_they_succeed() {
        let (feed, clock) = setup(3, cfg()).await;
        // Record 2 fails its 3 feed attempts and 2 redrives, then succeeds.
        let c = Flaky::new(&[(2, 5)]);
        for _ in 0..10 {
            let r = feed.poll(&c).await.unwrap();
            clock.advance(chrono::Duration::seconds(60));
            if r.dead_lettered.is_some() {
                break;
            }
        }
        feed.drain(&c).await.unwrap();
        assert_eq!(feed.dead_letters("flaky").await.unwrap().len(), 1);
        assert_eq!(feed.redrive(&c).await.unwrap(), (0, 1));
        assert_eq!(feed.redrive(&c).await.unwrap(), (0, 1));
        assert_eq!(feed.dead_letters("flaky").await.unwrap()[0].attempts, 5);
        assert_eq!(feed.redrive(&c).await.unwrap(), (1, 0));
        assert!(feed.dead_letters("flaky").await.unwrap().is_empty());
        assert!(feed.all_dead_letters().await.unwrap().is_empty());
        assert_eq!(feed.redrive(&c).await.unwrap(), (0, 0), "nothing twice");
        assert_eq!(c.seen().iter().filter(|n| **n == 2).count(), 6, "3 feed attempts + 3 redrives");
    }

    #[tokio::test]
    async fn unknown_item_identifier_fails_the_whole_batch() {
        struct Bogus;
        #[async_trait]
        impl StreamConsumer for Bogus {
            fn name(&self) -> &str {
                "bogus"
            }
            async fn handle(&self, _: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
                Ok(batch_response(["nonsense".to_string()]))
            }
        }
        let (feed, _) = setup(2, cfg()).await;
        let r = feed.poll(&Bogus).await.unwrap();
        assert_eq!((r.acknowledged, r.retrying), (0, Some(1)));
    }

    #[tokio::test]
    async fn consumers_have_their_own_checkpoints() {
        struct Named(&'static str, Flaky);
        #[async_trait]
        impl StreamConsumer for Named {
            fn name(&self) -> &str {
                self.0
            }
            async fn handle(&self, e: StreamEvent) -> Result<DynamoDbEventResponse, AppError> {
                self.1.handle(e).await
            }
        }
        let (feed, _) = setup(4, cfg()).await;
        let a = Named("a", Flaky::new(&[]));
        let b = Named("b", Flaky::new(&[]));
        feed.drain(&a).await.unwrap();
        feed.poll(&b).await.unwrap();
        assert_eq!(feed.checkpoint("a").await.unwrap(), 4);
        assert_eq!(feed.checkpoint("b").await.unwrap(), 3);
    }
}
