//! `ecosphere demo-data` and `ecosphere national` through the real binary (CONTRACT.md):
//! synthetic firms go through the drop folder, ingest and calculation; the national cells
//! publish only what the privacy rules allow, and the total reconciles with every firm's
//! own lines.

use std::process::Command;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ecosphere")).args(args).env("APP_DATA_DIR", dir).env("RUST_LOG", "warn").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[tokio::test]
async fn demo_data_fills_the_data_dir_through_ingest_and_national_publishes_only_safe_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // More firms than one delivery round (100 events) takes.
    let (code, out, err) = run(&dir, &["demo-data", "--firms", "130", "--year", "2025"]);
    assert_eq!(code, 0, "{err}");
    let made: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(made["firms"], 130);
    assert!(made["emission_lines"].as_u64().unwrap() >= 130 * 24, "{made}");
    assert!(err.contains("已建立 130 家示範企業"), "{err}");

    // Small thresholds so that some cells pass with 130 firms; defaults are 10 firms / 85 %.
    let (code, out, err) = run(&dir, &["national", "--year", "2025", "--min-firms", "3", "--max-top2-share", "0.95"]);
    assert_eq!(code, 0, "{err}");
    let n: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(n["year"], 2025);
    assert_eq!(n["firms"], 130, "every firm has its totals");
    assert_eq!(n["unclassified_firms"], 0);
    let cells = n["cells"].as_array().unwrap();
    for c in cells {
        assert!(c["firms"].as_u64().unwrap() >= 3, "{c}");
        assert_eq!(c["industry"].as_str().unwrap().len(), 2, "{c}");
        assert!(ecosphere::domain::Counties::builtin().get(c["county"].as_str().unwrap()).is_some(), "{c}");
    }
    let published_firms: u64 = cells.iter().map(|c| c["firms"].as_u64().unwrap()).sum();
    assert!(published_firms < 130, "with 130 firms some cells must be withheld");
    assert!(n["suppressed"].as_u64().unwrap() >= 2, "a withheld cell always has a partner: {n}");
    let published_t: f64 = cells.iter().map(|c| c["t_co2e"].as_f64().unwrap()).sum();

    // The total is every firm's inventory, summed from the lines `export` shows.
    let app = ecosphere::App::from_config(super::common::local_config(&dir)).await.unwrap();
    let mut kg = 0.0;
    for tax in app.activities.companies().await.unwrap() {
        kg += app.activities.list_emissions(&tax, Some(2025)).await.unwrap().iter().map(|l| l.kg_co2e).sum::<f64>();
        assert!(app.firms.store().get(&tax, 2025).await.unwrap().is_some(), "every demo firm has a profile");
    }
    let total = n["total_t_co2e"].as_f64().unwrap();
    assert_eq!(total, ecosphere::national::tonnes(kg), "the total reconciles with the firms' lines");
    assert!(published_t < total);

    // The default rules: every published cell has at least 10 firms.
    let (code, out, _) = run(&dir, &["national", "--year", "2025"]);
    assert_eq!(code, 0);
    let n: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(n["cells"].as_array().unwrap().iter().all(|c| c["firms"].as_u64().unwrap() >= 10), "{n}");
    assert_eq!(n["total_t_co2e"].as_f64().unwrap(), total);

    // Bad arguments: exit 2 with a zh-TW message, nothing printed on stdout.
    for args in [&["national"][..], &["national", "--year", "25"], &["national", "--year", "2025", "--min-firms", "1"], &["demo-data", "--firms", "0", "--year", "2025"], &["demo-data", "--year", "2025"]] {
        let (code, out, err) = run(&dir, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
        assert!(err.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{args:?}: {err}");
    }
}
