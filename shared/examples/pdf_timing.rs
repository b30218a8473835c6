//! Time to the first PDF in a fresh process (what a Lambda cold start pays once), and per
//! PDF afterwards, with the font as the functions find it (layer or fonts-noto-cjk).
//!
//!     cargo run --release -p ecosphere-shared --example pdf_timing
//!
//! Prints figures; asserts nothing (targets live in the issue notes, not in timed tests).

use std::time::Instant;

use ecosphere::report::model::ReportModel;

fn model(rows: usize) -> ReportModel {
    let inventory: Vec<serde_json::Value> = (0..rows)
        .map(|i| {
            serde_json::json!({
                "scope": 1 + (i % 3) as u8, "category": 1 + (i % 4) as u8, "source": format!("排放源{i:02}（台電電費單）"),
                "detail": "07-12-3456-78-9", "quantity": 1000.0 + i as f64, "unit": "kWh", "factor_text": "0.4740 kgCO2e/kWh",
                "co2_kg": 400.0, "ch4_kg": 0.01, "n2o_kg": 0.002, "other_kg_co2e": 0.0, "kg_co2e": 474.0 + i as f64,
                "share": 0.05, "provisional": i % 2 == 0, "unverified": false, "documents": 2
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "company_name": "綠光示範企業股份有限公司", "tax_id": "24536806", "year": 2025,
        "generated_at": "2026-12-01 10:00 (台北時間)", "total_kg_co2e": 17976.0,
        "by_scope": [{"label": "範疇一 直接排放", "kg_co2e": 5274.0}, {"label": "範疇二 能源間接排放", "kg_co2e": 12600.0}, {"label": "範疇三 其他間接排放", "kg_co2e": 102.0}],
        "monthly": (1..=12).map(|m| serde_json::json!({"month": format!("2025-{m:02}"), "by_scope_kg": [400.0, 1000.0, 10.0]})).collect::<Vec<_>>(),
        "inventory": inventory
    }))
    .expect("model")
}

fn main() {
    let t0 = Instant::now();
    let fonts = ecosphere::report::font::fonts().expect("PDF font");
    let font_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let m = model(24);
    let t1 = Instant::now();
    let first = ecosphere::report::report_pdf(&m).expect("pdf");
    let first_ms = t1.elapsed().as_secs_f64() * 1000.0;
    let n = 10;
    let t2 = Instant::now();
    for _ in 0..n {
        ecosphere::report::report_pdf(&m).expect("pdf");
    }
    let each_ms = t2.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    let pages = String::from_utf8_lossy(&first).matches("/Type /Page\n").count().max(String::from_utf8_lossy(&first).matches("/Type/Page/").count());
    println!("font: {} (face {}), {:.1} MB", fonts.regular.path.display(), fonts.regular.index, fonts.regular.data().len() as f64 / 1e6);
    println!("font load: {font_ms:.0} ms");
    println!("first report PDF: {first_ms:.0} ms ({} bytes{})", first.len(), if pages > 0 { format!(", {pages} pages") } else { String::new() });
    println!("each further PDF: {each_ms:.0} ms (mean of {n})");
    println!("time to first PDF in a new process: {:.0} ms", font_ms + first_ms);
}
