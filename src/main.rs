//! `ecosphere`: runs the whole system on one machine.
//!
//! Environment: `APP_ADDR` (default 127.0.0.1:3000), `APP_DATA_DIR` (default
//! ./.ecosphere), `APP_REVIEWERS`, `APP_PUBLIC_URL`, `RUST_LOG`; see README.md.

use ecosphere::config::Backend;
use ecosphere::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    ecosphere::runtime::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(cmd) = args.first().filter(|a| *a != "serve") {
        eprintln!("unknown command `{cmd}`; usage: ecosphere [serve]");
        std::process::exit(2);
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
