//! Issues 5 and 6 on the local system: a bookkeeper drops a batch of a firm's bills into
//! `drop/{統一編號}/{批次}/`; the ingest consumer reads them, the calculate consumer
//! computes the emission lines, and the carbon platform (reached through SSO) shows
//! batches, the review queue, the inventory and the report; `ecosphere export` prints
//! the same data as JSON.

use std::time::{Duration, Instant};

use reqwest::{header, StatusCode};
use serde_json::Value;

use super::portal::Sys;

const TAX: &str = "99754141";
const EMAIL: &str = "ming@vitamin.com.tw";

/// An approved company's admin, signed into the carbon platform through SSO.
pub(super) async fn carbon_user(s: &Sys) -> String {
    s.approved_company("維他命股份有限公司", TAX, EMAIL).await;
    let cookie = s.sign_in(EMAIL).await;
    let token = super::sso::press(s, &cookie).await.unwrap();
    let r = super::sso::callback(s, &token).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string()
}

pub(super) fn drop_file(s: &Sys, batch: &str, name: &str, bytes: &[u8]) {
    let dir = s.dir.path().join("drop").join(TAX).join(batch);
    std::fs::create_dir_all(&dir).unwrap();
    // Written under a temporary name and renamed, as a sync client would.
    let tmp = s.dir.path().join(format!(".{name}.part"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

pub(super) async fn get_json(s: &Sys, cookie: &str, path: &str) -> Value {
    let r = s.client.get(s.url(path)).header(header::COOKIE, cookie).header(header::ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

/// Waits until `n` files of the batch are no longer processing; returns the batch.
pub(super) async fn wait_batch(s: &Sys, cookie: &str, batch: &str, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let all = get_json(s, cookie, "/carbon/batches").await;
        if let Some(b) = all["batches"].as_array().unwrap().iter().find(|b| b["batch_id"] == batch) {
            if b["total"].as_u64() == Some(n) && b["processing"].as_u64().unwrap_or(0) == 0 {
                return b.clone();
            }
        }
        assert!(Instant::now() < deadline, "batch {batch} not processed: {all}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the export's emission lines stop changing (the calculate consumer has run).
pub(super) async fn settled_export(s: &Sys, cookie: &str, year: i32) -> Value {
    let mut last = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = get_json(s, cookie, &format!("/carbon/export.json?year={year}")).await;
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "emissions never settled");
        last = now;
    }
}

fn lines_of<'a>(export: &'a Value, kind: &str) -> Vec<&'a Value> {
    export["emissions"].as_array().unwrap().iter().filter(|l| l["kind"] == kind).collect()
}

fn sum_kg(lines: &[&Value]) -> f64 {
    lines.iter().map(|l| l["kg_co2e"].as_f64().unwrap()).sum()
}

/// kg CO2e of fuel by hand: L × kcal/L × 4186.8 J/kcal × 1e-12 TJ/J × Σ(kg/TJ × GWP),
/// MOENV 2024 factors, fossil CH4 GWP 30, N2O 265.
fn fuel_kg(litres: f64, kcal_per_l: f64, co2: f64, ch4: f64, n2o: f64) -> f64 {
    litres * kcal_per_l * 4186.8e-12 * (co2 + ch4 * 30.0 + n2o * 265.0)
}

const LEDGER: &str = "類別/kind,細項/detail,數量/quantity,單位/unit,起日/period_start,迄日/period_end,電號或水號/meter_id,金額/amount_ntd,發票號碼/invoice_number
電力,,1234,kWh,114/01/05,114/03/06,07-12-3456-78-9,4567,
自來水,,56,度,2025/1/10,2025-03-11,3-1234567-8,789,
95無鉛汽油,,30.5,L,2025-01-15,2025-01-15,,952,AB-12345678
冷媒,R-410A,3.5,kg,2025-03-02,2025-03-02,,4200,
冷媒,R-22,2,kg,2025-04-02,2025-04-02,,3000,
柴油,,,L,2025-05-02,2025-05-02,,1500,CD-22223333
";

#[tokio::test]
async fn a_dropped_batch_becomes_an_inventory_with_a_review_queue_and_a_report() {
    let s = Sys::new().await;
    let cookie = carbon_user(&s).await;

    // The batch: the ledger (UTF-8), the same electricity bill again in Big5 (a
    // duplicate), a file of an unknown type, a zip, and an empty file.
    drop_file(&s, "2025-q1", "ledger.csv", LEDGER.as_bytes());
    let big5 = "類別,數量,單位,起日,迄日,電號或水號,金額\n電力,1234,度,114/01/05,114/03/06,07-12-3456-78-9,4567\n";
    let (bytes, _, bad) = encoding_rs::BIG5.encode(big5);
    assert!(!bad);
    drop_file(&s, "2025-q1", "again-big5.csv", &bytes);
    drop_file(&s, "2025-q1", "invoice.pdf.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff");
    drop_file(&s, "2025-q1", "photos.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00");
    drop_file(&s, "2025-q1", "empty.png", b"");

    let batch = wait_batch(&s, &cookie, "2025-q1", 5).await;
    assert_eq!(batch["failed"], 3, "{batch}");
    assert_eq!(batch["needs_review"], 1, "the ledger has one row without litres: {batch}");
    assert_eq!(batch["done"], 1, "{batch}");
    let files = batch["files"].as_array().unwrap();
    let file = |n: &str| files.iter().find(|f| f["name"] == n).unwrap_or_else(|| panic!("{n} in {batch}"));
    assert!(file("photos.zip")["reason"].as_str().unwrap().contains("壓縮"), "{batch}");
    assert!(!file("invoice.pdf.exe")["reason"].as_str().unwrap().is_empty());
    let dups: u64 = [file("again-big5.csv"), file("ledger.csv")].iter().map(|f| f["duplicates"].as_u64().unwrap()).sum();
    assert_eq!(dups, 1, "the same bill twice counts once: {batch}");

    let export = settled_export(&s, &cookie, 2025).await;
    // Electricity: 1234 kWh over 2025-01-05..03-06 (27 + 28 + 6 days), 2025 grid factor
    // not yet published → the 2024 factor 0.474, provisional.
    let elec = lines_of(&export, "electricity");
    assert_eq!(elec.len(), 3, "split into January, February and March: {elec:?}");
    assert!((sum_kg(&elec) - 1234.0 * 0.474).abs() < 0.01, "{}", sum_kg(&elec));
    assert!((elec[0]["quantity"].as_f64().unwrap() - 1234.0 * 27.0 / 61.0).abs() < 0.001);
    assert!(elec.iter().all(|l| l["provenance"]["provisional"] == true && l["scope"] == 2 && l["category"] == 2));
    // Counted once although dropped twice.
    let elec_acts: Vec<_> = export["activities"].as_array().unwrap().iter().filter(|a| a["kind"] == "electricity").collect();
    assert_eq!(elec_acts.len(), 1);
    assert_eq!(export["duplicates"].as_array().unwrap().len(), 1);
    // Gasoline 30.5 L at 7,609 kcal/L with 69,300 / 25 / 8 kg/TJ.
    let gas = lines_of(&export, "gasoline");
    assert!((sum_kg(&gas) - fuel_kg(30.5, 7609.0, 69300.0, 25.0, 8.0)).abs() < 0.01, "{gas:?}");
    assert!(gas[0]["provenance"]["formula"].as_str().unwrap().contains("7609"));
    assert_eq!(gas[0]["scope"], 1);
    // Water 56 m³ × 0.152 (unverified), scope 3 category 4.
    let water = lines_of(&export, "water");
    assert!((sum_kg(&water) - 56.0 * 0.152).abs() < 0.01);
    assert!(water.iter().all(|l| l["scope"] == 3 && l["category"] == 4 && l["provenance"]["unverified"] == true));
    // R-410A 3.5 kg × 1,923.5; R-22 counted as 0 and disclosed.
    let refr = lines_of(&export, "refrigerant");
    let r410: f64 = refr.iter().filter(|l| l["detail"] == "R-410A").map(|l| l["kg_co2e"].as_f64().unwrap()).sum();
    assert!((r410 - 3.5 * 1923.5).abs() < 0.01);
    let r22: Vec<_> = refr.iter().filter(|l| l["detail"] == "R-22").collect();
    assert_eq!(r22.len(), 1);
    assert_eq!(r22[0]["kg_co2e"].as_f64(), Some(0.0));
    assert!((r22[0]["excluded_kg_co2e"].as_f64().unwrap() - 2.0 * 1760.0).abs() < 0.01);
    // The diesel row without litres waits for a person: no line, never zero.
    assert!(lines_of(&export, "diesel").is_empty());
    let review = export["review"].as_array().unwrap();
    let diesel = review.iter().find(|r| r["kind"] == "diesel").expect("diesel in review");
    assert!(review.iter().any(|r| r["status"] == "failed"), "failed files are review items too");
    for a in export["activities"].as_array().unwrap() {
        assert!(a["status"] == "accepted" || a["status"] == "needs_review", "{a}");
        assert!(a["document"]["blob_key"].as_str().unwrap().starts_with(&format!("drop/{TAX}/2025-q1/")));
    }

    // The dashboard's totals are the sum of the lines.
    let dash = get_json(&s, &cookie, "/carbon?year=2025").await;
    let total: f64 = export["emissions"].as_array().unwrap().iter().map(|l| l["kg_co2e"].as_f64().unwrap()).sum();
    assert!((dash["total_kg_co2e"].as_f64().unwrap() - total).abs() < 1e-6);
    let by_scope: f64 = dash["by_scope"].as_array().unwrap().iter().map(|x| x[1].as_f64().unwrap()).sum();
    assert!((by_scope - total).abs() < 1e-6);
    assert_eq!(dash["needs_review"], 1);
    assert!(dash["provisional"].as_bool().unwrap());
    assert_eq!(dash["hotspots"][0]["kind"], "refrigerant", "R-410A is the largest source: {}", dash["hotspots"]);
    let page = s.client.get(s.url("/carbon?year=2025")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches("<svg").count(), 2, "monthly trend and hotspot charts");
    assert!(page.contains("冷媒填充") && page.contains("含暫用係數"), "hotspot label and the provisional flag");

    // The review queue: correct the diesel row with the litres from the receipt.
    let id = diesel["activity_id"].as_str().unwrap().to_string();
    let page = s.client.get(s.url(&format!("/carbon/activities/{id}"))).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/carbon/evidence/") && html.contains("缺少用量"), "evidence beside the values");
    let i = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[i..].split('"').next().unwrap().to_string();
    let i = html.find("name=\"version\" value=\"").unwrap() + 22;
    let version = html[i..].split('"').next().unwrap().to_string();
    let form = |qty: &'static str, csrf: String, version: String| {
        vec![
            ("csrf", csrf),
            ("version", version),
            ("action", "confirm".into()),
            ("kind", "diesel".into()),
            ("quantity", qty.into()),
            ("unit", "L".into()),
            ("period_start", "2025-05-02".into()),
            ("period_end", "2025-05-02".into()),
            ("amount_ntd", "1500".into()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        s.client.post(s.url(&format!("/carbon/activities/{id}"))).header(header::COOKIE, &cookie).form(&f).send()
    };
    assert_eq!(post(form("50", "bad".into(), version.clone())).await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = post(form("-3", csrf.clone(), version.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("用量須為 0 以上的數字"));
    assert_eq!(post(form("50", csrf.clone(), version.clone())).await.unwrap().status(), StatusCode::SEE_OTHER);
    let stale = post(form("60", csrf.clone(), version.clone())).await.unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT, "a second correction from the same stale page");
    // A version that is not a number (or none at all) never skips the lock.
    for v in ["abc", "", "1e3", "-1"] {
        assert_eq!(post(form("70", csrf.clone(), v.into())).await.unwrap().status(), StatusCode::BAD_REQUEST, "version {v:?}");
    }
    let export = settled_export(&s, &cookie, 2025).await;
    let diesel = lines_of(&export, "diesel");
    assert!((sum_kg(&diesel) - fuel_kg(50.0, 8400.0, 74100.0, 3.9, 3.9)).abs() < 0.01, "{diesel:?}");
    assert!(export["review"].as_array().unwrap().iter().all(|r| r["kind"] != "diesel"));

    // Another company's session cannot see this evidence.
    assert_eq!(s.client.get(s.url(&format!("/carbon/evidence/{id}"))).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The report: a printable page with charts, and a PDF holding the totals.
    let report = s.client.get(s.url("/carbon/report?year=2025")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    let html = report.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("維他命股份有限公司") && html.contains(TAX));
    let pdf = s.client.get(s.url("/carbon/report.pdf?year=2025")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()[header::CONTENT_TYPE], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let path = s.dir.path().join("report.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext (poppler-utils, installed by the test command)");
    let text = String::from_utf8_lossy(&text.stdout);
    let export_total: f64 = export["emissions"].as_array().unwrap().iter().map(|l| l["kg_co2e"].as_f64().unwrap()).sum();
    assert!(text.contains("維他命股份有限公司") && text.contains(TAX), "{text}");
    assert!(text.contains(&format!("{:.3}", export_total / 1000.0)), "total {export_total} kg in the PDF: {text}");
    // Every font is embedded and subset (readers without a CJK font pack show the same text).
    let fonts = std::process::Command::new("pdffonts").arg(&path).output().expect("pdffonts (poppler-utils)");
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    let rows: Vec<&str> = fonts.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains(" yes yes yes ")), "fonts not embedded/subset:\n{fonts}");
    // CSV export: BOM, one row per line.
    let csv = s.client.get(s.url("/carbon/export.csv?year=2025")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'));
    assert_eq!(csv.trim_end().lines().count(), 1 + export["emissions"].as_array().unwrap().len());

    // The export subcommand prints the same activities and lines from the data dir.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecosphere"))
        .args(["export", "--tax-id", TAX, "--year", "2025"])
        .env("APP_DATA_DIR", s.dir.path())
        .env("APP_OCR", "none")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["emissions"], export["emissions"]);
    assert_eq!(cli["activities"], export["activities"]);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ecosphere")).args(["export", "--tax-id", "12345678"]).env("APP_DATA_DIR", s.dir.path()).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("統一編號"));

    // Dropping the same ledger again (a new version) adds nothing: every bill is a duplicate.
    drop_file(&s, "2025-q2", "ledger-again.csv", LEDGER.as_bytes());
    let again = wait_batch(&s, &cookie, "2025-q2", 1).await;
    assert!(again["files"][0]["duplicates"].as_u64().unwrap() >= 2, "{again}");
    let after = settled_export(&s, &cookie, 2025).await;
    let after_total: f64 = after["emissions"].as_array().unwrap().iter().map(|l| l["kg_co2e"].as_f64().unwrap()).sum();
    assert!((after_total - export_total).abs() < 1e-6, "nothing counted twice: {after_total} vs {export_total}");
}

/// The generated bills (tests/fixtures/make_bills.py: electricity, water and a fuel
/// receipt, clean and degraded; a scanned and a text PDF; a receipt with one misprinted
/// digit; bad files) go through Tesseract on the local path.
#[tokio::test]
async fn generated_bills_are_read_right_and_a_misread_digit_lands_in_review() {
    let s = Sys::new().await;
    assert_eq!(s.running.app.ingest.extractor_name(), "tesseract", "the test command installs tesseract-ocr and tesseract-ocr-chi-tra");
    let cookie = carbon_user(&s).await;
    let bills = s.dir.path().join("bills");
    let out = std::process::Command::new(super::common::moto_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/make_bills.py"))
        .arg(&bills)
        .args(["--seed", "7"])
        .output()
        .expect("python with Pillow (installed by the test command)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: Vec<Value> = serde_json::from_slice(&std::fs::read(bills.join("manifest.json")).unwrap()).unwrap();
    for m in &manifest {
        let name = m["file"].as_str().unwrap();
        drop_file(&s, "ocr", name, &std::fs::read(bills.join(name)).unwrap());
    }
    let batch = wait_batch(&s, &cookie, "ocr", manifest.len() as u64).await;
    let export = settled_export(&s, &cookie, 2025).await;
    let all: Vec<&Value> = export["activities"].as_array().unwrap().iter().chain(export["duplicates"].as_array().unwrap()).collect();
    let files = batch["files"].as_array().unwrap();
    let mut exact = 0;
    for m in &manifest {
        let name = m["file"].as_str().unwrap();
        let (kind, variant, e) = (m["kind"].as_str().unwrap(), m["variant"].as_str().unwrap(), &m["expected"]);
        let file = files.iter().find(|f| f["name"] == name).unwrap();
        if kind == "bad" {
            assert_eq!(file["status"], "failed", "{name}: {file}");
            assert!(!file["reason"].as_str().unwrap_or_default().is_empty(), "{name}: a reason");
            continue;
        }
        let acts: Vec<&&Value> = all.iter().filter(|a| a["document"]["blob_key"].as_str().unwrap().ends_with(&format!("/{name}"))).collect();
        assert_eq!(acts.len(), 1, "{name}: one activity per bill: {acts:?} / {file}");
        let a = acts[0];
        let (qty, want) = match kind {
            "electricity" => (a["quantity"].as_f64(), e["kwh"].as_f64().unwrap()),
            "water" => (a["quantity"].as_f64(), e["m3"].as_f64().unwrap()),
            _ => (a["quantity"].as_f64(), e["litres"].as_f64().unwrap()),
        };
        assert_eq!(a["kind"], kind, "{name}: {a}");
        if variant == "misread" {
            // The printed litres disagree with price × total: a person must look.
            assert_eq!(a["status"], "needs_review", "{name}: {a}");
            assert!(!a["issues"].as_array().unwrap().is_empty());
            continue;
        }
        let counted = a["status"] == "accepted" || a["status"] == "duplicate";
        if counted {
            // Whatever is counted (or stands as the counted bill's duplicate) is exactly right.
            assert_eq!(qty, Some(want), "{name}: {a}");
            if let Some(start) = e.get("period_start") {
                assert_eq!((&a["period_start"], &a["period_end"]), (start, &e["period_end"]), "{name}: {a}");
                assert_eq!(a["meter_id"], e["meter_id"], "{name}");
            } else {
                assert_eq!(a["invoice_number"], e["invoice_number"], "{name}");
            }
        } else {
            // Waiting for a person is fine for a degraded scan; a wrong number is not counted.
            assert_eq!(a["status"], "needs_review", "{name}: {a}");
        }
        if qty == Some(want) {
            exact += 1;
        }
        if matches!(variant, "clean" | "text_pdf") {
            assert!(counted, "{name}: a clean bill is read without a person: {a}");
        }
    }
    assert!(exact >= 10, "at least the clean and most degraded bills read exactly ({exact})");
    // Each bill counts once however many copies were dropped: one electricity, one
    // water and one fuel activity are counted.
    let counted: Vec<&Value> = export["activities"].as_array().unwrap().iter().filter(|a| a["status"] == "accepted").collect();
    for kind in ["electricity", "water", "gasoline"] {
        assert_eq!(counted.iter().filter(|a| a["kind"] == kind).count(), 1, "{kind} counted once: {counted:?}");
    }
    let elec: f64 = lines_of(&export, "electricity").iter().map(|l| l["quantity"].as_f64().unwrap()).sum();
    assert!((elec - 6991.0).abs() < 1e-6, "{elec}");

    // The Ministry of Finance e-invoice export of the same month holds the receipt that
    // was photographed: its invoice number makes it the same bill, counted once; a
    // snack invoice is skipped, not counted.
    let einvoice = "表頭=M|載具自訂名稱|載具號碼|發票日期|商店統編|商店店名|發票號碼|總金額|發票狀態|\n明細=D|發票號碼|小計|品項名稱|\n\
M|手機條碼|/ABC1234|20250319|12345678|台亞加油站|BT17874421|1274|開立|\nD|BT17874421|1274|95無鉛汽油 44.33L|\n\
M|手機條碼|/ABC1234|20250320|87654321|便利商店|CD11112222|85|開立|\nD|CD11112222|85|御飯糰|\n";
    drop_file(&s, "einvoice", "消費明細.csv", einvoice.as_bytes());
    let b = wait_batch(&s, &cookie, "einvoice", 1).await;
    assert_eq!(b["files"][0]["method"], "einvoice", "{b}");
    assert_eq!(b["files"][0]["duplicates"], 1, "{b}");
    let after = settled_export(&s, &cookie, 2025).await;
    let fuel: f64 = lines_of(&after, "gasoline").iter().map(|l| l["quantity"].as_f64().unwrap()).sum();
    assert!((fuel - 44.33).abs() < 1e-9, "the receipt counted once: {fuel}");
}

/// Without an OCR engine, images get a clear status and text PDFs and CSVs still work.
#[tokio::test]
async fn without_an_ocr_engine_images_fail_with_a_clear_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = super::common::local_config(dir.path());
    config.ocr = ecosphere::config::OcrChoice::None;
    let clock = ecosphere::ports::ManualClock::new(chrono::Utc::now());
    let running = ecosphere_local::start_with_clock(config, std::sync::Arc::new(clock.clone())).await.unwrap();
    let s = Sys::from_running(running, dir, clock);
    let cookie = carbon_user(&s).await;
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82";
    drop_file(&s, "b1", "bill.png", png);
    let batch = wait_batch(&s, &cookie, "b1", 1).await;
    assert_eq!(batch["files"][0]["status"], "failed", "{batch}");
    assert!(batch["files"][0]["reason"].as_str().unwrap().contains("未安裝文字辨識引擎"), "{batch}");
    assert_eq!(get_json(&s, &cookie, "/carbon/batches").await["ocr_engine"], "none");
}

/// A year whose grid factor is not published uses the latest one, flagged provisional;
/// when the real one is added, the affected results are restated and the change shows.
#[tokio::test]
async fn publishing_a_grid_factor_restates_the_provisional_results() {
    let s = Sys::new().await;
    let cookie = carbon_user(&s).await;
    drop_file(&s, "b1", "power.csv", "類別,數量,單位,起日,迄日,電號或水號,金額\n電力,1000,kWh,2025-03-01,2025-03-31,07-12-3456-78-9,3800\n".as_bytes());
    wait_batch(&s, &cookie, "b1", 1).await;
    let before = settled_export(&s, &cookie, 2025).await;
    let line = &before["emissions"][0];
    assert_eq!(line["provenance"]["provisional"], true);
    assert!((line["kg_co2e"].as_f64().unwrap() - 474.0).abs() < 1e-9, "{line}");

    // The Energy Administration publishes 2025's factor (a figure for the test).
    let factors = s.dir.path().join("factors");
    std::fs::create_dir_all(&factors).unwrap();
    let file = serde_json::json!({ "schema": 1, "description": "test: the 2025 grid factor", "entries": [{
        "id": "electricity.grid.tw", "version": "2025", "label": "2025年電力排碳係數", "value": 0.457, "unit": "kgCO2e/kWh",
        "source": { "publisher": "經濟部能源署", "title": "2025年度電力排碳係數", "reference": "test" },
        "published": "2026-05", "valid_from": 2025, "valid_to": 2025, "status": "official" }]});
    std::fs::write(factors.join("grid-2025.json"), serde_json::to_vec(&file).unwrap()).unwrap();
    let mut config = super::common::local_config(s.dir.path());
    config.factors_dir = Some(factors);
    let app = ecosphere::App::from_config(config).await.unwrap();
    assert_eq!(app.calculate.restate_all().await.unwrap(), 1);
    assert_eq!(app.calculate.restate_all().await.unwrap(), 0, "restating twice changes nothing");

    let tax = ecosphere::domain::TaxId::parse(TAX).unwrap();
    let lines = app.activities.list_emissions(&tax, Some(2025)).await.unwrap();
    assert_eq!(lines.len(), 1, "replaced, not added");
    assert!(!lines[0].provisional);
    assert!((lines[0].kg_co2e - 457.0).abs() < 1e-9);
    assert!(lines[0].factor_refs.iter().any(|r| r == "electricity.grid.tw@2025"));
    let r = app.activities.list_restatements(&tax).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].old_kg_co2e, r[0].new_kg_co2e), (474.0, 457.0));
    // The platform shows it.
    let dash = get_json(&s, &cookie, "/carbon?year=2025").await;
    assert_eq!(dash["restatements"].as_array().unwrap().len(), 1);
    assert_eq!(dash["provisional"], false);
    let html = s.client.get(s.url("/carbon?year=2025")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("重新計算紀錄"));
}

/// The same pipeline on the AWS adapters (moto): the bill lands in S3, the S3 event
/// drives `ingest` (DynamoDB activity items), the table's stream — read with the
/// Streams API — drives `calculate`, and the lines are in DynamoDB; the stream delivered
/// again changes nothing.
#[tokio::test]
async fn the_pipeline_runs_on_the_aws_emulator_from_s3_event_to_stream_to_lines() {
    use ecosphere::adapters::drop::ObjectConsumer;
    use ecosphere::stream::StreamConsumer;
    let moto = super::common::Moto::start();
    super::common::set_aws_env();
    let sdk = super::common::sdk(&moto.url).await;
    super::common::create_resources(&sdk, "pipe-table", "pipe-bucket").await;
    let app = ecosphere::App::from_config(super::common::aws_config(&moto.url, "pipe-table", "pipe-bucket")).await.unwrap();
    assert_eq!(app.ingest.extractor_name(), "textract");

    let key = "drop/22099131/2025-q1/帳簿 ledger.csv";
    app.blobs.put(&ecosphere::ports::BlobKey::parse(key).unwrap(), LEDGER.as_bytes().to_vec(), "text/csv").await.unwrap();
    let mut event: ecosphere::adapters::drop::S3Event =
        serde_json::from_slice(&std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/events/ingest/s3-put-ledger-csv.json")).unwrap()).unwrap();
    event.records[0].s3.object.size = Some(LEDGER.len() as i64);
    event.records[0].s3.bucket.name = Some("pipe-bucket".into());
    let consumer = ingest::IngestConsumer::new(app.clone());
    consumer.handle(event.clone()).await.unwrap();
    consumer.handle(event).await.unwrap();

    let tax = ecosphere::domain::TaxId::parse("22099131").unwrap();
    let files = app.activities.list_files(&tax).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].activities, files[0].needs_review), (6, 1), "{files:?}");

    let stream = super::common::stream_event(&sdk, "pipe-table").await;
    let calc = calculate::CalculateConsumer::new(app.clone());
    for _ in 0..2 {
        let resp = calc.handle(stream.clone()).await.unwrap();
        assert!(resp.batch_item_failures.is_empty(), "{:?}", resp.batch_item_failures);
    }
    let lines = app.activities.list_emissions(&tax, Some(2025)).await.unwrap();
    let elec: f64 = lines.iter().filter(|l| l.kind == ecosphere::domain::ActivityKind::Electricity).map(|l| l.kg_co2e).sum();
    assert!((elec - 1234.0 * 0.474).abs() < 0.01, "{elec}");
    // electricity 3 months + water 3 + gasoline 1 + R-410A 1 + R-22 1; diesel waits for a person.
    assert_eq!(lines.len(), 9, "{lines:?}");
    let doc = carbon::export(&app, &tax, Some(2025)).await.unwrap();
    assert_eq!(doc["emissions"].as_array().unwrap().len(), 9);
    assert_eq!(doc["review"].as_array().unwrap().len(), 1);
}

/// A minimal PDF from numbered objects (object 1 the catalog), with a correct xref.
fn pdf_of(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Issue 13: hostile files in a batch with a good one — a page tree whose /Parent loops
/// (it used to overflow the stack and abort the server), a decompression bomb (200 MiB
/// from ~200 KB), an image whose header claims 900 megapixels, arrays nested 200,000
/// deep and a name too long to store. The server stays up, memory stays low, the
/// good file is done and each bad one failed with a reason.
#[tokio::test]
async fn hostile_files_fail_alone_and_the_server_stays_up() {
    use std::io::Write;
    let s = Sys::new().await;
    let cookie = carbon_user(&s).await;
    let page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_vec();
    let looping = pdf_of(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 4 0 R >>".to_vec(),
        page.clone(),
        b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>".to_vec(),
    ]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..200 {
        z.write_all(&[b' '; 1024 * 1024]).unwrap();
    }
    let deflated = z.finish().unwrap();
    let mut stream = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", deflated.len()).into_bytes();
    stream.extend_from_slice(&deflated);
    stream.extend_from_slice(b"\nendstream");
    let bomb = pdf_of(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        stream,
    ]);
    let before = peak_rss_mib();
    drop_file(&s, "hostile", "loop.pdf", &looping);
    drop_file(&s, "hostile", "bomb.pdf", &bomb);
    let long_dir = s.dir.path().join("drop").join(TAX).join("hostile");
    std::fs::create_dir_all(&long_dir).unwrap();
    std::fs::write(long_dir.join(format!("{}.png", "電".repeat(82))), b"\x89PNG\r\n\x1a\n").unwrap();
    // An image whose header claims 30,000 × 30,000 pixels (2.7 GB to decode) in a few bytes.
    let mut image_bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    image_bomb.extend_from_slice(&13u32.to_be_bytes());
    image_bomb.extend_from_slice(b"IHDR");
    image_bomb.extend_from_slice(&30_000u32.to_be_bytes());
    image_bomb.extend_from_slice(&30_000u32.to_be_bytes());
    image_bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    let mut zeros = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    zeros.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    let idat = zeros.finish().unwrap();
    image_bomb.extend_from_slice(&(idat.len() as u32).to_be_bytes());
    image_bomb.extend_from_slice(b"IDAT");
    image_bomb.extend_from_slice(&idat);
    image_bomb.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
    drop_file(&s, "hostile", "bomb.png", &image_bomb);
    // Arrays nested 200,000 deep (a recursive parser's stack overflow).
    let nested = pdf_of(&[
        format!("<< /Type /Catalog /Pages 2 0 R /Junk {}1{} >>", "[".repeat(200_000), "]".repeat(200_000)).into_bytes(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_vec(),
    ]);
    drop_file(&s, "hostile", "nested.pdf", &nested);
    drop_file(&s, "hostile", "power.csv", "類別,數量,單位,起日,迄日,電號或水號,金額\n電力,1000,kWh,2025-03-01,2025-03-31,07-12-3456-78-9,3800\n".as_bytes());
    let batch = wait_batch(&s, &cookie, "hostile", 6).await;
    let files = batch["files"].as_array().unwrap();
    let file = |n: &str| files.iter().find(|f| f["name"] == n).unwrap_or_else(|| panic!("{n} in {batch}")).clone();
    assert_eq!(file("power.csv")["status"], "done", "{batch}");
    assert_eq!(file("loop.pdf")["status"], "failed");
    assert!(file("loop.pdf")["reason"].as_str().unwrap().contains("頁面結構損毀"), "{batch}");
    assert_eq!(file("bomb.pdf")["status"], "failed");
    assert!(file("bomb.pdf")["reason"].as_str().unwrap().contains("解壓縮後過大"), "{batch}");
    assert_eq!(file("bomb.png")["status"], "failed");
    assert!(file("bomb.png")["reason"].as_str().unwrap().contains("圖片尺寸過大"), "{batch}");
    // Read without overflowing (no text, no pages worth reading): final, with a reason.
    assert_eq!(file("nested.pdf")["status"], "failed", "{batch}");
    assert!(!file("nested.pdf")["reason"].as_str().unwrap_or_default().is_empty(), "{batch}");
    // The long name never reached the store; it waits in drop-rejected with its reason.
    let rejected = s.dir.path().join("drop-rejected").join(TAX).join("hostile");
    let reasons: Vec<String> = std::fs::read_dir(&rejected).unwrap().flatten().filter(|e| e.path().to_string_lossy().ends_with(".reason.txt")).map(|e| std::fs::read_to_string(e.path()).unwrap()).collect();
    assert!(reasons.iter().any(|r| r.contains("過長")), "{reasons:?}");
    // ...and it shows on the batch page, failed with its reason.
    let long = files.iter().find(|f| f["name"].as_str().unwrap().starts_with("電電電")).unwrap_or_else(|| panic!("long name on the batch page: {batch}"));
    assert_eq!(long["status"], "failed");
    assert!(long["reason"].as_str().unwrap().contains("過長"), "{long}");
    // Still serving, and the process never came near the bomb's size.
    assert_eq!(s.client.get(s.url("/apply")).send().await.unwrap().status(), StatusCode::OK);
    let peak = peak_rss_mib();
    eprintln!("peak RSS: {before:.0} MiB before the batch, {peak:.0} MiB after");
    assert!(peak < 512.0, "peak RSS {peak:.0} MiB");
}
