//! `ecosphere`: runs the whole system on one machine.
//!
//! Environment: `APP_ADDR` (default 127.0.0.1:3000), `APP_DATA_DIR` (default
//! ./.ecosphere), `APP_REVIEWERS`, `APP_PUBLIC_URL`, `APP_DEV_MAILBOX`, `APP_SMTP_URL`, `RUST_LOG`;
//! see README.md.

use ecosphere::config::Backend;
use ecosphere::domain::TaxId;
use ecosphere::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    ecosphere::runtime::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => {}
        Some("export") => return export(&args[1..]).await,
        Some("verify") => std::process::exit(verify(&args[1..]).await),
        Some("dead-letters") => return dead_letters(&args[1..]).await,
        Some("programme") => std::process::exit(programme(&args[1..])),
        Some(cmd) => {
            eprintln!("unknown command `{cmd}`; usage: ecosphere [serve] | ecosphere export --tax-id 統一編號 [--year 年度] | ecosphere verify 憑證.pdf|憑證.json [--jwks 金鑰.json] [--evidence 單據…] | ecosphere dead-letters [--redrive] | ecosphere programme check 名單.json");
            std::process::exit(2);
        }
    }
    let config = Config::from_env()?;
    let running = ecosphere_local::start(config).await?;
    println!("EcoSphere 碳星雲 is running at {}", running.url());
    println!("  application form:  {}/apply", running.url());
    if let Some(local) = &running.app.local {
        if ecosphere_local::mailbox::allowed(&running.app.config).is_on() {
            println!("  local mailbox:     {}/_dev/mailbox", running.url());
        }
        println!("  data directory:    {}", local.data_dir.display());
        println!("    database:        {}", local.database.display());
        println!("    outbox (.eml):   {}", local.outbox_dir.display());
        println!("    drop folder:     {}  (put bills in {{統一編號}}/{{批次}}/{{檔名}})", local.drop_dir.display());
        println!("    blobs:           {}", local.blobs_dir.display());
    }
    if let Backend::Aws { table, bucket, .. } = &running.app.config.backend {
        println!("  AWS backend: table {table}, bucket {bucket}");
    }
    println!("Press Ctrl-C to stop.");
    running.run_until_signal().await;
    Ok(())
}

/// `export --tax-id 22099131 [--year 2025]`: a company's activity records, emission lines
/// and review items as JSON on stdout (CONTRACT.md), read from `APP_DATA_DIR`.
async fn export(args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let usage = "usage: ecosphere export --tax-id 統一編號 [--year 年度]";
    let (mut tax, mut year) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "--tax-id" => tax = value(),
            "--year" => year = value(),
            _ => {
                eprintln!("unknown argument `{a}`; {usage}");
                std::process::exit(2);
            }
        }
    }
    let Some(tax) = tax else {
        eprintln!("--tax-id is required; {usage}");
        std::process::exit(2);
    };
    let tax = match TaxId::parse(&tax) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("統一編號有誤：{e}");
            std::process::exit(2);
        }
    };
    let year = match year.map(|y| y.parse::<i32>()) {
        None => None,
        Some(Ok(y)) if (1990..=2100).contains(&y) => Some(y),
        Some(_) => {
            eprintln!("年度格式不正確（例如 2025）");
            std::process::exit(2);
        }
    };
    let app = ecosphere::App::from_config(Config::from_env()?).await?;
    let doc = carbon::export(&app, &tax, year).await?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// `verify FILE [--jwks JWKS.json] [--evidence BILL…]`: checks a carbon statement (the PDF,
/// whose attached JSON is read, or the JSON itself) offline: the signature against the
/// JWKS (default: the keys of the local system in `APP_DATA_DIR`), the figures against
/// their hash, and each given bill file's SHA-256 against the evidence list. Prints what
/// it checked; exit 0 when everything holds, 1 on any mismatch, 2 for unusable input.
async fn verify(args: &[String]) -> i32 {
    use sha2::{Digest, Sha256};
    let usage = "usage: ecosphere verify 憑證.pdf|憑證.json [--jwks 金鑰.json] [--evidence 單據…]";
    let (mut file, mut jwks_path, mut bills) = (None, None, Vec::new());
    let mut it = args.iter();
    let mut in_evidence = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--jwks" => {
                in_evidence = false;
                jwks_path = it.next().cloned();
            }
            "--evidence" => in_evidence = true,
            f if f.starts_with("--") => {
                eprintln!("unknown argument `{f}`; {usage}");
                return 2;
            }
            f if in_evidence => bills.push(f.to_string()),
            f if file.is_none() => file = Some(f.to_string()),
            f => bills.push(f.to_string()),
        }
    }
    let Some(file) = file else {
        eprintln!("{usage}");
        return 2;
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("無法讀取 {file}：{e}");
            return 2;
        }
    };
    let json = if bytes.starts_with(b"%PDF-") {
        match ecosphere::statement::pdf::attached_json(&bytes) {
            Ok(j) => {
                println!("PDF：讀取附件 {}", ecosphere::statement::pdf::ATTACHMENT);
                j
            }
            Err(e) => {
                eprintln!("✗ {e}");
                return 1;
            }
        }
    } else {
        bytes
    };
    let doc: serde_json::Value = match serde_json::from_slice(&json) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("✗ 不是憑證 JSON：{e}");
            return 2;
        }
    };
    let jwks: serde_json::Value = match &jwks_path {
        Some(p) => match std::fs::read(p).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
            Some(j) => j,
            None => {
                eprintln!("無法讀取金鑰清單 {p}（JWKS JSON）");
                return 2;
            }
        },
        None => match Config::from_env() {
            Ok(c) => match ecosphere::App::from_config(c).await {
                Ok(app) => app.statement.jwks(),
                Err(e) => {
                    eprintln!("無法讀取本機系統的金鑰：{e}（或以 --jwks 指定 /.well-known/statement-keys.json 的內容）");
                    return 2;
                }
            },
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        },
    };
    println!(
        "憑證 {}：{} {}（統一編號 {}），{} 年度，簽發於 {}",
        doc["id"].as_str().unwrap_or("?"),
        doc["title"].as_str().unwrap_or(""),
        doc["firm"]["name"].as_str().unwrap_or("?"),
        doc["firm"]["tax_id"].as_str().unwrap_or("?"),
        doc["year"],
        doc["issued_at"].as_str().unwrap_or("?")
    );
    let mut ok = true;
    match ecosphere::statement::verify(&doc, &jwks) {
        Ok(v) => {
            println!("✓ 簽章有效（金鑰 {}，Ed25519，RFC 8785 正規化 JSON）", v.kid);
            println!("✓ 數據與雜湊值相符：總量 {} kgCO2e", doc["figures"]["total_kg_co2e"]);
        }
        Err(e) => {
            println!("✗ {e}");
            ok = false;
        }
    }
    let listed: std::collections::BTreeSet<String> =
        doc["documents"].as_array().into_iter().flatten().filter_map(|d| d["sha256"].as_str().map(str::to_string)).collect();
    for b in &bills {
        match std::fs::read(b) {
            Ok(data) => {
                let h = ecosphere::statement::hex(&Sha256::digest(&data));
                if listed.contains(&h) {
                    println!("✓ 單據 {b}：SHA-256 {h} 列於憑證證據清單");
                } else {
                    println!("✗ 單據 {b}：SHA-256 {h} 不在憑證證據清單中");
                    ok = false;
                }
            }
            Err(e) => {
                println!("✗ 無法讀取單據 {b}：{e}");
                ok = false;
            }
        }
    }
    if ok {
        println!("結果：通過");
        0
    } else {
        println!("結果：不通過");
        1
    }
}

/// `dead-letters [--redrive]`: the change feed's dead letters (stream records a consumer
/// gave up on, with the reason) as JSON; `--redrive` delivers each again first (the
/// consumers are idempotent) and lists what still fails. Reads `APP_DATA_DIR`.
async fn dead_letters(args: &[String]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let redrive = match args {
        [] => false,
        [a] if a == "--redrive" => true,
        _ => {
            eprintln!("usage: ecosphere dead-letters [--redrive]");
            std::process::exit(2);
        }
    };
    let app = ecosphere::App::from_config(Config::from_env()?).await?;
    let Some(local) = &app.local else {
        eprintln!("dead-letters reads the local system (APP_BACKEND=local); on AWS see the stream's on-failure queue");
        std::process::exit(2);
    };
    let feed = ecosphere::adapters::sqlite::feed::ChangeFeed::new(local.db.clone(), app.config.feed.clone(), app.clock.clone());
    let mut summary = serde_json::Map::new();
    if redrive {
        for c in ecosphere_local::stream_consumers(&app) {
            let (done, failing) = feed.redrive(c.as_ref()).await?;
            summary.insert(c.name().to_string(), serde_json::json!({"redriven": done, "still_failing": failing}));
        }
    }
    let letters: Vec<serde_json::Value> = feed
        .all_dead_letters()
        .await?
        .into_iter()
        .map(|d| serde_json::json!({"id": d.id, "consumer": d.consumer, "seq": d.seq, "attempts": d.attempts, "error": d.error, "created_at": d.created_at}))
        .collect();
    println!("{}", serde_json::to_string_pretty(&serde_json::json!({"redrive": summary, "dead_letters": letters}))?);
    Ok(())
}

/// `programme check FILE.json`: the verdict of the programme year's rules on one
/// consultant's list of client firms, as JSON on stdout (CONTRACT.md). Exit 0 with a
/// verdict (whatever `ok` is), 2 with a zh-TW message for input that is not such a list.
fn programme(args: &[String]) -> i32 {
    use ecosphere::programme::{check, FirmList, Rules};
    let usage = "用法：ecosphere programme check 名單.json（- 代表標準輸入）";
    let [sub, file] = args else {
        eprintln!("{usage}");
        return 2;
    };
    if sub != "check" {
        eprintln!("未知的子命令「{sub}」；{usage}");
        return 2;
    }
    let text = if file == "-" {
        let mut s = String::new();
        match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
            Ok(_) => s,
            Err(e) => {
                eprintln!("無法讀取標準輸入：{e}");
                return 2;
            }
        }
    } else {
        match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => {
                    eprintln!("{file} 不是 UTF-8 文字檔");
                    return 2;
                }
            },
            Err(e) => {
                eprintln!("無法讀取 {file}：{e}");
                return 2;
            }
        }
    };
    let list = match FirmList::parse(&text) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let rules = match Rules::for_year(list.year) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let verdict = check(&rules, &list);
    println!("{}", serde_json::to_string_pretty(&verdict).expect("a verdict serialises"));
    0
}
