//! End-to-end tests of `parse_document` and `parse_csv` on the bills as rendered.

use chrono::NaiveDate;

use super::*;
use crate::domain::{ActivityKind, ExtractionMethod, Field, TextLine, Unit};

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).expect("valid test date")
}

fn page_c(n: u32, text: &str, conf: f32) -> ExtractedPage {
    ExtractedPage {
        page: n,
        lines: text.lines().map(|t| TextLine { text: t.to_string(), confidence: conf }).collect(),
        fields: vec![],
    }
}

fn doc(pages: Vec<ExtractedPage>) -> ExtractedDocument {
    ExtractedDocument { method: ExtractionMethod::Tesseract, pages }
}

fn one(text: &str) -> ActivityCandidate {
    let out = parse_document(&doc(vec![page_c(1, text, 0.93)]));
    assert!(out.unrecognised_pages.is_empty(), "page not recognised: {text}");
    assert_eq!(out.candidates.len(), 1);
    out.candidates.into_iter().next().expect("one candidate")
}

const TAIPOWER: &str = "台灣電力公司 電費通知單
電號: 07-12-3456-78-9
用電地址: 台中市西屯區市政路100號
計費期間: 114/01/05 至 114/03/06
計費度數: 1,234 度
應繳總金額: 4,567 元";

const WATER: &str = "台灣自來水公司 水費通知單
水號: 3-1234567-8
計費期間: 114/01/10 至 114/03/11
用水度數: 56 度
應繳總金額: 789 元";

const FUEL: &str = "台亞加油站 電子發票證明聯
114年01-02月
AB-12345678
2025-01-15 10:23:45
95無鉛汽油 30.50公升 x 31.20 = 952
總計: 952";

const GAS: &str = "欣欣天然氣股份有限公司 繳費通知
用戶編號: 12345678
計費期間: 114/01/01 至 114/02/28
使用度數: 120 度
應繳金額: 1,650 元";

#[test]
fn electricity_bill_exact_bimonthly() {
    let c = one(TAIPOWER);
    assert_eq!(c.kind, ActivityKind::Electricity);
    assert_eq!(c.unit, Unit::Kwh);
    assert_eq!(c.quantity, Some(1234.0));
    assert_eq!(c.amount_ntd, Some(4567.0));
    assert_eq!(c.meter_id.as_deref(), Some("07-12-3456-78-9"));
    assert_eq!(c.period_start, Some(d(2025, 1, 5)));
    assert_eq!(c.period_end, Some(d(2025, 3, 6)), "two-month period kept for splitting");
    assert!(c.issues.is_empty(), "{:?}", c.issues);
    assert!((c.confidence - 0.93).abs() < 1e-6);
    assert_eq!(c.page, 1);
}

#[test]
fn electricity_noisy_ocr() {
    let noisy = "台 灣 電 力 公 司  電 費 通 知 單
電號 O7-l2-3456-78-9
計 費 期 間：１１４/０１/０５ 至 １１４/O３/０６
計費度數 1, 234 庋
應繳總金額：４，５６７ 元";
    let c = one(noisy);
    assert_eq!(c.kind, ActivityKind::Electricity);
    assert_eq!(c.meter_id.as_deref(), Some("07-12-3456-78-9"));
    assert_eq!(c.quantity, Some(1234.0));
    assert_eq!(c.amount_ntd, Some(4567.0));
    assert_eq!(c.period_start, Some(d(2025, 1, 5)));
    assert_eq!(c.period_end, Some(d(2025, 3, 6)));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
}

#[test]
fn electricity_missing_kwh_is_none_with_issue() {
    let text = TAIPOWER.replace("計費度數: 1,234 度\n", "");
    let c = one(&text);
    assert_eq!(c.quantity, None);
    assert!(c.issues.iter().any(|i| i.contains("計費度數")), "{:?}", c.issues);
}

#[test]
fn electricity_unreadable_digit_is_not_guessed() {
    let c = one(&TAIPOWER.replace("1,234", "1,2S4"));
    assert_eq!(c.quantity, None);
    assert!(!c.issues.is_empty());
}

#[test]
fn electricity_checks_period_rate_and_meter() {
    let bad = TAIPOWER
        .replace("07-12-3456-78-9", "07-12-3456-78")
        .replace("114/03/06", "114/01/10")
        .replace("4,567", "45,670");
    let c = one(&bad);
    assert_eq!(c.issues.len(), 3, "{:?}", c.issues);
    assert!(c.issues.iter().any(|i| i.contains("電號")));
    assert!(c.issues.iter().any(|i| i.contains("天")));
    assert!(c.issues.iter().any(|i| i.contains("每度")));
    let reversed = one(&TAIPOWER.replace("114/01/05 至 114/03/06", "114/03/06 至 114/01/05"));
    assert!(reversed.issues.iter().any(|i| i.contains("不在迄日")), "{:?}", reversed.issues);
    let invalid = one(&TAIPOWER.replace("114/03/06", "114/02/30"));
    assert_eq!(invalid.period_end, None);
    assert!(invalid.issues.iter().any(|i| i.contains("114/02/30")));
}

#[test]
fn low_confidence_line_raises_issue_and_lowers_confidence() {
    let mut p = page_c(1, TAIPOWER, 0.93);
    for l in &mut p.lines {
        if l.text.contains("計費度數") {
            l.confidence = 0.41;
        }
    }
    let out = parse_document(&doc(vec![p]));
    let c = &out.candidates[0];
    assert_eq!(c.quantity, Some(1234.0));
    assert!((c.confidence - 0.41).abs() < 1e-6);
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
    assert!(c.issues[0].contains("計費度數") && c.issues[0].contains("信心"));
}

#[test]
fn water_bill_exact() {
    let c = one(WATER);
    assert_eq!(c.kind, ActivityKind::Water);
    assert_eq!(c.unit, Unit::M3);
    assert_eq!(c.quantity, Some(56.0));
    assert_eq!(c.amount_ntd, Some(789.0));
    assert_eq!(c.meter_id.as_deref(), Some("3-1234567-8"));
    assert_eq!(c.period_start, Some(d(2025, 1, 10)));
    assert_eq!(c.period_end, Some(d(2025, 3, 11)));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
    let cheap = one(&WATER.replace("789", "78"));
    assert!(cheap.issues.iter().any(|i| i.contains("合理範圍")), "{:?}", cheap.issues);
}

#[test]
fn fuel_receipt_exact() {
    let c = one(FUEL);
    assert_eq!(c.kind, ActivityKind::Gasoline);
    assert_eq!(c.detail.as_deref(), Some("95無鉛汽油"));
    assert_eq!(c.unit, Unit::Litre);
    assert_eq!(c.quantity, Some(30.5));
    assert_eq!(c.unit_price, Some(31.2));
    assert_eq!(c.amount_ntd, Some(952.0));
    assert_eq!(c.invoice_number.as_deref(), Some("AB12345678"));
    assert_eq!(c.period_start, Some(d(2025, 1, 15)));
    assert_eq!(c.period_end, Some(d(2025, 1, 15)));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
}

#[test]
fn fuel_receipt_diesel_roc_date_and_noise() {
    let text = "台亞加油站 電子發票證明聯
114年01-02月
CD-87654321
114/01/15
超級柴油 4O.OO公升 x 28.5O = l,l40
總計：1,140";
    let c = one(text);
    assert_eq!(c.kind, ActivityKind::Diesel);
    assert_eq!(c.detail.as_deref(), Some("超級柴油"));
    assert_eq!(c.quantity, Some(40.0));
    assert_eq!(c.unit_price, Some(28.5));
    assert_eq!(c.amount_ntd, Some(1140.0));
    assert_eq!(c.period_start, Some(d(2025, 1, 15)));
    assert_eq!(c.invoice_number.as_deref(), Some("CD87654321"));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
}

#[test]
fn fuel_misread_digit_fails_total_check() {
    let c = one(&FUEL.replace("30.50公升", "38.50公升"));
    assert_eq!(c.quantity, Some(38.5));
    assert!(c.issues.iter().any(|i| i.contains("不符")), "{:?}", c.issues);
    let pricey = one(&FUEL.replace("x 31.20 = 952", "x 81.20 = 2477").replace("總計: 952", "總計: 2477"));
    assert!(pricey.issues.iter().any(|i| i.contains("單價")), "{:?}", pricey.issues);
}

#[test]
fn fuel_from_textract_expense_fields() {
    let f = |k: &str, v: &str, item: Option<u32>| Field { key: k.into(), value: v.into(), confidence: 0.97, item };
    let p = ExtractedPage {
        page: 2,
        lines: vec![TextLine { text: "台亞加油站".into(), confidence: 0.99 }],
        fields: vec![
            f("INVOICE_RECEIPT_ID", "AB-12345678", None),
            f("INVOICE_RECEIPT_DATE", "2025/01/15", None),
            f("TOTAL", "952", None),
            f("ITEM", "98無鉛汽油", Some(0)),
            f("QUANTITY", "30.50", Some(0)),
            f("UNIT_PRICE", "31.20", Some(0)),
            f("PRICE", "952", Some(0)),
        ],
    };
    let out = parse_document(&ExtractedDocument { method: ExtractionMethod::TextractExpense, pages: vec![p] });
    let c = &out.candidates[0];
    assert_eq!(c.detail.as_deref(), Some("98無鉛汽油"));
    assert_eq!((c.quantity, c.unit_price, c.amount_ntd), (Some(30.5), Some(31.2), Some(952.0)));
    assert_eq!(c.invoice_number.as_deref(), Some("AB12345678"));
    assert_eq!(c.period_start, Some(d(2025, 1, 15)));
    assert_eq!(c.page, 2);
    assert!(c.issues.is_empty(), "{:?}", c.issues);
}

#[test]
fn electricity_from_textract_queries() {
    let f = |k: &str, v: &str, conf: f32| Field { key: k.into(), value: v.into(), confidence: conf, item: None };
    let p = ExtractedPage {
        page: 1,
        lines: vec![],
        fields: vec![
            f("meter_id", "07-12-3456-78-9", 0.95),
            f("period", "114/01/05 至 114/03/06", 0.95),
            f("kwh", "1,234", 0.6),
            f("amount", "4,567", 0.95),
        ],
    };
    let out = parse_document(&ExtractedDocument { method: ExtractionMethod::TextractAnalyzeDocument, pages: vec![p] });
    let c = &out.candidates[0];
    assert_eq!(c.kind, ActivityKind::Electricity);
    assert_eq!(c.quantity, Some(1234.0));
    assert!((c.confidence - 0.6).abs() < 1e-6);
    assert_eq!(c.issues.len(), 1, "{:?}", c.issues);
}

#[test]
fn natural_gas_bill_exact() {
    let c = one(GAS);
    assert_eq!(c.kind, ActivityKind::NaturalGas);
    assert_eq!(c.unit, Unit::M3);
    assert_eq!(c.quantity, Some(120.0));
    assert_eq!(c.amount_ntd, Some(1650.0));
    assert_eq!(c.meter_id.as_deref(), Some("12345678"));
    assert_eq!(c.period_start, Some(d(2025, 1, 1)));
    assert_eq!(c.period_end, Some(d(2025, 2, 28)));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
    let odd = one(&GAS.replace("1,650", "16,500"));
    assert!(odd.issues.iter().any(|i| i.contains("合理範圍")));
}

#[test]
fn lpg_receipts() {
    let c = one("大同瓦斯行 收據\n114/02/03\n桶裝瓦斯 20公斤 x 2桶\n金額: 1,600");
    assert_eq!(c.kind, ActivityKind::Lpg);
    assert_eq!((c.quantity, c.unit), (Some(40.0), Unit::Kg));
    assert_eq!(c.amount_ntd, Some(1600.0));
    assert_eq!(c.period_start, Some(d(2025, 2, 3)));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
    let c = one("瓦斯行\n2025-02-03\n液化石油氣 40 kg\n金額: 1,600");
    assert_eq!(c.quantity, Some(40.0));
    let c = one("瓦斯行\n2025-02-03\n桶裝瓦斯 兩桶\n金額: 1,600");
    assert_eq!(c.quantity, None);
    assert!(c.issues.iter().any(|i| i.contains("公斤")));
}

#[test]
fn refrigerant_refill() {
    let c = one("冷氣維修服務 發票\nEF-11223344\n2025/03/02\n冷媒填充 R-410A 3.5 kg\n金額: 4,200");
    assert_eq!(c.kind, ActivityKind::Refrigerant);
    assert_eq!(c.detail.as_deref(), Some("R-410A"));
    assert_eq!((c.quantity, c.unit), (Some(3.5), Unit::Kg));
    assert_eq!(c.amount_ntd, Some(4200.0));
    assert_eq!(c.invoice_number.as_deref(), Some("EF11223344"));
    assert_eq!(c.period_start, Some(d(2025, 3, 2)));
    assert!(c.issues.is_empty(), "{:?}", c.issues);
}

#[test]
fn unrecognised_pages_are_listed() {
    let out = parse_document(&doc(vec![
        page_c(1, TAIPOWER, 0.95),
        page_c(2, "會議紀錄\n出席人員：王小明", 0.95),
        page_c(3, WATER, 0.95),
    ]));
    assert_eq!(out.unrecognised_pages, vec![2]);
    let kinds: Vec<_> = out.candidates.iter().map(|c| (c.kind, c.page)).collect();
    assert_eq!(kinds, vec![(ActivityKind::Electricity, 1), (ActivityKind::Water, 3)]);
}

// ---------- CSV ----------

const DOC_CSV: &str = "類別/kind,細項/detail,數量/quantity,單位/unit,起日/period_start,迄日/period_end,電號或水號/meter_id,金額/amount_ntd,發票號碼/invoice_number
電力,,1234,kWh,114/01/05,114/03/06,07-12-3456-78-9,4567,
water,,56,度,2025/1/10,2025-03-11,3-1234567-8,789,
95無鉛汽油,,30.5,L,2025-01-15,2025-01-15,,952,AB-12345678
冷媒,R410A,3.5,kg,2025-03-02,2025-03-02,,4200,
柴油,,,L,2025-01-20,2025-01-20,,800,
天然氣,,120,m3,2025-02-30,2025-03-01,,,
火箭燃料,,3,kg,,,,,
";

fn check_documented(out: &CsvImport) {
    assert_eq!(out.layout, CsvLayout::Documented);
    assert_eq!(out.candidates.len(), 6);
    let e = &out.candidates[0];
    assert_eq!((e.kind, e.quantity, e.unit, e.page), (ActivityKind::Electricity, Some(1234.0), Unit::Kwh, 2));
    assert_eq!((e.period_start, e.period_end), (Some(d(2025, 1, 5)), Some(d(2025, 3, 6))));
    assert!(e.issues.is_empty(), "{:?}", e.issues);
    let w = &out.candidates[1];
    assert_eq!((w.kind, w.quantity, w.unit), (ActivityKind::Water, Some(56.0), Unit::M3));
    assert_eq!(w.period_end, Some(d(2025, 3, 11)));
    let g = &out.candidates[2];
    assert_eq!((g.kind, g.detail.as_deref()), (ActivityKind::Gasoline, Some("95無鉛汽油")));
    assert_eq!(g.invoice_number.as_deref(), Some("AB12345678"));
    assert!(g.issues.is_empty(), "{:?}", g.issues);
    let r = &out.candidates[3];
    assert_eq!(r.detail.as_deref(), Some("R-410A"), "R410A normalised");
    let diesel = &out.candidates[4];
    assert_eq!(diesel.quantity, None);
    assert!(diesel.issues.iter().any(|i| i.contains("數量")));
    let gas = &out.candidates[5];
    assert_eq!(gas.period_start, None);
    assert!(gas.issues.iter().any(|i| i.contains("起日")));
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].row, 8);
    assert!(out.rejected[0].reason.contains("火箭燃料"));
}

#[test]
fn csv_documented_utf8_bom_and_big5() {
    check_documented(&parse_csv(DOC_CSV.as_bytes()).expect("utf-8"));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(DOC_CSV.as_bytes());
    check_documented(&parse_csv(&bom).expect("utf-8 bom"));
    let (big5, _, unmappable) = encoding_rs::BIG5.encode(DOC_CSV);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&big5).is_err(), "really Big5 bytes");
    check_documented(&parse_csv(&big5).expect("big5"));
}

#[test]
fn csv_english_headers_and_units() {
    let csv = "kind,quantity,unit,period_start,period_end,amount_ntd\nlpg,50,公升,2025-01-01,2025-01-31,900\nlpg,50,,2025-01-01,2025-01-31,900\nelectricity,100,L,2025-01-01,2025-01-31,\nseptic,0,人時,2025-01-01,2025-12-31,\n";
    let out = parse_csv(csv.as_bytes()).expect("csv");
    let c = &out.candidates;
    assert_eq!((c[0].kind, c[0].unit, c[0].quantity), (ActivityKind::Lpg, Unit::Litre, Some(50.0)));
    assert_eq!(c[1].quantity, None, "LPG without a unit is ambiguous");
    assert_eq!(c[2].quantity, None, "litres of electricity rejected");
    assert!(!c[2].issues.is_empty());
    assert_eq!(c[3].quantity, None, "zero is never imported");
    assert!(c[3].issues.iter().any(|i| i.contains("大於 0")));
}

const EINVOICE: &str = "表頭=M|載具自訂名稱|載具號碼|發票日期|商店統編|商店店名|發票號碼|總金額|發票狀態|
明細=D|發票號碼|小計|品項名稱|
M|手機條碼|/ABC1234|20250115|12345678|台亞加油站|AB12345678|952|開立|
D|AB12345678|952|95無鉛汽油 30.50L|
M|手機條碼|/ABC1234|20250116|87654321|便利商店|CD11112222|85|開立|
D|CD11112222|45|御飯糰|
D|CD11112222|40|咖啡|
M|手機條碼|/ABC1234|20250120|12345678|台亞加油站|EF33334444|1140|開立|
D|EF33334444|1140|超級柴油|
M|手機條碼|/ABC1234|20250121|12345678|台亞加油站|GH55556666|500|作廢|
D|GH55556666|500|92無鉛汽油 16.00L|
";

#[test]
fn einvoice_export() {
    let out = parse_csv(EINVOICE.as_bytes()).expect("einvoice");
    assert_eq!(out.layout, CsvLayout::EInvoice);
    assert_eq!(out.skipped, 2, "snacks invoice and void invoice");
    assert_eq!(out.candidates.len(), 2);
    let a = &out.candidates[0];
    assert_eq!((a.kind, a.detail.as_deref(), a.quantity), (ActivityKind::Gasoline, Some("95無鉛汽油"), Some(30.5)));
    assert_eq!(a.invoice_number.as_deref(), Some("AB12345678"), "dedupe key");
    assert_eq!(a.amount_ntd, Some(952.0));
    assert_eq!(a.period_start, Some(d(2025, 1, 15)));
    assert_eq!(a.page, 4);
    assert!(a.issues.is_empty(), "{:?}", a.issues);
    let b = &out.candidates[1];
    assert_eq!((b.kind, b.quantity), (ActivityKind::Diesel, None));
    assert!(b.issues.iter().any(|i| i.contains("公升")));
    assert_eq!(b.invoice_number.as_deref(), Some("EF33334444"));
    // The OCR'd receipt and the export share the dedupe key.
    let receipt = one(FUEL);
    assert_eq!(receipt.invoice_number, a.invoice_number);
    // Big5 export too.
    let (big5, _, _) = encoding_rs::BIG5.encode(EINVOICE);
    assert_eq!(parse_csv(&big5).expect("big5 einvoice").candidates.len(), 2);
}

#[test]
fn garbage_csv_is_an_error() {
    assert!(matches!(parse_csv(b"hello,world\n1,2\n"), Err(CsvError::UnknownLayout(_))));
    assert!(matches!(parse_csv(&[0xff, 0xfe, 0x00, 0x81, 0x00, 0xff]), Err(CsvError::Encoding)));
    assert!(matches!(parse_csv(b"   \n"), Err(CsvError::Empty)));
    let msg = parse_csv(b"a;b;c\n").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("無法辨識"));
}

#[test]
fn never_panics_on_noise() {
    // Deterministic pseudo-random text from an alphabet of the characters the parsers
    // look at (labels, digits, separators, confusables, multi-byte punctuation).
    let alphabet: Vec<char> = "電號計費期間度數金額元至~/-.,:：１０Oolx×=公升LkgR桶冷媒瓦斯柴油汽無鉛95年月日|M D\n 表頭=AB1234567890"
        .chars()
        .collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..400 {
        let mut s = String::new();
        for _ in 0..(seed % 120) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let out = parse_document(&doc(vec![page_c(1, &s, 0.9)]));
        for c in &out.candidates {
            assert!(c.quantity.is_none_or(|q| q > 0.0), "quantity never zero: {s}");
        }
        let _ = parse_csv(s.as_bytes());
        let _ = parse_csv(&encoding_rs::BIG5.encode(&s).0);
    }
}

#[test]
fn classification_prefers_issuer_over_shared_labels() {
    let p = page_c(1, &TAIPOWER.replace("計費度數", "使用度數"), 0.9);
    assert_eq!(classify_page(&p), Some(PageKind::Electricity));
    assert_eq!(classify_page(&page_c(1, GAS, 0.9)), Some(PageKind::NaturalGas));
    assert_eq!(classify_page(&page_c(1, "使用度數: 120 度", 0.9)), Some(PageKind::NaturalGas));
    assert_eq!(classify_page(&page_c(1, FUEL, 0.9)), Some(PageKind::FuelReceipt));
    assert_eq!(classify_page(&page_c(1, "電子發票證明聯\n御飯糰 45", 0.9)), None);
}
