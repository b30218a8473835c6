//! The statement as a one- or two-page PDF/A-3u: the figures, the data-quality score, the
//! evidence hashes, the factors, who prepared it, a QR code and URL of the public check
//! page — and the signed JSON itself attached inside (`statement.json`), so the PDF alone
//! can be checked offline (`ecosphere verify FILE.pdf`).

use serde_json::Value;

use crate::factors::{category_label, scope_label};
use crate::report::canvas::{cell, Align, Attachment, Cell, Col, Doc, DocInfo, PdfError, BLACK, GREEN, GREY, LEFT, PAGE_H, RIGHT, RULE, WHITE};
use crate::report::model::{fmt_kg, fmt_tonnes};

/// The attachment's file name inside the PDF.
pub const ATTACHMENT: &str = "statement.json";

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        v => v.to_string(),
    }
}

/// Draws the QR code of `text` with its top-left corner at (x, y), `size` points wide.
fn qr(doc: &mut Doc, x: f64, y: f64, size: f64, text: &str) {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else { return };
    let n = code.width();
    let quiet = 2.0;
    let m = size / (n as f64 + 2.0 * quiet);
    doc.rect(x, y, size, size, WHITE);
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (row, col) = ((i / n) as f64, (i % n) as f64);
            // A hair of overlap so no seams show between modules.
            doc.rect(x + (col + quiet) * m, y + (row + quiet) * m, m + 0.05, m + 0.05, BLACK);
        }
    }
}

/// The statement PDF; `signed` is the signed statement document.
pub fn statement_pdf(signed: &Value) -> Result<Vec<u8>, PdfError> {
    let mut d = Doc::new();
    let year = s(&signed["year"]);
    let firm = &signed["firm"];
    let fig = &signed["figures"];
    let total = fig["total_kg_co2e"].as_f64().unwrap_or(0.0);
    let url = s(&signed["verify_url"]);

    d.rect(LEFT, d.y, RIGHT - LEFT, 40.0, GREEN);
    d.text_bold(LEFT + 12.0, d.y + 26.0, 17.0, &format!("碳排放查核參考憑證（{year} 年度）"), WHITE);
    d.y += 50.0;
    let top = d.y;
    let info_w = RIGHT - LEFT - 120.0;
    let rows = [
        ("憑證編號", s(&signed["id"])),
        ("公司名稱", s(&firm["name"])),
        ("統一編號", s(&firm["tax_id"])),
        ("行業", firm["industry"].as_str().unwrap_or("未登記").to_string()),
        ("縣市", firm["county"].as_str().unwrap_or("未登記").to_string()),
        ("盤查期間", format!("{} 至 {}", s(&signed["period"]["start"]), s(&signed["period"]["end"]))),
        ("依據", s(&signed["standard"])),
        ("簽發時間", format!("{} (UTC)", s(&signed["issued_at"]).replace('T', " ").trim_end_matches('Z'))),
    ];
    for (k, v) in rows {
        d.text(LEFT, d.y + 10.0, 9.0, k, GREY);
        d.paragraph_at(LEFT + 60.0, info_w - 60.0, &v, 9.0, BLACK);
        d.y += 2.0;
    }
    qr(&mut d, RIGHT - 110.0, top, 110.0, &url);
    d.text_aligned(RIGHT - 110.0, 110.0, top + 120.0, 7.0, "掃描查驗憑證", GREY, Align::Center);
    d.y = d.y.max(top + 130.0);

    d.heading("排放總量", 40.0);
    d.text_bold(LEFT, d.y + 22.0, 22.0, &format!("{} 公噸CO2e", fmt_tonnes(total)), GREEN);
    d.y += 30.0;
    d.paragraph(&format!("（{} kgCO2e；{}）", fmt_kg(total), s(&signed["unit"])), 9.0, BLACK);
    let pcaf = signed["data_quality"]["pcaf_weighted_score"].as_f64().map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into());
    d.paragraph(&format!("PCAF 資料品質分數（排放量加權）：{pcaf}"), 10.0, BLACK);
    d.paragraph(&s(&signed["data_quality"]["method"]), 7.5, GREY);

    d.heading("範疇與類別", 60.0);
    let cols = [
        Col { title: "項目", width: 300.0, align: Align::Left },
        Col { title: "排放量（kgCO2e）", width: 120.0, align: Align::Right },
        Col { title: "公噸CO2e", width: 90.0, align: Align::Right },
    ];
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for x in fig["by_scope"].as_array().into_iter().flatten() {
        let kg = x["kg_co2e"].as_f64().unwrap_or(0.0);
        rows.push(vec![cell(scope_label(x["scope"].as_u64().unwrap_or(0) as u8)), cell(fmt_kg(kg)), cell(fmt_tonnes(kg))]);
    }
    for x in fig["by_category"].as_array().into_iter().flatten() {
        let kg = x["kg_co2e"].as_f64().unwrap_or(0.0);
        if kg != 0.0 {
            rows.push(vec![cell(category_label(x["category"].as_u64().unwrap_or(0) as u8)), cell(fmt_kg(kg)), cell(fmt_tonnes(kg))]);
        }
    }
    d.table(&cols, &rows, &[vec![cell("合計"), cell(fmt_kg(total)), cell(fmt_tonnes(total))]], 8.5);

    d.heading("單據證據（SHA-256）", 40.0);
    let cols = [
        Col { title: "類型", width: 55.0, align: Align::Left },
        Col { title: "單據雜湊值 SHA-256", width: 270.0, align: Align::Left },
        Col { title: "電號／發票號碼", width: 85.0, align: Align::Left },
        Col { title: "期間", width: 105.0, align: Align::Left },
    ];
    let rows: Vec<Vec<Cell>> = signed["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let id = e["invoice_number"].as_str().or(e["meter_id"].as_str()).unwrap_or("—").to_string();
            let period = match (e["period_start"].as_str(), e["period_end"].as_str()) {
                (Some(a), Some(b)) => format!("{a}～{b}"),
                _ => "—".into(),
            };
            vec![cell(s(&e["kind"])), cell(s(&e["document_sha256"])), cell(id), cell(period)]
        })
        .collect();
    if rows.is_empty() {
        d.paragraph("（無計入之單據）", 9.0, GREY);
    } else {
        d.table(&cols, &rows, &[], 6.5);
    }

    d.heading("排放係數", 30.0);
    for f in signed["factors"].as_array().into_iter().flatten() {
        d.paragraph(&format!("{}：{}", s(&f["ref"]), s(&f["source"])), 7.5, BLACK);
    }
    let excluded = signed["figures"]["excluded"].as_array().cloned().unwrap_or_default();
    if !excluded.is_empty() {
        d.heading("排除項目", 30.0);
        for x in &excluded {
            let kg = x["kg_co2e"].as_f64().map(|v| format!("（{} kgCO2e）", fmt_kg(v))).unwrap_or_default();
            d.paragraph(&format!("{}{kg}：{}", s(&x["activity_id"]), s(&x["reason"])), 7.5, BLACK);
        }
    }

    d.heading("製表與查驗", 60.0);
    let prep = &signed["prepared_by"];
    let role = match prep["role"].as_str() {
        Some("consultant") => "輔導顧問",
        Some("firm_admin") => "公司管理者",
        _ => "公司成員",
    };
    let cert = prep["certificate"].as_str().map(|c| format!("（證書 {c}）")).unwrap_or_default();
    d.paragraph(&format!("製表人：{}（{role}）{cert}", s(&prep["name"])), 9.0, BLACK);
    d.paragraph(&format!("公司同意：{}", s(&signed["consent"]["statement"])), 8.0, BLACK);
    d.paragraph(&format!("數據雜湊值：{}", s(&signed["inventory_sha256"])), 7.5, BLACK);
    d.paragraph("電子簽章：Ed25519（分離式 JWS，RFC 8785 正規化 JSON），公開金鑰見 /.well-known/statement-keys.json。完整簽章 JSON 附於本 PDF（statement.json）。", 8.0, BLACK);
    d.paragraph(&format!("線上查驗：{url}"), 9.0, GREEN);

    let footer = format!("{}｜統一編號 {}｜碳排放查核參考憑證 {}", s(&firm["name"]), s(&firm["tax_id"]), s(&signed["id"]));
    d.add_footers(|foot, i, count| {
        let fy = PAGE_H - 36.0;
        foot.line(LEFT, fy - 10.0, RIGHT, fy - 10.0, 0.5, RULE);
        foot.text(LEFT, fy, 7.0, &crate::report::canvas::clip(&footer, 7.0, 420.0), GREY);
        foot.text_aligned(LEFT, RIGHT - LEFT, fy, 7.0, &format!("第 {} / {} 頁", i + 1, count), GREY, Align::Right);
    });
    let issued = chrono::DateTime::parse_from_rfc3339(&s(&signed["issued_at"])).map(|d| d.with_timezone(&chrono::Utc)).unwrap_or_default();
    let json = serde_json::to_vec_pretty(signed).map_err(|e| PdfError::Writer(e.to_string()))?;
    d.finish(&DocInfo {
        title: format!("{} {year} 年度碳排放查核參考憑證", s(&firm["name"])),
        subject: format!("統一編號 {}；憑證 {}", s(&firm["tax_id"]), s(&signed["id"])),
        keywords: vec!["碳排放查核參考憑證".into(), s(&signed["id"])],
        date: issued,
        attachments: vec![Attachment { name: ATTACHMENT.into(), mime: "application/json".into(), description: "簽章之憑證 JSON（RFC 8785 正規化後驗章）".into(), data: json }],
    })
}

/// The signed statement JSON attached inside a statement PDF.
pub fn attached_json(pdf: &[u8]) -> Result<Vec<u8>, String> {
    use pdf_extract::{Document, Object};
    let doc = Document::load_mem(pdf).map_err(|e| format!("不是可讀取的 PDF：{e}"))?;
    let deref = |o: &Object| -> Option<Object> {
        match o {
            Object::Reference(id) => doc.get_object(*id).ok().cloned(),
            o => Some(o.clone()),
        }
    };
    let catalog = doc.catalog().map_err(|e| format!("PDF 沒有目錄：{e}"))?;
    let names = catalog.get(b"Names").ok().and_then(deref).and_then(|o| o.as_dict().ok().cloned()).ok_or("PDF 沒有附件")?;
    let ef = names.get(b"EmbeddedFiles").ok().and_then(deref).and_then(|o| o.as_dict().ok().cloned()).ok_or("PDF 沒有附件")?;
    let arr = ef.get(b"Names").ok().and_then(deref).and_then(|o| o.as_array().ok().cloned()).ok_or("PDF 附件清單不正確")?;
    for pair in arr.chunks(2) {
        let [name, spec] = pair else { continue };
        let name = match deref(name) {
            Some(Object::String(bytes, _)) => String::from_utf8_lossy(&bytes).to_string(),
            _ => continue,
        };
        if !name.ends_with(ATTACHMENT) {
            continue;
        }
        let spec = deref(spec).and_then(|o| o.as_dict().ok().cloned()).ok_or("附件格式不正確")?;
        let efd = spec.get(b"EF").ok().and_then(deref).and_then(|o| o.as_dict().ok().cloned()).ok_or("附件格式不正確")?;
        let stream = efd.get(b"F").ok().and_then(deref).ok_or("附件格式不正確")?;
        let stream = stream.as_stream().map_err(|_| "附件格式不正確")?;
        let data = stream.decompressed_content().unwrap_or_else(|_| stream.content.clone());
        if data.len() > 16 * 1024 * 1024 {
            return Err("附件過大".into());
        }
        return Ok(data);
    }
    Err(format!("PDF 沒有附加 {ATTACHMENT}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::pdf::tests::{assert_fonts_embedded, pdf_pages, pdftotext, tmp_file};

    #[test]
    fn the_pdf_carries_the_signed_json_and_embeds_its_fonts() {
        let (doc, jwks) = crate::statement::tests::sample_signed();
        let pdf = statement_pdf(&doc).expect("pdf");
        assert_eq!(pdf, statement_pdf(&doc).expect("pdf"), "deterministic");
        let s = String::from_utf8_lossy(&pdf);
        assert!(s.contains("<pdfaid:part>3</pdfaid:part>") || s.contains("pdfaid:part=\"3\""), "PDF/A-3 claimed");
        let path = tmp_file("statement", &pdf);
        assert_fonts_embedded(&path);
        assert!(pdf_pages(&path) <= 2, "one or two pages");
        let text = pdftotext(&path);
        assert!(text.contains("碳排放查核參考憑證") && text.contains("綠光示範企業股份有限公司") && text.contains("24536806"), "{text}");
        let _ = std::fs::write("/tmp/statement-sample.pdf", &pdf);
        let _ = std::fs::remove_file(&path);
        let attached: Value = serde_json::from_slice(&attached_json(&pdf).expect("attachment")).expect("json");
        assert_eq!(attached, doc);
        assert!(crate::statement::verify(&attached, &jwks).is_ok());
        assert!(attached_json(b"%PDF-1.7 nonsense").is_err());
        let report = crate::report::report_pdf(&crate::report::html::tests::sample_model()).expect("pdf");
        assert!(attached_json(&report).unwrap_err().contains("附件"));
    }
}
