//! 行業對標 on the dashboard: a firm without a profile is told what to fill in; with 24
//! peers of the same code and county (demo firms through the real drop folder, ingest
//! and calculation), it sees its peer group, its percentiles and advice naming the
//! figure that triggered it.

use std::time::{Duration, Instant};

use reqwest::header;

use super::carbon::{carbon_user, drop_file};
use super::portal::Sys;
use ecosphere::domain::{IndustryCode, TaxId};

#[tokio::test]
async fn the_dashboard_compares_the_firm_with_its_peers_and_says_what_to_do_first() {
    let s = Sys::new().await;
    let cookie = carbon_user(&s).await;
    let page = |path: &'static str| {
        let (s, cookie) = (&s, cookie.clone());
        async move { s.client.get(s.url(path)).header(header::COOKIE, cookie).send().await.unwrap().text().await.unwrap() }
    };

    // The firm's own year: far more electricity per NT$ million than its peers.
    let mut ledger = String::from("類別,細項,數量,單位,起日,迄日\n");
    for b in 0..6 {
        ledger += &format!("電力,,150000,kWh,2025-{:02}-01,2025-{:02}-{}\n", b * 2 + 1, b * 2 + 2, [28, 30, 30, 31, 30, 31][b]);
    }
    ledger += "冷媒,R-410A,3.5,kg,2025-03-02,2025-03-02\n";
    drop_file(&s, "2025", "ledger.csv", ledger.as_bytes());
    let app = &s.running.app;
    let me = TaxId::parse("99754141").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.calculate.totals().get(&me, 2025).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "the firm's totals never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let html = page("/carbon?year=2025").await;
    assert!(html.contains("行業對標") && html.contains("尚未填寫 2025 年度公司資料") && html.contains("href=\"/company\""), "{html}");

    // 24 peers: 金屬製品 251111 in 新北市, through the drop folder like any firm.
    let mut peers = ecosphere::national::demo::generate(24, 2025, 11);
    for p in &mut peers {
        p.profile.industry_code = IndustryCode::parse("251111").unwrap();
        p.profile.county = "65000".into();
        app.firms.save_fields(&p.tax_id, 2025, p.profile.clone(), None, "test").await.unwrap();
        let dir = s.dir.path().join("drop").join(p.tax_id.as_str()).join("demo");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(s.dir.path().join(".peer.part"), &p.csv).unwrap();
        std::fs::rename(s.dir.path().join(".peer.part"), dir.join("ledger.csv")).unwrap();
    }
    let mut mine = peers[0].profile.clone();
    mine.name = "維他命股份有限公司".into();
    mine.revenue_ntd = 10_000_000;
    mine.employees = 10;
    app.firms.save_fields(&me, 2025, mine, None, "test").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while app.calculate.totals().list_year(2025).await.unwrap().len() < 25 {
        assert!(Instant::now() < deadline, "peers' totals never appeared");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let html = page("/carbon?year=2025").await;
    for needle in ["新北市・行業代號 251111", "25 家企業", "每百萬元營收排放量", "貴公司百分位", "用電強度高於同業", "有冷媒填充紀錄", "契約容量", "洩漏"] {
        assert!(html.contains(needle), "{needle} missing: {html}");
    }
    // The advice names the figure: the firm's electricity intensity (t per NT$ million).
    let b = app.benchmark.for_firm(&me, 2025).await.unwrap().unwrap();
    let elec = b.sources.iter().find(|x| x.source == ecosphere::domain::Source::Electricity).unwrap();
    assert!(elec.percentile.unwrap() > 95.0, "{elec:?}");
    assert_eq!(b.advice[0].id, "electricity-high", "{:?}", b.advice);
    let shown = format!("{:.2}", elec.firm_intensity.unwrap());
    assert!(b.advice[0].because.contains(&shown), "{} should name {shown}", b.advice[0].because);
    s.running.stop().await;
}
