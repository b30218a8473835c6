//! `ecosphere programme check FILE.json` through the real binary (CONTRACT.md): the
//! output document, the exit codes, and zh-TW messages for bad input.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(doc: &str) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("名單.json");
    std::fs::write(&path, doc).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecosphere")).args(["programme", "check"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), json, String::from_utf8(out.stderr).unwrap())
}

/// Valid 統一編號 by the checksum (weights 1,2,1,2,1,2,4,1; the 7th digit 7 rule).
fn tax_ids(n: usize) -> Vec<String> {
    (22_099_131u32..).map(|v| v.to_string()).filter(|s| ecosphere::domain::TaxId::parse(s).is_ok()).take(n).collect()
}

fn list(track: &str, firms: &[(&str, u64, u64)]) -> String {
    let ids = tax_ids(firms.len());
    let firms: Vec<serde_json::Value> = firms
        .iter()
        .zip(&ids)
        .map(|((code, rev, cap), t)| serde_json::json!({"tax_id": t, "industry_code": code, "revenue_ntd": rev, "capital_ntd": cap}))
        .collect();
    serde_json::json!({"year": 2025, "track": track, "firms": firms}).to_string()
}

#[test]
fn programme_check_answers_as_the_contract_says() {
    // 製造業: 金屬製品 (also the 指標型企業, by capital) + 食品及飼品 (leading zero) + 8 others.
    let mut firms = vec![("259999", 1_000_000, 2_000_000), ("081111", 3_000_000, 100_000)];
    firms.extend(std::iter::repeat_n(("620100", 1_200_000, 100_000), 8));
    let (code, v, err) = run(&list("manufacturing", &firms));
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["fee_ntd"], 10_000);
    assert_eq!(v["unmet"], serde_json::json!([]));
    assert_eq!(v["indicator_firms"], serde_json::json!([tax_ids(1)[0]]));

    // The same firms on the 服務業 track: none in 批發/零售/住宿/餐飲 → not ok, exit 0 still.
    let (code, v, _) = run(&list("service", &firms));
    assert_eq!(code, 0);
    assert_eq!(v["ok"], false);
    assert_eq!(v["fee_ntd"], 0);
    let unmet = v["unmet"].as_array().unwrap();
    assert_eq!(unmet.len(), 1, "{v}");
    assert_eq!(unmet[0]["rule"], "sub_industries");
    assert!(unmet[0]["message"].as_str().unwrap().contains("服務業軌"), "{v}");

    // 458400 is just past 批發業's first range: still unmet; 458399 is inside.
    let mut svc = vec![("458400", 9_000_000, 0)];
    svc.extend(std::iter::repeat_n(("620100", 1, 1), 9));
    assert_eq!(run(&list("service", &svc)).1["ok"], false);
    svc[0].0 = "458399";
    let (_, v, _) = run(&list("service", &svc));
    assert_eq!((v["ok"].clone(), v["fee_ntd"].clone()), (serde_json::json!(true), serde_json::json!(7000)));

    // Standard input works too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecosphere"))
        .args(["programme", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(list("service", &svc).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"fee_ntd\": 7000"));
}

#[test]
fn programme_check_refuses_what_is_not_a_list_with_exit_2() {
    let ok_firm = |tax: &str, code: &str| serde_json::json!({"tax_id": tax, "industry_code": code, "revenue_ntd": 1, "capital_ntd": 1});
    for (doc, needle) in [
        ("{\"year\": 2025, ".to_string(), "輸入不是有效"),
        (serde_json::json!({"year": 2025, "track": "service", "firms": [ok_firm("22099132", "561111")]}).to_string(), "統一編號"),
        (serde_json::json!({"year": 2025, "track": "service", "firms": [ok_firm("22099131", "56111")]}).to_string(), "6 位數字"),
        (serde_json::json!({"year": 2025, "track": "service", "firms": [ok_firm("22099131", "5611a1")]}).to_string(), "6 位數字"),
        (serde_json::json!({"year": 2019, "track": "service", "firms": []}).to_string(), "尚無 2019 年度"),
    ] {
        let (code, v, err) = run(&doc);
        assert_eq!(code, 2, "{doc}: {v}");
        assert!(err.contains(needle), "{doc}: {err}");
        assert_eq!(v, serde_json::Value::Null, "nothing on stdout");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ecosphere")).args(["programme", "check", "/nonexistent/名單.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("無法讀取"));
}
