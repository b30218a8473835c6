//! A fuzz harness on the stable toolchain: mutations (bit flips, byte and block
//! insertions and deletions, truncation, splicing of two seeds, numbers swapped for
//! extreme ones) of realistic seed files — PDFs with text layers in Latin and Chinese,
//! CSV ledgers in UTF-8 and Big5, OCR'd bill text — run through the sniffer, the PDF
//! reader, the CSV import and the bill parsers for a fixed time. Any panic fails the test
//! with the seed and the input written to a file; inputs in
//! `shared/tests/fuzz-regressions/` are replayed on every run.
//!
//! `ECOSPHERE_FUZZ_SECONDS` (default 8) sets the time, `ECOSPHERE_FUZZ_SEED` replays a run.

#![cfg(test)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::domain::{ExtractedDocument, ExtractedPage, ExtractionMethod, TextLine};
use crate::ingest::parse::{parse_csv, parse_document};
use crate::ingest::pdf::{self, testpdf};
use crate::ingest::sniff::sniff;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const LEDGER: &str = "類別/kind,細項/detail,數量/quantity,單位/unit,起日/period_start,迄日/period_end,電號或水號/meter_id,金額/amount_ntd,發票號碼/invoice_number
電力,,1234,kWh,114/01/05,114/03/06,07-12-3456-78-9,4567,
自來水,,56,度,2025/1/10,2025-03-11,3-1234567-8,789,
95無鉛汽油,,30.5,L,2025-01-15,2025-01-15,,952,AB-12345678
冷媒,R-410A,3.5,kg,2025-03-02,2025-03-02,,4200,
";

const BILL: &str = "台灣電力公司 電費通知單
電號 07-12-3456-78-9
計費期間 114年01月05日至114年03月06日
計費度數 1,234 度
應繳總金額 4,567 元
客服專線 1911
電子發票證明聯 AB-12345678
95無鉛汽油 35.21公升 30.60 1,077TX";

fn seeds() -> Vec<Vec<u8>> {
    let (big5, _, _) = encoding_rs::BIG5.encode(LEDGER);
    vec![
        testpdf::ascii(&[&["Taipower bill", "kWh 1234"], &[]]),
        testpdf::cjk(&["台灣電力公司 電費通知單", "計費度數: 1,234 度"], true),
        testpdf::cjk(&["台灣自來水公司", "用水度數 56"], false),
        LEDGER.as_bytes().to_vec(),
        big5.into_owned(),
        format!("\u{feff}{LEDGER}").into_bytes(),
        BILL.as_bytes().to_vec(),
    ]
}

const EXTREMES: &[&str] = &["0", "-1", "99999999999999999999", "1e308", "NaN", "２０２５", "114/13/45", "0.0000001", "/", ""];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below((v.len() - i).min(64) + 1);
                v.drain(i..i + n);
            }
            3 => v.truncate(rng.below(v.len() + 1)),
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let a = rng.below(v.len() + 1);
                let b = rng.below(other.len() + 1);
                let mut spliced = v[..a].to_vec();
                spliced.extend_from_slice(&other[b..]);
                v = spliced;
            }
            5 if !v.is_empty() => {
                // Repeat a block (nesting, long lines).
                let i = rng.below(v.len());
                let n = rng.below((v.len() - i).min(32) + 1);
                let block = v[i..i + n].to_vec();
                for _ in 0..rng.below(50) {
                    v.splice(i..i, block.iter().copied());
                }
            }
            6 => {
                // A digit run replaced by an extreme value.
                if let Some(i) = v.iter().position(|b| b.is_ascii_digit()) {
                    let end = v[i..].iter().position(|b| !b.is_ascii_digit()).map_or(v.len(), |e| i + e);
                    v.splice(i..end, EXTREMES[rng.below(EXTREMES.len())].bytes());
                }
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.splice(i..i, ["\r\n", "\"", ",", "%", "<<", ">>", "[", "]", "(", ")", "obj", "stream", "\u{0}"][rng.below(13)].bytes());
            }
        }
    }
    v.truncate(256 * 1024);
    v
}

fn text_doc(bytes: &[u8]) -> ExtractedDocument {
    let text = String::from_utf8_lossy(bytes);
    ExtractedDocument {
        method: ExtractionMethod::Tesseract,
        pages: vec![ExtractedPage { page: 1, lines: text.lines().map(|l| TextLine { text: l.to_string(), confidence: 0.8 }).collect(), fields: vec![] }],
    }
}

/// Runs every parser that takes `bytes`; Err(name) names the one that panicked.
fn run_all(bytes: &[u8]) -> Result<(), &'static str> {
    let ok = |name, f: &dyn Fn()| catch_unwind(AssertUnwindSafe(f)).map_err(|_| name);
    ok("sniff", &|| {
        let _ = sniff(bytes);
    })?;
    if bytes.starts_with(b"%PDF") {
        ok("pdf", &|| {
            let _ = pdf::pages(bytes);
        })?;
    }
    ok("csv", &|| {
        let _ = parse_csv(bytes);
    })?;
    ok("bill", &|| {
        let _ = parse_document(&text_doc(bytes));
    })?;
    Ok(())
}

#[test]
fn parsers_of_untrusted_files_survive_mutated_inputs() {
    // Regressions first.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut regressions = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(run_all(&bytes), Ok(()), "regression {} crashes again", path.display());
        regressions += 1;
    }
    let seconds: u64 = std::env::var("ECOSPHERE_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let seed: u64 = std::env::var("ECOSPHERE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
    });
    let mut rng = Rng(seed);
    let seeds = seeds();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    let mut slowest = Duration::ZERO;
    // Silence the panic messages of the parsers' own catch_unwind guards.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    while Instant::now() < deadline {
        let base = seeds[rng.below(seeds.len())].clone();
        let input = mutate(&mut rng, &seeds, &base);
        let t = Instant::now();
        if let Err(name) = run_all(&input) {
            failure = Some((name, input));
            break;
        }
        slowest = slowest.max(t.elapsed());
        runs += 1;
    }
    std::panic::set_hook(hook);
    if let Some((name, input)) = failure {
        let path = std::env::temp_dir().join(format!("ecosphere-fuzz-{seed}-{name}.bin"));
        std::fs::write(&path, &input).unwrap();
        panic!("the {name} parser panicked (ECOSPHERE_FUZZ_SEED={seed}); input in {}", path.display());
    }
    eprintln!("fuzz: seed {seed}, {runs} inputs in {seconds} s, slowest {slowest:?}, {regressions} regressions replayed");
    assert!(runs > 10, "the harness ran ({runs} inputs)");
}
