//! The programme staff console: sign-in by e-mailed link for `APP_STAFF` only, and the
//! national figures (各產業、各縣市歷年碳排分析) over demo firms that went through the drop
//! folder, ingest and calculation: a map with every county once, withheld figures never
//! in the page or the CSV, and the total reconciling with the firms' own totals.

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};

use super::portal::{mails, Sys};

const STAFF: &str = "staff@ecosphere.local";

async fn staff_cookie(s: &Sys) -> String {
    // Anyone gets the same answer; only staff get a link.
    let n = mails(s.dir.path()).len();
    let other = s.client.post(s.url("/staff/login")).form(&[("email", "ming@vitamin.com.tw")]).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    let other_text = other.text().await.unwrap();
    assert_eq!(mails(s.dir.path()).len(), n, "no link for an address that is not staff");
    let r = s.client.post(s.url("/staff/login")).form(&[("email", STAFF)]).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), other_text);
    let (_, subject, text) = s.wait_mail(|m| m.0 == STAFF).await;
    assert!(subject.contains("計畫管理後台"), "{subject}");
    let url = text.split_whitespace().find(|w| w.contains("/staff/login/")).unwrap();
    let path = format!("/{}", url.splitn(4, '/').nth(3).unwrap());
    assert_eq!(s.client.get(s.url(&path)).send().await.unwrap().status(), StatusCode::OK, "GET changes nothing");
    let r = s.client.post(s.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.client.post(s.url(&path)).send().await.unwrap().status(), StatusCode::GONE, "single use");
    r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn staff_see_the_country_by_county_and_industry_with_no_small_group_exposed() {
    let s = Sys::new().await;
    assert_eq!(s.client.get(s.url("/staff/national")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let cookie = staff_cookie(&s).await;
    // A member's portal session is not a staff session.
    assert_eq!(s.client.get(s.url("/staff")).header(header::COOKIE, "ecosphere_session=x").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // 150 demo firms through the real drop folder.
    let app = &s.running.app;
    let firms = ecosphere::national::demo::generate(150, 2025, 3);
    for f in &firms {
        app.firms.save_fields(&f.tax_id, 2025, f.profile.clone(), None, "test").await.unwrap();
        let dir = s.dir.path().join("drop").join(f.tax_id.as_str()).join("demo");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(s.dir.path().join(".f.part"), &f.csv).unwrap();
        std::fs::rename(s.dir.path().join(".f.part"), dir.join("ledger.csv")).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while app.calculate.totals().list_year(2025).await.unwrap().len() < 150 {
        assert!(Instant::now() < deadline, "totals never appeared");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let get = |path: String, json: bool| {
        let mut r = s.client.get(s.url(&path)).header(header::COOKIE, &cookie);
        if json {
            r = r.header(header::ACCEPT, "application/json");
        }
        r.send()
    };
    let v: serde_json::Value = get("/staff/national?year=2025".into(), true).await.unwrap().json().await.unwrap();
    let totals = app.calculate.totals().list_year(2025).await.unwrap();
    let kg: f64 = totals.iter().map(|t| t.kg()).sum();
    assert_eq!(v["national"]["total_t_co2e"].as_f64().unwrap(), ecosphere::national::tonnes(kg), "reconciles with the firms' totals");
    let counties = v["counties"].as_array().unwrap();
    assert_eq!(counties.len(), 22);
    let withheld: Vec<&serde_json::Value> = counties.iter().filter(|c| c["firms"].as_u64().unwrap() > 0 && c["t_co2e"].is_null()).collect();
    assert!(!withheld.is_empty(), "150 firms over 22 counties: small counties are withheld");
    assert_ne!(withheld.len(), 1, "a lone withheld county would be total − the others");
    for c in counties.iter().filter(|c| !c["t_co2e"].is_null()) {
        assert!(c["firms"].as_u64().unwrap() >= 10, "{c}");
    }
    assert_eq!(v["sections"].as_array().unwrap().len(), 4, "four years of trend");

    // The map: every county once; withheld ones grey and marked.
    let html = get("/staff/national?year=2025".into(), false).await.unwrap().text().await.unwrap();
    for c in ecosphere::domain::Counties::builtin().counties.iter() {
        assert_eq!(html.matches(&format!("data-county=\"{}\"", c.code)).count(), 1, "{}", c.name);
    }
    assert_eq!(html.matches("data-withheld=\"true\"").count(), withheld.len());
    assert!(html.contains("不公開") && html.contains("各大類排放量"), "{html}");

    // The CSVs never carry a withheld county's figure.
    let by_county = |code: &str| -> f64 {
        firms.iter().filter(|f| f.profile.county == code).filter_map(|f| totals.iter().find(|t| t.tax_id == f.tax_id.as_str())).map(|t| t.kg()).sum::<f64>() / 1000.0
    };
    for table in ["counties", "cells", "sections"] {
        let r = get(format!("/staff/national.csv?year=2025&table={table}"), false).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
        let csv = r.text().await.unwrap();
        for w in &withheld {
            let t = by_county(w["key"].as_str().unwrap());
            for shown in [format!("{t:.1}"), format!("{t:.3}")] {
                assert!(!csv.contains(&shown), "{table}: withheld {} ({shown}) leaked", w["label"]);
            }
        }
    }
    let counties_csv = get("/staff/national.csv?year=2025&table=counties".into(), false).await.unwrap().text().await.unwrap();
    assert!(counties_csv.contains("不公開"));
    assert_eq!(get("/staff/national.csv?year=2025&table=x".into(), false).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(get("/staff/national?year=abc".into(), true).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    s.running.stop().await;
}

/// A stream consumer that fails every batch, so its first record becomes a dead letter.
struct Refusing;

#[async_trait::async_trait]
impl ecosphere::stream::StreamConsumer for Refusing {
    fn name(&self) -> &str {
        "test-refusing"
    }
    async fn handle(&self, _: ecosphere::stream::StreamEvent) -> Result<ecosphere::stream::DynamoDbEventResponse, ecosphere::AppError> {
        Err(ecosphere::AppError::Unavailable("stream-reason-7f3 郵件伺服器拒絕連線".into()))
    }
}

/// Operators see what the local system has given up on for now — a stream dead letter and
/// a drop event whose quick retries ran out — with attempts, reason and first time, and
/// never the events' bodies (the applicant's name, phone and e-mail; the dropped file's
/// metadata).
#[tokio::test]
async fn staff_see_the_dead_letters_without_the_events_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ecosphere::ports::ManualClock::new(chrono::Utc::now());
    let mut cfg = super::common::local_config(dir.path());
    // No redrive while the test looks at the items.
    cfg.feed.redrive_interval = Duration::from_secs(3600);
    let max = cfg.feed.max_attempts;
    let running = ecosphere_local::start_with_clock(cfg, std::sync::Arc::new(clock.clone())).await.unwrap();
    let s = Sys::from_running(running, dir, clock);
    for accept in ["text/html", "application/json"] {
        let r = s.client.get(s.url("/staff/dead-letters")).header(header::ACCEPT, accept).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{accept}");
    }
    let cookie = staff_cookie(&s).await;
    let get = |json: bool| {
        let r = s.client.get(s.url("/staff/dead-letters")).header(header::COOKIE, &cookie);
        if json { r.header(header::ACCEPT, "application/json") } else { r }.send()
    };
    let home = s.client.get(s.url("/staff")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("href=\"/staff/dead-letters\""), "{home}");
    let empty = get(false).await.unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    let empty = empty.text().await.unwrap();
    assert!(empty.contains("待處理的失敗項目") && empty.contains("目前沒有失敗項目"), "{empty}");
    assert_eq!(get(true).await.unwrap().json::<serde_json::Value>().await.unwrap(), serde_json::json!({"backend": "local", "items": []}));

    // An application (personal data in its stream record), which a consumer keeps refusing.
    let form = super::common::valid_form("維他命股份有限公司", "22099131");
    assert_eq!(s.client.post(s.url("/apply")).form(&form).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let feed = s.running.feed.clone().unwrap();
    let mut dead = None;
    for _ in 0..(max * 2) {
        let r = feed.poll(&Refusing).await.unwrap();
        if r.dead_lettered.is_some() {
            dead = r.dead_lettered;
            break;
        }
        s.clock.advance(chrono::Duration::seconds(120));
    }
    let seq = dead.expect("the record became a dead letter");

    // A dropped file whose quick retries ran out (the watcher only redrives it).
    let local = s.running.app.local.clone().unwrap();
    let at = ecosphere::ports::Clock::now(&s.clock).to_rfc3339();
    let attempts = (max + 2).to_string();
    local
        .db
        .call(move |conn| {
            conn.execute(
                "INSERT INTO drop_events (key, version_id, size, event, created_at, attempts, last_error)
                 VALUES ('drop/22099131/b1/電費.pdf', 'v1', 10, '{\"secret\":\"event-body-4e2 身分證 A123456789\"}', ?1, CAST(?2 AS INTEGER), 'file-reason-9c1 檔案暫時無法讀取')",
                [at.as_str(), attempts.as_str()],
            )
            .map_err(ecosphere::adapters::sqlite::db_err)?;
            Ok(())
        })
        .await
        .unwrap();

    let r = get(false).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("串流事件") && html.contains("投遞檔案"), "{html}");
    assert!(!html.contains("目前沒有失敗項目"), "{html}");
    assert!(html.contains("stream-reason-7f3 郵件伺服器拒絕連線") && html.contains("file-reason-9c1 檔案暫時無法讀取"), "{html}");
    assert!(html.contains(&format!("<td class=\"n\">{max}</td>")) && html.contains(&format!("<td class=\"n\">{}</td>", max + 2)), "attempts: {html}");
    assert!(html.contains("電費.pdf") && html.contains("test-refusing"), "{html}");
    let taipei = ecosphere::ports::Clock::now(&s.clock).with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y/%m/%d %H:%M").to_string();
    assert!(html.contains(&taipei), "first time in Taipei time ({taipei}): {html}");
    assert!(html.contains("cargo run -- dead-letters --redrive"));
    for secret in ["王小明", "02-2345-6789", "ming@vitamin.com.tw", "event-body-4e2", "A123456789"] {
        assert!(!html.contains(secret), "the page shows an event body ({secret})");
    }

    let v: serde_json::Value = get(true).await.unwrap().json().await.unwrap();
    assert_eq!(v["backend"], "local");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!((items[0]["kind"].as_str(), items[0]["consumer"].as_str(), items[0]["seq"].as_i64()), (Some("stream"), Some("test-refusing"), Some(seq)));
    assert_eq!(items[0]["attempts"].as_u64(), Some(u64::from(max)));
    assert!(items[0]["error"].as_str().unwrap().contains("stream-reason-7f3"), "{v}");
    assert_eq!((items[1]["kind"].as_str(), items[1]["key"].as_str()), (Some("file"), Some("drop/22099131/b1/電費.pdf")));
    assert_eq!(items[1]["attempts"].as_u64(), Some(u64::from(max) + 2));
    assert_eq!(items[1]["error"], "file-reason-9c1 檔案暫時無法讀取");
    for i in items {
        chrono::DateTime::parse_from_rfc3339(i["created_at"].as_str().unwrap()).unwrap();
        assert!(i.get("event").is_none());
    }
    for secret in ["王小明", "02-2345-6789", "ming@vitamin.com.tw", "event-body-4e2", "A123456789"] {
        assert!(!v.to_string().contains(secret), "the JSON shows an event body ({secret})");
    }
    s.running.stop().await;
}
