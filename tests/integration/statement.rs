//! Issue 12: the carbon statement for a bank (碳排放查核參考憑證) on the local system —
//! refused while anything waits in review, signed, checked by an independent Python
//! implementation and by `ecosphere verify`, tamper cases refused, superseded after a
//! restatement, and the public check page showing nothing but figures and hashes.

use std::path::Path;
use std::process::Command;

use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::carbon::{carbon_user, drop_file, get_json, settled_export, wait_batch};
use super::portal::Sys;

const TAX: &str = "99754141";
const LEDGER: &str = "類別,數量,單位,起日,迄日,電號或水號,金額,發票號碼
電力,1000,kWh,2025-03-01,2025-03-31,07-12-3456-78-9,3800,
95無鉛汽油,30.5,L,2025-01-15,2025-01-15,,952,AB-12345678
柴油,,L,2025-05-02,2025-05-02,,1500,CD-22223333
";

fn python_check(jwks: &Value, doc: &Value, dir: &Path, name: &str) -> (bool, String) {
    let (jp, dp) = (dir.join(format!("{name}-jwks.json")), dir.join(format!("{name}-statement.json")));
    std::fs::write(&jp, serde_json::to_vec(jwks).unwrap()).unwrap();
    std::fs::write(&dp, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = Command::new(super::common::moto_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/verify_statement.py"))
        .args([&jp, &dp])
        .output()
        .expect("python with cryptography (tests/requirements.txt)");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn cli_verify(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecosphere")).arg("verify").args(args).env("APP_DATA_DIR", dir).output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

async fn correct_diesel(s: &Sys, cookie: &str, id: &str) {
    let html = s.client.get(s.url(&format!("/carbon/activities/{id}"))).header(header::COOKIE, cookie).send().await.unwrap().text().await.unwrap();
    let field = |name: &str| {
        let pat = format!("name=\"{name}\" value=\"");
        let i = html.find(&pat).unwrap() + pat.len();
        html[i..].split('"').next().unwrap().to_string()
    };
    let form = vec![
        ("csrf", field("csrf")),
        ("version", field("version")),
        ("action", "confirm".into()),
        ("kind", "diesel".into()),
        ("quantity", "50".into()),
        ("unit", "L".into()),
        ("period_start", "2025-05-02".into()),
        ("period_end", "2025-05-02".into()),
        ("amount_ntd", "1500".into()),
    ];
    let r = s.client.post(s.url(&format!("/carbon/activities/{id}"))).header(header::COOKIE, cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_bank_can_check_the_statement_and_a_forged_or_stale_one_fails() {
    let s = Sys::new().await;
    let cookie = carbon_user(&s).await;
    drop_file(&s, "2025", "ledger.csv", LEDGER.as_bytes());
    wait_batch(&s, &cookie, "2025", 1).await;
    let export = settled_export(&s, &cookie, 2025).await;

    // Waiting in review → 409 naming what waits.
    let r = s.client.get(s.url("/carbon/statement.json?year=2025")).header(header::COOKIE, &cookie).header(header::ACCEPT, "application/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(body.contains("待確認") && body.contains("柴油"), "{body}");
    // No session → 401.
    assert_eq!(s.client.get(s.url("/carbon/statement.json?year=2025")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let diesel = export["review"].as_array().unwrap().iter().find(|r| r["kind"] == "diesel").unwrap()["activity_id"].as_str().unwrap().to_string();
    correct_diesel(&s, &cookie, &diesel).await;
    let export = settled_export(&s, &cookie, 2025).await;
    let total: f64 = export["emissions"].as_array().unwrap().iter().map(|l| l["kg_co2e"].as_f64().unwrap()).sum();

    let doc = get_json(&s, &cookie, "/carbon/statement.json?year=2025").await;
    let id = doc["id"].as_str().unwrap().to_string();
    assert!((doc["figures"]["total_kg_co2e"].as_f64().unwrap() - total).abs() < 0.01, "{} vs {total}", doc["figures"]["total_kg_co2e"]);
    assert_eq!(doc["firm"]["tax_id"], TAX);
    assert_eq!(doc["firm"]["name"], "維他命股份有限公司");
    let scope_sum: f64 = doc["figures"]["by_scope"].as_array().unwrap().iter().map(|x| x["kg_co2e"].as_f64().unwrap()).sum();
    assert!((scope_sum - total).abs() < 0.05);
    let ledger_hash: String = Sha256::digest(LEDGER.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(doc["documents"][0]["sha256"], ledger_hash.as_str(), "the bill file's SHA-256");
    assert!(doc["evidence"].as_array().unwrap().iter().any(|e| e["invoice_number"] == "AB12345678"), "{}", doc["evidence"]);
    // CSV ledger rows score 3 (no document image), the provisional 2025 grid factor too.
    assert_eq!(doc["data_quality"]["pcaf_weighted_score"], 3.0);
    assert!(doc["signature"].as_str().unwrap().contains(".."), "detached JWS");
    // Asking again with the same figures returns the same statement.
    assert_eq!(get_json(&s, &cookie, "/carbon/statement.json?year=2025").await["id"], id.as_str());

    let jwks = get_json(&s, &cookie, "/.well-known/statement-keys.json").await;
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert!(ecosphere::statement::verify(&doc, &jwks).is_ok());

    // The independent implementation agrees, and refuses every forgery.
    let dir = s.dir.path();
    let (ok, out) = python_check(&jwks, &doc, dir, "good");
    assert!(ok, "python: {out}");
    let mut one_byte = doc.clone();
    one_byte["firm"]["name"] = json!("維他命股份有限公同");
    let mut swapped = doc.clone();
    swapped["documents"][0]["sha256"] = json!(format!("{:0>64}", "1"));
    let mut figures = doc.clone();
    figures["figures"]["total_kg_co2e"] = json!(1.0);
    let foreign = json!({"keys": [ecosphere::statement::sign::StatementKey::new(jwks["keys"][0]["kid"].as_str().unwrap(), [9; 32], None).jwk()]});
    let mut expired = jwks.clone();
    expired["keys"][0]["exp"] = json!(1_600_000_000);
    let retired = json!({"keys": []});
    for (name, d, k, want) in [
        ("byte", &one_byte, &jwks, "signature does not match"),
        ("swap", &swapped, &jwks, "signature does not match"),
        ("figures", &figures, &jwks, "signature does not match"),
        ("foreign", &doc, &foreign, "signature does not match"),
        ("expired", &doc, &expired, "expired"),
        ("retired", &doc, &retired, "unknown or retired"),
    ] {
        let (ok, out) = python_check(k, d, dir, name);
        assert!(!ok && out.contains(want), "{name}: python said {out}");
        let rust = ecosphere::statement::verify(d, k).unwrap_err();
        assert!(!rust.is_empty(), "{name}");
    }
    assert!(ecosphere::statement::verify(&doc, &expired).unwrap_err().contains("到期"));
    assert!(ecosphere::statement::verify(&doc, &retired).unwrap_err().contains("不在公開金鑰清單"));

    // The public page: valid, figures and hashes, no personal data but the preparer's name.
    let page = s.client.get(s.url(&format!("/verify/{id}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("狀態：有效") && html.contains(&ledger_hash) && html.contains("維他命股份有限公司"), "{html}");
    assert!(!html.contains("ming@vitamin.com.tw") && !html.contains("ledger.csv") && !html.contains("drop/"), "{html}");
    let public = s.client.get(s.url(&format!("/verify/{id}"))).header(header::ACCEPT, "application/json").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(public["status"], "valid");
    assert!(!public.to_string().contains("@") && !public.to_string().contains("blob"), "{public}");
    assert_eq!(s.client.get(s.url("/verify/cs-00000000000000000000000000000000")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(s.client.get(s.url("/verify/..%2F..%2Fetc")).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // The PDF: fonts embedded, Chinese text extractable, the JSON attached; `ecosphere verify`
    // checks it offline, with the bill.
    let pdf = s.client.get(s.url("/carbon/statement.pdf?year=2025")).header(header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let pdf = pdf.bytes().await.unwrap();
    let pdf_path = dir.join("statement.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let fonts = String::from_utf8_lossy(&Command::new("pdffonts").arg(&pdf_path).output().unwrap().stdout).to_string();
    let rows: Vec<&str> = fonts.lines().skip(2).filter(|l| !l.trim().is_empty()).collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains(" yes yes yes ")), "{fonts}");
    let text = String::from_utf8_lossy(&Command::new("pdftotext").arg(&pdf_path).arg("-").output().unwrap().stdout).to_string();
    assert!(text.contains("碳排放查核參考憑證") && text.contains("維他命股份有限公司") && text.contains(&ledger_hash[..32]), "{text}");
    assert!(String::from_utf8_lossy(&pdf).contains("pdfaid:part"), "PDF/A claimed");
    let attached: Value = serde_json::from_slice(&ecosphere::statement::pdf::attached_json(&pdf).unwrap()).unwrap();
    assert_eq!(attached, doc, "the PDF carries the signed JSON");
    let bill = dir.join("ledger.csv");
    std::fs::write(&bill, LEDGER).unwrap();
    let other = dir.join("other.csv");
    std::fs::write(&other, "類別,數量\n電力,1\n").unwrap();
    let jwks_path = dir.join("good-jwks.json");
    let (code, out) = cli_verify(dir, &[pdf_path.to_str().unwrap(), "--jwks", jwks_path.to_str().unwrap(), "--evidence", bill.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("簽章有效") && out.contains("列於憑證證據清單"), "{out}");
    let (code, out) = cli_verify(dir, &[pdf_path.to_str().unwrap(), "--evidence", other.to_str().unwrap()]);
    assert_eq!(code, 1, "a bill that is not in the evidence: {out}");
    let (code, out) = cli_verify(dir, &[dir.join("byte-statement.json").to_str().unwrap(), "--jwks", jwks_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("簽章不符"), "{out}");
    let (code, _) = cli_verify(dir, &[dir.join("nothing.json").to_str().unwrap()]);
    assert_eq!(code, 2);

    // A restatement (2025's grid factor published) makes the statement stale; a new one
    // supersedes it, and the old page links to the new.
    let factors = dir.join("factors");
    std::fs::create_dir_all(&factors).unwrap();
    let file = json!({ "schema": 1, "description": "test: the 2025 grid factor", "entries": [{
        "id": "electricity.grid.tw", "version": "2025", "label": "2025年電力排碳係數", "value": 0.457, "unit": "kgCO2e/kWh",
        "source": { "publisher": "經濟部能源署", "title": "2025年度電力排碳係數", "reference": "test" },
        "published": "2026-05", "valid_from": 2025, "valid_to": 2025, "status": "official" }]});
    std::fs::write(factors.join("grid-2025.json"), serde_json::to_vec(&file).unwrap()).unwrap();
    let mut config = super::common::local_config(dir);
    config.factors_dir = Some(factors);
    let app = ecosphere::App::from_config(config).await.unwrap();
    assert!(app.calculate.restate_all().await.unwrap() >= 1);
    let stale = s.client.get(s.url(&format!("/verify/{id}"))).header(header::ACCEPT, "application/json").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(stale["status"], "superseded", "{stale}");
    assert!(stale["superseded_by"].is_null());
    let newer = get_json(&s, &cookie, "/carbon/statement.json?year=2025").await;
    let new_id = newer["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    assert!(newer["figures"]["total_kg_co2e"].as_f64().unwrap() < doc["figures"]["total_kg_co2e"].as_f64().unwrap());
    let old = s.client.get(s.url(&format!("/verify/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(old.contains("已被取代") && old.contains(&format!("/verify/{new_id}")), "{old}");
    let now = s.client.get(s.url(&format!("/verify/{new_id}"))).header(header::ACCEPT, "application/json").send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(now["status"], "valid");
    // The old statement's signature still holds: superseded is a status, not a forgery.
    assert!(ecosphere::statement::verify(&doc, &jwks).is_ok());

    // Revoked.
    let rec = app.statement.get(new_id).await.unwrap().unwrap();
    app.statement.revoke(&rec, "公司申請撤銷（測試）").await.unwrap();
    let revoked = s.client.get(s.url(&format!("/verify/{new_id}"))).send().await.unwrap().text().await.unwrap();
    assert!(revoked.contains("已撤銷") && revoked.contains("公司申請撤銷"), "{revoked}");
}
