//! 碳排放查核參考憑證 — the carbon statement a bank can check: a firm-year's totals by scope
//! and ISO 14064-1 category, a PCAF data-quality score, every source document's SHA-256,
//! the factors used and what was excluded, who prepared it, signed (Ed25519, detached JWS
//! over the RFC 8785 canonical JSON) with keys published as a JWKS.
//!
//! `build` is pure: the service gathers the inputs (lines, activities, document hashes) and
//! stores the result; the PDF (`pdf`) and the public check page only show it.

pub mod jcs;
pub mod pdf;
pub mod sign;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::domain::inventory::{Activity, ActivityStatus, EmissionRecord};
use crate::domain::ExtractionMethod;

pub const STATEMENT_TYPE: &str = "ecosphere.carbon-statement";
pub const STATEMENT_VERSION: u32 = 1;

/// Who prepared the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preparer {
    /// `firm_admin`, `firm_member` or `consultant`.
    pub role: String,
    pub name: String,
    /// The consultant's certificate number, when a consultant prepared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// A stored statement: the signed document and what has happened to it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRecord {
    pub id: String,
    pub tax_id: String,
    pub year: i32,
    pub issued_at: String,
    /// `inventory_sha256` of the statement: the figures it vouches for.
    pub inventory_sha256: String,
    /// The signed statement document (JSON text).
    pub document: String,
    /// A newer statement of the same firm-year that replaces this one.
    pub superseded_by: Option<String>,
    /// Why it was revoked, when it was.
    pub revoked: Option<String>,
}

/// A source document: its hash and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentHash {
    pub sha256: String,
    pub size: u64,
    /// `image/png`, `application/pdf`, `text/csv`…
    pub content_type: String,
}

/// Everything a statement is made of.
pub struct Inputs<'a> {
    pub id: String,
    pub tax_id: String,
    pub company_name: String,
    pub industry: Option<String>,
    pub county: Option<String>,
    pub year: i32,
    pub issued_at: DateTime<Utc>,
    pub lines: &'a [EmissionRecord],
    /// The year's activities (every status).
    pub activities: &'a [Activity],
    /// By document (blob key).
    pub documents: &'a BTreeMap<String, DocumentHash>,
    /// Factor reference (`id@version`) → source text.
    pub factor_sources: &'a BTreeMap<String, String>,
    pub preparer: Preparer,
    pub verify_url: String,
}

/// `v` rounded to `places` decimals, never a negative zero.
fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    let r = (v * f).round() / f;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

fn r2(v: f64) -> f64 {
    round(v, 2)
}

fn r3(v: f64) -> f64 {
    round(v, 3)
}

/// PCAF data-quality score (1 best … 5 worst) of one emission line, and why.
///
/// - 2: activity data read from a bill, meter reading or e-invoice (the document is held and
///   hashed) with an official or supplier factor;
/// - 3: activity data from the firm's own records without a document image (CSV ledger),
///   or a factor that is provisional (暫用) or not verified against its publication;
/// - 1 only with a third-party verification recorded against the statement (none is
///   recorded here, so never);
/// - 4–5 are for estimates from spend or revenue, which this product does not make.
pub fn pcaf_score(line: &EmissionRecord, method: Option<ExtractionMethod>) -> (u8, &'static str) {
    // A CSV ledger is the firm's own record, also when a person corrected a row of it;
    // the Ministry of Finance's e-invoice export is the invoices themselves.
    let ledger = matches!(method, Some(ExtractionMethod::Csv)) || line.document.to_ascii_lowercase().ends_with(".csv");
    let documentary = matches!(method, Some(ExtractionMethod::EInvoice)) || !ledger;
    match (documentary, line.provisional || line.unverified) {
        (true, false) => (2, "單據（帳單、電子發票）之實際活動數據，採官方係數"),
        (true, true) => (3, "單據之實際活動數據，但係數為暫用或未查證"),
        (false, false) => (3, "自行登錄之活動數據（無單據影像），採官方係數"),
        (false, true) => (3, "自行登錄之活動數據，係數為暫用或未查證"),
    }
}

/// The figures a statement vouches for (what `inventory_sha256` covers): totals by scope
/// and category, one line per activity and scope/category, and the exclusions.
pub struct Figures {
    pub value: Value,
    /// PCAF score weighted by emissions (None for an empty year).
    pub pcaf: Option<f64>,
    /// The activities counted in the lines.
    pub counted: BTreeSet<String>,
}

impl Figures {
    pub fn digest(&self) -> String {
        inventory_digest(&self.value)
    }
}

/// The figures of a firm-year from its emission lines and activities.
pub fn figures(lines: &[EmissionRecord], activities: &[Activity]) -> Figures {
    let by_activity: BTreeMap<&str, &Activity> = activities.iter().map(|a| (a.id.as_str(), a)).collect();
    // Lines, aggregated per activity and scope/category (a bill split over months is one line).
    let mut agg: BTreeMap<(u8, u8, String), (f64, f64, BTreeSet<String>, &EmissionRecord)> = BTreeMap::new();
    let mut excluded_kg: BTreeMap<String, (f64, String)> = BTreeMap::new();
    for l in lines {
        let e = agg.entry((l.scope, l.category, l.activity_id.clone())).or_insert((0.0, 0.0, BTreeSet::new(), l));
        e.0 += l.kg_co2e;
        e.1 += l.quantity;
        e.2.extend(l.factor_refs.iter().cloned());
        if l.excluded_kg_co2e > 0.0 {
            let x = excluded_kg.entry(l.activity_id.clone()).or_insert((0.0, l.notes.join(" ")));
            x.0 += l.excluded_kg_co2e;
        }
    }
    let mut total = 0.0;
    let mut by_scope: BTreeMap<u8, f64> = (1..=3).map(|s| (s, 0.0)).collect();
    let mut by_category: BTreeMap<u8, f64> = (1..=6).map(|c| (c, 0.0)).collect();
    let mut weighted = 0.0;
    let mut lines = Vec::new();
    for ((scope, category, activity_id), (kg, qty, refs, first)) in &agg {
        let a = by_activity.get(activity_id.as_str());
        let (score, why) = pcaf_score(first, a.map(|a| a.method));
        total += kg;
        weighted += f64::from(score) * kg;
        *by_scope.entry(*scope).or_default() += kg;
        *by_category.entry(*category).or_default() += kg;
        lines.push(json!({
            "activity_id": activity_id,
            "scope": scope,
            "category": category,
            "source": first.source_label,
            "quantity": r3(*qty),
            "unit": first.unit.as_str(),
            "kg_co2e": r2(*kg),
            "factor_refs": refs.iter().collect::<Vec<_>>(),
            "provisional": first.provisional,
            "pcaf_score": score,
            "pcaf_basis": why,
        }));
    }
    // Excluded: refrigerants outside the inventory, duplicates and pages a person excluded.
    let mut excluded = Vec::new();
    for (activity_id, (kg, why)) in &excluded_kg {
        excluded.push(json!({"activity_id": activity_id, "kg_co2e": r2(*kg), "reason": if why.is_empty() { "不計入總量之排放（另行揭露）".to_string() } else { why.clone() }}));
    }
    for a in activities {
        let reason = match a.status {
            ActivityStatus::Duplicate => format!("重複單據，已於 {} 計入一次", a.duplicate_of.as_deref().unwrap_or("先前單據")),
            ActivityStatus::Rejected => "經人工確認非排放活動，予以排除".to_string(),
            _ => continue,
        };
        excluded.push(json!({"activity_id": a.id, "kg_co2e": null, "reason": reason}));
    }
    let pcaf = if total > 0.0 { Some(((weighted / total) * 10.0).round() / 10.0) } else { None };
    let figures = json!({
        "total_kg_co2e": r2(total),
        "total_t_co2e": r3(total / 1000.0),
        "by_scope": by_scope.iter().map(|(s, v)| json!({"scope": s, "kg_co2e": r2(*v)})).collect::<Vec<_>>(),
        "by_category": by_category.iter().map(|(c, v)| json!({"category": c, "kg_co2e": r2(*v)})).collect::<Vec<_>>(),
        "lines": lines,
        "excluded": excluded,
    });
    let counted = agg.keys().map(|k| k.2.clone()).collect();
    Figures { value: figures, pcaf, counted }
}

/// The statement document (without its signature): a JSON object with stable member names.
pub fn build(i: &Inputs) -> Value {
    let Figures { value: figures, pcaf, counted } = self::figures(i.lines, i.activities);
    // Evidence: every counted activity's document, hashed.
    let mut evidence = Vec::new();
    let mut docs_used: BTreeSet<&str> = BTreeSet::new();
    for a in i.activities.iter().filter(|a| counted.contains(&a.id)) {
        let doc = i.documents.get(&a.document);
        docs_used.insert(a.document.as_str());
        evidence.push(json!({
            "activity_id": a.id,
            "document_sha256": doc.map(|d| d.sha256.clone()),
            "document_type": doc.map(|d| d.content_type.clone()),
            "page": a.page,
            "kind": a.kind.map(|k| k.as_str()),
            "quantity": a.quantity.map(r3),
            "unit": a.unit.map(|u| u.as_str()),
            "period_start": a.period_start.map(|d| d.to_string()),
            "period_end": a.period_end.map(|d| d.to_string()),
            "meter_id": a.meter_id,
            "invoice_number": a.invoice_number,
            "method": a.method.as_str(),
        }));
    }
    let documents: Vec<Value> = docs_used
        .iter()
        .filter_map(|d| i.documents.get(*d))
        .map(|d| (d.sha256.clone(), d))
        .collect::<BTreeMap<_, _>>()
        .into_values()
        .map(|d| json!({"sha256": d.sha256, "type": d.content_type, "size": d.size}))
        .collect();
    let mut factors: BTreeSet<String> = BTreeSet::new();
    for l in i.lines {
        factors.extend(l.factor_refs.iter().cloned());
    }
    let factors: Vec<Value> = factors
        .into_iter()
        .map(|f| json!({"ref": f, "source": i.factor_sources.get(&f).cloned().unwrap_or_else(|| "—".into())}))
        .collect();
    let digest = inventory_digest(&figures);
    json!({
        "type": STATEMENT_TYPE,
        "version": STATEMENT_VERSION,
        "id": i.id,
        "title": "碳排放查核參考憑證",
        "firm": {"tax_id": i.tax_id, "name": i.company_name, "industry": i.industry, "county": i.county},
        "year": i.year,
        "period": {"start": format!("{}-01-01", i.year), "end": format!("{}-12-31", i.year)},
        "standard": "ISO 14064-1:2018；GHG Protocol 範疇；GWP 採 IPCC AR5",
        "unit": "kg CO2e（四捨五入至 0.01）",
        "figures": figures,
        "data_quality": {
            "pcaf_weighted_score": pcaf,
            "method": "PCAF 資料品質分數（1 最佳至 5）：以排放量加權。單據活動數據採官方係數為 2；自行登錄或暫用、未查證係數為 3；由支出或營收推估為 4–5；經第三方查證者方為 1（本憑證未記錄第三方查證）。",
            "third_party_verification": null,
        },
        "evidence": evidence,
        "documents": documents,
        "factors": factors,
        "inventory_sha256": digest,
        "prepared_by": i.preparer,
        "consent": {"by": "firm", "statement": "本憑證由受查公司成員於碳星雲平台簽發，公司同意揭露憑證所列數據與單據雜湊值予授信金融機構。"},
        "issued_at": i.issued_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "issuer": "EcoSphere Carbon 碳星雲",
        "verify_url": i.verify_url,
    })
}

/// SHA-256 (hex) of the canonical figures: equal exactly when the inventory says the same.
pub fn inventory_digest(figures: &Value) -> String {
    let c = jcs::canonicalize(figures).expect("figures are finite");
    hex(&Sha256::digest(c.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A statement with its signature: the statement's members plus `signature`, a detached
/// JWS over the canonical form of every other member.
pub fn signed(statement: &Value, key: &sign::StatementKey) -> Result<Value, String> {
    let payload = jcs::canonicalize(statement)?;
    let mut doc = statement.clone();
    doc["signature"] = Value::String(sign::sign_detached(key, payload.as_bytes()));
    Ok(doc)
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub id: String,
    pub kid: String,
    pub issued_at: DateTime<Utc>,
}

/// Checks a signed statement document against a JWKS: the signature over the canonical
/// form of every member but `signature`, and the figures against `inventory_sha256`.
pub fn verify(doc: &Value, jwks: &Value) -> Result<Verified, String> {
    let obj = doc.as_object().ok_or("不是憑證 JSON 物件")?;
    if obj.get("type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err("不是碳排放查核參考憑證（type 不符）".into());
    }
    let jws = obj.get("signature").and_then(Value::as_str).ok_or("憑證沒有簽章（signature）")?;
    let mut unsigned = obj.clone();
    unsigned.remove("signature");
    let unsigned = Value::Object(unsigned);
    let issued_at = obj
        .get("issued_at")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .ok_or("憑證的簽發時間（issued_at）不正確")?;
    let payload = jcs::canonicalize(&unsigned)?;
    let kid = sign::verify_detached(jwks, jws, payload.as_bytes(), issued_at).map_err(|e| e.to_string())?;
    let figures = obj.get("figures").ok_or("憑證沒有數據（figures）")?;
    if obj.get("inventory_sha256").and_then(Value::as_str) != Some(inventory_digest(figures).as_str()) {
        return Err("數據與其雜湊值（inventory_sha256）不符".into());
    }
    Ok(Verified { id: obj.get("id").and_then(Value::as_str).unwrap_or_default().to_string(), kid, issued_at })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{ActivityKind, Unit};

    /// A signed sample statement (key `k`, seed 7s) for the renderers' tests.
    pub(crate) fn sample_signed() -> (Value, Value) {
        let lines = vec![line("a1", 300.0, false), line("a2", 1234.5, true)];
        let mut docs = BTreeMap::new();
        for a in ["a1", "a2"] {
            docs.insert(format!("drop/24536806/b/{a}.pdf"), DocumentHash { sha256: hex(&Sha256::digest(a.as_bytes())), size: 1234, content_type: "application/pdf".into() });
        }
        let mut sources = BTreeMap::new();
        sources.insert("electricity.grid.tw@2024".to_string(), "經濟部能源署 2024年度電力排碳係數".to_string());
        let s = build(&Inputs {
            id: "cs-0193a0b0c0d0e0f0a0b0c0d0e0f0a0b0".into(),
            tax_id: "24536806".into(),
            company_name: "綠光示範企業股份有限公司".into(),
            industry: Some("251111 金屬製品製造業".into()),
            county: Some("65000 新北市".into()),
            year: 2025,
            issued_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            lines: &lines,
            activities: &[],
            documents: &docs,
            factor_sources: &sources,
            preparer: Preparer { role: "firm_admin".into(), name: "王小明".into(), certificate: None },
            verify_url: "https://carbon.example.tw/verify/cs-0193a0b0c0d0e0f0a0b0c0d0e0f0a0b0".into(),
        });
        let key = sign::StatementKey::new("k", [7; 32], None);
        (signed(&s, &key).unwrap(), sign::jwks(&[key]))
    }

    fn line(activity: &str, kg: f64, provisional: bool) -> EmissionRecord {
        EmissionRecord {
            tax_id: "24536806".into(),
            activity_id: activity.into(),
            kind: ActivityKind::Electricity,
            detail: None,
            document: format!("drop/24536806/b/{activity}.pdf"),
            month: "2025-01".into(),
            year: 2025,
            quantity: kg / 0.474,
            unit: Unit::Kwh,
            co2_kg: kg,
            ch4_kg: 0.0,
            n2o_kg: 0.0,
            other_kg_co2e: 0.0,
            kg_co2e: kg,
            excluded_kg_co2e: 0.0,
            scope: 2,
            category: 2,
            ghg_protocol: "2".into(),
            source_label: "外購電力".into(),
            factor_refs: vec!["electricity.grid.tw@2024".into()],
            provisional,
            unverified: false,
            notes: vec![],
            formula: String::new(),
            library: "x".into(),
            computed_at: "t".into(),
        }
    }

    #[test]
    fn pcaf_scores_follow_the_evidence_and_the_factor() {
        assert_eq!(pcaf_score(&line("a", 1.0, false), Some(ExtractionMethod::PdfText)).0, 2);
        assert_eq!(pcaf_score(&line("a", 1.0, false), Some(ExtractionMethod::Tesseract)).0, 2);
        assert_eq!(pcaf_score(&line("a", 1.0, true), Some(ExtractionMethod::PdfText)).0, 3);
        assert_eq!(pcaf_score(&line("a", 1.0, false), Some(ExtractionMethod::Csv)).0, 3);
        let mut ledger_row = line("a", 1.0, false);
        ledger_row.document = "drop/24536806/b/ledger.CSV".into();
        assert_eq!(pcaf_score(&ledger_row, Some(ExtractionMethod::Manual)).0, 3, "a corrected ledger row is still a ledger row");
        assert_eq!(pcaf_score(&ledger_row, Some(ExtractionMethod::EInvoice)).0, 2);
    }

    #[test]
    fn built_statement_sums_and_signs() {
        let lines = vec![line("a1", 300.0, false), line("a1", 100.0, false), line("a2", 100.0, true)];
        let docs = BTreeMap::new();
        let sources = BTreeMap::new();
        let s = build(&Inputs {
            id: "cs_1".into(),
            tax_id: "24536806".into(),
            company_name: "綠光".into(),
            industry: None,
            county: None,
            year: 2025,
            issued_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            lines: &lines,
            activities: &[],
            documents: &docs,
            factor_sources: &sources,
            preparer: Preparer { role: "firm_admin".into(), name: "王小明".into(), certificate: None },
            verify_url: "http://x/verify/cs_1".into(),
        });
        assert_eq!(s["figures"]["total_kg_co2e"], 500.0);
        assert_eq!(s["figures"]["lines"].as_array().unwrap().len(), 2, "one line per activity");
        // (400 × 2 + 100 × 3) / 500 = 2.2
        assert_eq!(s["data_quality"]["pcaf_weighted_score"], 2.2);
        let key = sign::StatementKey::new("k", [7; 32], None);
        let jwks = sign::jwks(&[key.clone()]);
        let doc = signed(&s, &key).unwrap();
        assert_eq!(verify(&doc, &jwks).unwrap().kid, "k");
        let mut tampered = doc.clone();
        tampered["figures"]["total_kg_co2e"] = json!(400.0);
        assert!(verify(&tampered, &jwks).unwrap_err().contains("簽章不符"));
        // Re-signed by someone else with the figures changed: the key is foreign.
        let forged = signed(&tampered, &sign::StatementKey::new("k", [8; 32], None)).unwrap();
        assert!(verify(&forged, &jwks).is_err());
    }
}
