//! `ecosphere`: runs the whole system on one machine.
//!
//! Environment: `APP_ADDR` (default 127.0.0.1:3000), `APP_DATA_DIR` (default
//! ./.ecosphere), `APP_REVIEWERS`, `APP_PUBLIC_URL`, `RUST_LOG`; see README.md.

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
        Some(cmd) => {
            eprintln!("unknown command `{cmd}`; usage: ecosphere [serve] | ecosphere export --tax-id 統一編號 [--year 年度]");
            std::process::exit(2);
        }
    }
    let config = Config::from_env()?;
    let running = ecosphere_local::start(config).await?;
    println!("EcoSphere 碳星雲 is running at {}", running.url());
    println!("  application form:  {}/apply", running.url());
    if let Some(local) = &running.app.local {
        println!("  local mailbox:     {}/_dev/mailbox", running.url());
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
