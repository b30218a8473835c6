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
