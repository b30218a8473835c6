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
        Some("national") => std::process::exit(national(&args[1..]).await),
        Some("demo-data") => std::process::exit(demo_data(&args[1..]).await),
        Some(cmd) => {
            eprintln!("unknown command `{cmd}`; usage: ecosphere [serve] | ecosphere export --tax-id 統一編號 [--year 年度] | ecosphere verify 憑證.pdf|憑證.json [--jwks 金鑰.json] [--evidence 單據…] | ecosphere dead-letters [--redrive] | ecosphere programme check 名單.json | ecosphere national --year 年度 | ecosphere demo-data --firms 家數 --year 年度");
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

/// `--flag value` / `--flag=value` pairs; anything else is an error message.
fn flags(args: &[String], known: &[&str]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown argument `{a}`"));
        }
        let value = inline.or_else(|| it.next().cloned()).ok_or_else(|| format!("{flag} 需要一個值"))?;
        out.insert(flag, value);
    }
    Ok(out)
}

fn year_flag(f: &std::collections::BTreeMap<String, String>) -> Result<i32, String> {
    let y = f.get("--year").ok_or("--year 為必填（例如 --year 2025）")?;
    match y.parse::<i32>() {
        Ok(y) if (2000..=2100).contains(&y) => Ok(y),
        _ => Err(format!("年度格式不正確：「{y}」（例如 2025）")),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a command once its arguments parsed: a bad argument prints its message and the
/// usage and exits 2; a failed run prints `failed` with the reason and exits 1.
async fn command<A, Fut>(usage: &str, parsed: Result<A, String>, failed: &str, run: impl FnOnce(A) -> Fut) -> i32
where
    Fut: std::future::Future<Output = Result<(), BoxError>>,
{
    let a = match parsed {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}; {usage}");
            return 2;
        }
    };
    match run(a).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{failed}：{e}");
            1
        }
    }
}

fn national_args(args: &[String]) -> Result<(i32, Config, ecosphere::national::privacy::Thresholds), String> {
    let f = flags(args, &["--year", "--min-firms", "--max-top2-share"])?;
    let year = year_flag(&f)?;
    let config = Config::from_env().map_err(|e| format!("設定有誤：{e}"))?;
    let mut t = config.privacy;
    if let Some(v) = f.get("--min-firms") {
        t.min_firms = v.parse::<usize>().ok().filter(|n| *n >= 3).ok_or("--min-firms 須為 3 以上的整數")?;
    }
    if let Some(v) = f.get("--max-top2-share") {
        t.max_top2_share = v.parse::<f64>().ok().filter(|x| *x > 0.0 && *x < 1.0).ok_or("--max-top2-share 須介於 0 與 1 之間")?;
    }
    Ok((year, config, t))
}

/// `national --year YYYY [--min-firms N] [--max-top2-share X]`: the published cells by
/// industry (中類) × county, from `APP_DATA_DIR` (CONTRACT.md). Exit 2 on bad arguments.
async fn national(args: &[String]) -> i32 {
    let usage = "usage: ecosphere national --year 年度 [--min-firms 10] [--max-top2-share 0.85]";
    command(usage, national_args(args), "無法產生全國統計", |(year, config, t)| async move {
        let app = ecosphere::App::from_config(config).await?;
        let firms = ecosphere::national::firm_years(app.calculate.totals().as_ref(), app.firms.store().as_ref(), year).await?;
        let n = ecosphere::national::compute(year, &firms, &t);
        println!("{}", serde_json::to_string_pretty(&n)?);
        Ok(())
    })
    .await
}

fn demo_args(args: &[String]) -> Result<(usize, i32, u64), String> {
    let f = flags(args, &["--firms", "--year", "--seed"])?;
    let year = year_flag(&f)?;
    let n = f.get("--firms").and_then(|v| v.parse::<usize>().ok()).filter(|n| (1..=200_000).contains(n)).ok_or("--firms 須為 1 到 200000 的整數")?;
    let seed = f.get("--seed").map_or(Ok(2026), |v| v.parse::<u64>().map_err(|_| "--seed 須為非負整數".to_string()))?;
    Ok((n, year, seed))
}

/// `demo-data --firms N --year YYYY [--seed S]`: N synthetic firms (profiles, and a year
/// of bills as a CSV ledger each) put through the real ingest path into `APP_DATA_DIR`.
async fn demo_data(args: &[String]) -> i32 {
    let usage = "usage: ecosphere demo-data --firms 家數 --year 年度 [--seed 亂數種子]";
    command(usage, demo_args(args), "無法建立示範資料", |(n, year, seed)| async move {
        let config = Config::from_env()?;
        if !matches!(config.backend, Backend::Local { .. }) {
            return Err("demo-data 只在本機模式使用（請勿設定 APP_BACKEND=aws）".into());
        }
        let app = ecosphere::App::from_config(config).await?;
        let local = app.local.as_ref().ok_or("local mode")?;
        let started = std::time::Instant::now();
        let firms = ecosphere::national::demo::generate(n, year, seed);
        let batch = format!("示範資料-{year}");
        for firm in &firms {
            app.firms.save_fields(&firm.tax_id, year, firm.profile.clone(), None, "demo-data").await?;
            let dir = local.drop_dir.join(firm.tax_id.as_str()).join(&batch);
            std::fs::create_dir_all(&dir)?;
            // Written under a temporary name and renamed, so the watcher never reads half a file.
            let tmp = dir.join(".ledger.csv.part");
            std::fs::write(&tmp, &firm.csv)?;
            std::fs::rename(&tmp, dir.join(format!("{year}-帳單明細.csv")))?;
        }
        ecosphere_local::process_pending(&app).await?;
        let (mut lines, mut review) = (0usize, 0usize);
        for firm in &firms {
            lines += app.activities.list_emissions(&firm.tax_id, Some(year)).await?.len();
            review += app.activities.list_activities(&firm.tax_id, Some(year)).await?.iter().filter(|a| a.status == ecosphere::domain::inventory::ActivityStatus::NeedsReview).count();
        }
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("已建立 {n} 家示範企業（{year} 年度）：{lines} 筆排放明細，{review} 筆待確認，耗時 {seconds:.1} 秒。資料目錄：{}", local.data_dir.display());
        println!("{}", serde_json::json!({ "firms": n, "year": year, "emission_lines": lines, "needs_review": review, "seconds": seconds }));
        Ok(())
    })
    .await
}
