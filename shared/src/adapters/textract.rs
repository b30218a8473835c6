//! Amazon Textract text extractor.
//!
//! Images (PNG/JPEG) go through `AnalyzeExpense` (receipts: summary fields and line items),
//! with an `AnalyzeDocument` QUERIES fallback when the expense analysis found no text at
//! all; PDFs go through the asynchronous text detection (`StartDocumentTextDetection` +
//! `GetDocumentTextDetection`), which reads every page. The documents are read from S3,
//! never sent as bytes. SDK types never leave this module: the pure `map_*` functions turn
//! responses into `ExtractedDocument`s, and SDK errors become `ExtractError`s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_textract::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_textract::operation::analyze_document::AnalyzeDocumentOutput;
use aws_sdk_textract::operation::analyze_expense::AnalyzeExpenseOutput;
use aws_sdk_textract::operation::get_document_text_detection::GetDocumentTextDetectionOutput;
use aws_sdk_textract::types::{
    Block, BlockType, Document, DocumentLocation, ExpenseField, FeatureType, JobStatus, QueriesConfig, Query, RelationshipType, S3Object,
};
use aws_sdk_textract::Client;
use sha2::{Digest, Sha256};

use crate::domain::{ExtractedDocument, ExtractedPage, ExtractionMethod, Field, FileType, TextLine};
use crate::ports::{BlobKey, DocumentInput, ExtractError, TextExtractor};

/// `JobTag` of every asynchronous job (Textract: 1–64 of `[a-zA-Z0-9_.\-:]`).
pub const JOB_TAG: &str = "ecosphere-bill";

/// The questions asked when the expense analysis read nothing: (alias, question).
/// Textract accepts printable ASCII only in `Query.Text` and `Alias` (1–200 characters)
/// and answers queries in English only, so the questions are in English; the aliases
/// become the field keys.
pub const BILL_QUERIES: [(&str, &str); 5] = [
    ("meter_id", "What is the electricity account number or water account number?"),
    ("period", "What is the billing period?"),
    ("kwh", "How many kWh were billed?"),
    ("water_m3", "How many cubic meters of water were billed?"),
    ("amount", "What is the total amount due?"),
];

const UNREADABLE_DOCUMENT: &str = "Textract 無法讀取此檔案（格式不支援或檔案損毀）";
const UNREADABLE_CODES: &[&str] = &[
    "UnsupportedDocumentException",
    "BadDocumentException",
    "DocumentTooLargeException",
    "InvalidS3ObjectException",
];
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Reads bills stored in S3 with Amazon Textract.
#[derive(Clone)]
pub struct TextractTextExtractor {
    client: Client,
    bucket: String,
    poll_interval: Duration,
    max_wait: Duration,
}

impl TextractTextExtractor {
    /// Polls an asynchronous job every 2 s for at most 5 minutes (see `with_polling`).
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into(), poll_interval: Duration::from_secs(2), max_wait: Duration::from_secs(300) }
    }

    pub fn from_conf(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), bucket)
    }

    /// How often to poll an asynchronous job and how long to wait for it before giving up
    /// with `Retryable` (a retry joins the same job through its `ClientRequestToken`).
    pub fn with_polling(mut self, poll_interval: Duration, max_wait: Duration) -> Self {
        self.poll_interval = poll_interval;
        self.max_wait = max_wait;
        self
    }

    fn s3_object(&self, key: &BlobKey) -> S3Object {
        S3Object::builder().bucket(&self.bucket).name(key.as_str()).build()
    }

    async fn extract_image(&self, key: &BlobKey) -> Result<ExtractedDocument, ExtractError> {
        let expense = self
            .client
            .analyze_expense()
            .document(Document::builder().s3_object(self.s3_object(key)).build())
            .send()
            .await
            .map_err(|e| map_sdk_error("AnalyzeExpense", e))?;
        if let Some(doc) = map_expense(&expense) {
            return Ok(doc);
        }
        tracing::info!(key = %key, "AnalyzeExpense read no text; asking AnalyzeDocument queries");
        let analyzed = self
            .client
            .analyze_document()
            .document(Document::builder().s3_object(self.s3_object(key)).build())
            .feature_types(FeatureType::Queries)
            .queries_config(bill_queries_config()?)
            .send()
            .await
            .map_err(|e| map_sdk_error("AnalyzeDocument", e))?;
        let doc = map_analyze_document(&analyzed);
        if doc.pages.iter().all(|p| p.lines.is_empty() && p.fields.is_empty()) {
            return Err(ExtractError::Unreadable(NO_TEXT.into()));
        }
        Ok(doc)
    }

    async fn extract_pdf(&self, key: &BlobKey, version: &str) -> Result<ExtractedDocument, ExtractError> {
        let started = self
            .client
            .start_document_text_detection()
            .document_location(DocumentLocation::builder().s3_object(self.s3_object(key)).build())
            .client_request_token(client_request_token(key, version))
            .job_tag(JOB_TAG)
            .send()
            .await
            .map_err(|e| map_sdk_error("StartDocumentTextDetection", e))?;
        let job_id = started
            .job_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ExtractError::Retryable("Textract 沒有回傳工作編號（StartDocumentTextDetection），稍後重試".into()))?
            .to_string();

        let deadline = tokio::time::Instant::now() + self.max_wait;
        let first = loop {
            let out = self.get_text_detection(&job_id, None).await?;
            match out.job_status() {
                Some(JobStatus::Succeeded) | Some(JobStatus::PartialSuccess) => break out,
                Some(JobStatus::Failed) => {
                    let reason = out.status_message().unwrap_or("未提供原因");
                    return Err(ExtractError::Unreadable(format!("{UNREADABLE_DOCUMENT}：{reason}")));
                }
                Some(JobStatus::InProgress) | None => {}
                Some(other) => {
                    return Err(ExtractError::Retryable(format!("Textract 工作狀態不明（{}），稍後重試", other.as_str())));
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(ExtractError::Retryable(format!(
                    "Textract 仍在處理此檔案（工作 {job_id}），稍後重試會接續同一工作"
                )));
            }
            tokio::time::sleep(self.poll_interval.min(deadline - now)).await;
        };

        let partial = first.job_status() == Some(&JobStatus::PartialSuccess);
        if partial {
            let failed: Vec<String> = first
                .warnings()
                .iter()
                .map(|w| format!("{}:{:?}", w.error_code().unwrap_or("unknown"), w.pages()))
                .collect();
            tracing::warn!(key = %key, job_id = %job_id, warnings = ?failed, "Textract read the PDF only in part");
        }
        let mut token = first.next_token().map(str::to_string);
        let mut results = vec![first];
        while let Some(next) = token.take() {
            let out = self.get_text_detection(&job_id, Some(next)).await?;
            token = out.next_token().map(str::to_string);
            results.push(out);
        }
        let doc = map_text_detection(&results, !partial);
        if doc.pages.iter().all(|p| p.lines.is_empty()) {
            return Err(ExtractError::Unreadable(NO_TEXT.into()));
        }
        Ok(doc)
    }

    async fn get_text_detection(&self, job_id: &str, next_token: Option<String>) -> Result<GetDocumentTextDetectionOutput, ExtractError> {
        self.client
            .get_document_text_detection()
            .job_id(job_id)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| map_sdk_error("GetDocumentTextDetection", e))
    }
}

const NO_TEXT: &str = "Textract 在此檔案中讀不到任何文字（影像可能太模糊或不是帳單）";

#[async_trait]
impl TextExtractor for TextractTextExtractor {
    fn name(&self) -> &'static str {
        "textract"
    }

    async fn extract(&self, doc: &DocumentInput<'_>) -> Result<ExtractedDocument, ExtractError> {
        match doc.file_type {
            FileType::Png | FileType::Jpeg => self.extract_image(doc.key).await,
            FileType::Pdf => self.extract_pdf(doc.key, doc.version).await,
            FileType::Csv => Err(ExtractError::Unreadable("CSV 檔不需文字辨識，請改用 CSV 匯入".into())),
        }
    }
}

/// The idempotency token of a text-detection job: the same key and version always give
/// the same token (so a retry joins the running job instead of paying for a new one).
/// 64 lower-case hex characters, within Textract's `^[a-zA-Z0-9-_]+$`, 1–64.
pub fn client_request_token(key: &BlobKey, version: &str) -> String {
    let mut h = Sha256::new();
    h.update(key.as_str().as_bytes());
    // Keys hold no control characters, so the separator makes the pair unambiguous.
    h.update(b"\n");
    h.update(version.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn bill_queries_config() -> Result<QueriesConfig, ExtractError> {
    let build_err = |e: aws_sdk_textract::error::BuildError| ExtractError::Retryable(format!("Textract 查詢設定錯誤：{e}"));
    let mut queries = Vec::with_capacity(BILL_QUERIES.len());
    for (alias, text) in BILL_QUERIES {
        queries.push(Query::builder().alias(alias).text(text).build().map_err(build_err)?);
    }
    QueriesConfig::builder().set_queries(Some(queries)).build().map_err(build_err)
}

/// Maps an SDK error: a document Textract refuses is `Unreadable` (zh-TW reason);
/// throttling, 5xx, timeouts and anything else are `Retryable`. The message names the
/// operation and the error code, never the document's content.
fn map_sdk_error<E, R>(op: &str, e: SdkError<E, R>) -> ExtractError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(str::to_string);
    if let Some(code) = code.as_deref().filter(|c| UNREADABLE_CODES.contains(c)) {
        tracing::warn!(op, code, "Textract refused the document");
        return ExtractError::Unreadable(format!("{UNREADABLE_DOCUMENT}（{code}）"));
    }
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => code.as_deref().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
    };
    let detail = match (code.as_deref(), e.message()) {
        (Some(code), Some(msg)) => format!("{code} {msg}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&e).to_string(),
    };
    if transient {
        ExtractError::Retryable(format!("Textract 暫時無法使用，稍後重試（{op}: {detail}）"))
    } else {
        tracing::warn!(op, detail = %detail, "unexpected Textract error");
        ExtractError::Retryable(format!("Textract 呼叫失敗，稍後重試（{op}: {detail}）"))
    }
}

/// Textract confidences are 0–100; ours are 0.0..=1.0. A missing one counts as 0.
fn confidence(c: Option<f32>) -> f32 {
    match c {
        Some(c) if c.is_finite() => (c / 100.0).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

fn is(block: &Block, kind: BlockType) -> bool {
    block.block_type() == Some(&kind)
}

/// The LINE blocks' text, in the response's (reading) order; empty lines skipped.
fn text_line(block: &Block) -> Option<TextLine> {
    let text = block.text()?.trim();
    (is(block, BlockType::Line) && !text.is_empty()).then(|| TextLine { text: text.to_string(), confidence: confidence(block.confidence()) })
}

fn expense_field(f: &ExpenseField, item: Option<u32>) -> Option<Field> {
    let ty = f.r#type()?;
    let key = ty.text()?.trim();
    let value_det = f.value_detection()?;
    let value = value_det.text()?.trim();
    if key.is_empty() || value.is_empty() {
        return None;
    }
    let confidence = match (ty.confidence(), value_det.confidence()) {
        (Some(t), Some(v)) => confidence(Some(t.min(v))),
        (t, v) => confidence(t.or(v)),
    };
    Some(Field { key: key.to_uppercase(), value: value.to_string(), confidence, item })
}

/// One image's AnalyzeExpense result as one page: the LINE blocks as lines, the summary
/// fields and the line-item fields (numbered 0, 1, … across every group) as fields.
/// `None` when the result holds no LINE block at all (the caller falls back to queries).
fn map_expense(out: &AnalyzeExpenseOutput) -> Option<ExtractedDocument> {
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    let mut fields = Vec::new();
    let mut item = 0u32;
    for doc in out.expense_documents() {
        for block in doc.blocks() {
            // Every expense document repeats the page's blocks it covers: count each once.
            if block.id().is_some_and(|id| !seen.insert(id.to_string())) {
                continue;
            }
            lines.extend(text_line(block));
        }
        fields.extend(doc.summary_fields().iter().filter_map(|f| expense_field(f, None)));
        for group in doc.line_item_groups() {
            for line_item in group.line_items() {
                fields.extend(line_item.line_item_expense_fields().iter().filter_map(|f| expense_field(f, Some(item))));
                item += 1;
            }
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(ExtractedDocument { method: ExtractionMethod::TextractExpense, pages: vec![ExtractedPage { page: 1, lines, fields }] })
}

fn page_entry(pages: &mut BTreeMap<u32, ExtractedPage>, page: u32) -> &mut ExtractedPage {
    pages.entry(page).or_insert_with(|| ExtractedPage { page, lines: Vec::new(), fields: Vec::new() })
}

fn page_of(block: &Block) -> u32 {
    block.page().and_then(|p| u32::try_from(p).ok()).filter(|p| *p >= 1).unwrap_or(1)
}

/// An AnalyzeDocument QUERIES result: LINE blocks as lines and, for each QUERY, its best
/// QUERY_RESULT answer (through the ANSWER relationship) as a field keyed by the alias.
fn map_analyze_document(out: &AnalyzeDocumentOutput) -> ExtractedDocument {
    let blocks = out.blocks();
    let by_id: HashMap<&str, &Block> = blocks.iter().filter_map(|b| b.id().map(|id| (id, b))).collect();
    let mut pages: BTreeMap<u32, ExtractedPage> = BTreeMap::new();
    for block in blocks {
        if is(block, BlockType::Page) {
            page_entry(&mut pages, page_of(block));
        } else if let Some(line) = text_line(block) {
            page_entry(&mut pages, page_of(block)).lines.push(line);
        } else if is(block, BlockType::Query) {
            let Some(query) = block.query() else { continue };
            let key = query.alias().filter(|a| !a.trim().is_empty()).unwrap_or(query.text()).trim().to_string();
            let best = block
                .relationships()
                .iter()
                .filter(|r| r.r#type() == Some(&RelationshipType::Answer))
                .flat_map(|r| r.ids())
                .filter_map(|id| by_id.get(id.as_str()).copied())
                .filter(|b| is(b, BlockType::QueryResult))
                .filter_map(|b| {
                    let text = b.text()?.trim();
                    (!text.is_empty()).then(|| (text.to_string(), confidence(b.confidence())))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((value, confidence)) = best {
                page_entry(&mut pages, page_of(block)).fields.push(Field { key, value, confidence, item: None });
            }
        }
    }
    if pages.is_empty() {
        pages.insert(1, ExtractedPage { page: 1, lines: Vec::new(), fields: Vec::new() });
    }
    ExtractedDocument { method: ExtractionMethod::TextractAnalyzeDocument, pages: pages.into_values().collect() }
}

/// Every result page of a text-detection job, in order: LINE blocks grouped by `Page`.
/// When `complete` (SUCCEEDED) every page 1..=DocumentMetadata.Pages is listed, empty or
/// not; otherwise (PARTIAL_SUCCESS) only the pages Textract returned.
fn map_text_detection(results: &[GetDocumentTextDetectionOutput], complete: bool) -> ExtractedDocument {
    let mut pages: BTreeMap<u32, Vec<TextLine>> = BTreeMap::new();
    let mut present = BTreeSet::new();
    let mut declared = 0u32;
    for out in results {
        if let Some(n) = out.document_metadata().and_then(|m| m.pages()).and_then(|n| u32::try_from(n).ok()) {
            declared = declared.max(n);
        }
        for block in out.blocks() {
            if is(block, BlockType::Page) {
                present.insert(page_of(block));
            } else if let Some(line) = text_line(block) {
                pages.entry(page_of(block)).or_default().push(line);
            }
        }
    }
    present.extend(pages.keys().copied());
    if complete {
        // A sane bound: Textract reads at most 3,000 pages.
        present.extend(1..=declared.min(3000));
    }
    let pages = present
        .into_iter()
        .map(|n| ExtractedPage { page: n, lines: pages.remove(&n).unwrap_or_default(), fields: Vec::new() })
        .collect();
    ExtractedDocument { method: ExtractionMethod::TextractText, pages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use aws_sdk_textract::config::http::{HttpRequest, HttpResponse};
    use aws_sdk_textract::config::retry::RetryConfig;
    use aws_sdk_textract::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_runtime_api::client::http::{http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use serde_json::Value;

    const GAS_RECEIPT: &str = include_str!("../../tests/fixtures/textract/analyze_expense_gas_receipt.json");
    const EXPENSE_NO_LINES: &str = include_str!("../../tests/fixtures/textract/analyze_expense_no_lines.json");
    const TAIPOWER_QUERIES: &str = include_str!("../../tests/fixtures/textract/analyze_document_queries_taipower.json");
    const START: &str = include_str!("../../tests/fixtures/textract/start_text_detection.json");
    const IN_PROGRESS: &str = include_str!("../../tests/fixtures/textract/get_text_detection_in_progress.json");
    const TEXT_PAGE1: &str = include_str!("../../tests/fixtures/textract/get_text_detection_page1.json");
    const TEXT_PAGE2: &str = include_str!("../../tests/fixtures/textract/get_text_detection_page2.json");
    const TEXT_FAILED: &str = include_str!("../../tests/fixtures/textract/get_text_detection_failed.json");
    const TEXT_PARTIAL: &str = include_str!("../../tests/fixtures/textract/get_text_detection_partial.json");

    /// A recorded HTTP exchange: what Textract answered (status, JSON body).
    #[derive(Clone)]
    struct Reply {
        status: u16,
        body: String,
    }

    fn ok(body: &str) -> Reply {
        Reply { status: 200, body: body.to_string() }
    }

    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply { status, body: serde_json::json!({ "__type": code, "Message": message }).to_string() }
    }

    /// What the client sent: the `X-Amz-Target` operation and the JSON body.
    #[derive(Debug, Clone)]
    struct Sent {
        target: String,
        body: Value,
    }

    /// Replays recorded responses in order and records the requests (like the SDK's
    /// `StaticReplayClient`, without its extra dependencies).
    #[derive(Debug, Clone, Default)]
    struct Replay {
        replies: Arc<Mutex<std::collections::VecDeque<(u16, String)>>>,
        sent: Arc<Mutex<Vec<Sent>>>,
    }

    impl HttpConnector for Replay {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let target = request.headers().get("x-amz-target").unwrap_or_default().to_string();
            let body = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
            self.sent.lock().expect("lock").push(Sent { target, body });
            let next = self.replies.lock().expect("lock").pop_front();
            HttpConnectorFuture::ready(match next {
                Some((status, body)) => {
                    let mut resp = HttpResponse::new(StatusCode::try_from(status).expect("status"), SdkBody::from(body));
                    resp.headers_mut().insert("content-type", "application/x-amz-json-1.1");
                    resp.headers_mut().insert("x-amzn-requestid", "6f1c4c2e-0d7b-4f4e-9a55-1f1e2d3c4b5a");
                    Ok(resp)
                }
                None => Err(ConnectorError::other("no more recorded responses".into(), None)),
            })
        }
    }

    fn extractor(replies: &[Reply]) -> (TextractTextExtractor, Replay) {
        let replay = Replay::default();
        replay.replies.lock().expect("lock").extend(replies.iter().map(|r| (r.status, r.body.clone())));
        let connector = SharedHttpConnector::new(replay.clone());
        let conf = aws_sdk_textract::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .build();
        let x = TextractTextExtractor::new(Client::from_conf(conf), "ecosphere-drop").with_polling(Duration::ZERO, Duration::from_secs(5));
        (x, replay)
    }

    fn key(s: &str) -> BlobKey {
        BlobKey::parse(s).expect("key")
    }

    async fn run(x: &TextractTextExtractor, k: &BlobKey, version: &str, file_type: FileType) -> Result<ExtractedDocument, ExtractError> {
        x.extract(&DocumentInput { key: k, version, bytes: b"", file_type }).await
    }

    fn field<'a>(page: &'a ExtractedPage, key: &str, item: Option<u32>) -> &'a Field {
        page.fields.iter().find(|f| f.key == key && f.item == item).unwrap_or_else(|| panic!("no field {key} {item:?}: {:?}", page.fields))
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-4
    }

    #[tokio::test]
    async fn gas_receipt_is_read_with_analyze_expense() {
        let (x, replay) = extractor(&[ok(GAS_RECEIPT)]);
        let k = key("drop/22099131/b1/加油發票.jpg");
        let doc = run(&x, &k, "v1", FileType::Jpeg).await.expect("extract");
        assert_eq!(doc.method, ExtractionMethod::TextractExpense);
        assert_eq!(doc.pages.len(), 1);
        let page = &doc.pages[0];
        assert_eq!(page.page, 1);

        // LINE blocks only (no WORD doubles), in order, confidence / 100.
        assert_eq!(page.lines.len(), 9, "{:?}", page.lines);
        assert_eq!(page.lines[0].text, "台灣中油股份有限公司");
        assert!(close(page.lines[0].confidence, 0.9781));
        assert_eq!(page.lines[7].text, "95無鉛汽油 30.50L x 31.2 952");
        assert_eq!(page.lines[8].text, "總計 952");

        let total = field(page, "TOTAL", None);
        assert_eq!(total.value, "952");
        assert!(close(total.confidence, 0.9866), "min(type 99.27, value 98.66)");
        let id = field(page, "INVOICE_RECEIPT_ID", None);
        assert_eq!(id.value, "AB-12345678");
        assert!(close(id.confidence, 0.935), "min(type 93.5, value 98.42)");
        assert_eq!(field(page, "INVOICE_RECEIPT_DATE", None).value, "2026-03-15");
        assert_eq!(field(page, "VENDOR_NAME", None).value, "台灣中油股份有限公司");

        assert_eq!(field(page, "ITEM", Some(0)).value, "95無鉛汽油");
        assert_eq!(field(page, "QUANTITY", Some(0)).value, "30.50");
        let unit_price = field(page, "UNIT_PRICE", Some(0));
        assert_eq!(unit_price.value, "31.2");
        assert!(close(unit_price.confidence, 0.9012));
        assert_eq!(field(page, "PRICE", Some(0)).value, "952");
        assert!(page.fields.iter().all(|f| f.item.is_none() || f.item == Some(0)));

        // One call, on the S3 object.
        let sent = replay.sent.lock().expect("lock").clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].target, "Textract.AnalyzeExpense");
        assert_eq!(sent[0].body["Document"]["S3Object"]["Bucket"], "ecosphere-drop");
        assert_eq!(sent[0].body["Document"]["S3Object"]["Name"], "drop/22099131/b1/加油發票.jpg");
        assert!(sent[0].body["Document"].get("Bytes").is_none());
    }

    #[tokio::test]
    async fn bill_photo_without_expense_text_falls_back_to_queries() {
        let (x, replay) = extractor(&[ok(EXPENSE_NO_LINES), ok(TAIPOWER_QUERIES)]);
        let k = key("drop/22099131/b2/電費單.png");
        let doc = run(&x, &k, "v1", FileType::Png).await.expect("extract");
        assert_eq!(doc.method, ExtractionMethod::TextractAnalyzeDocument);
        assert_eq!(doc.pages.len(), 1);
        let page = &doc.pages[0];
        assert_eq!(page.lines.len(), 6);
        assert_eq!(page.lines[1].text, "電號 07-12-3456-78-9");
        let meter = field(page, "meter_id", None);
        assert_eq!(meter.value, "07-12-3456-78-9");
        assert!(close(meter.confidence, 0.96));
        assert_eq!(field(page, "period", None).value, "115/01/08 至 115/03/09");
        assert_eq!(field(page, "kwh", None).value, "1,234");
        assert_eq!(field(page, "amount", None).value, "4,321");
        assert!(page.fields.iter().all(|f| f.key != "water_m3"), "an unanswered query gives no field");
        assert_eq!(page.fields.len(), 4);

        let sent = replay.sent.lock().expect("lock").clone();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].target, "Textract.AnalyzeExpense");
        assert_eq!(sent[1].target, "Textract.AnalyzeDocument");
        assert_eq!(sent[1].body["Document"]["S3Object"]["Name"], "drop/22099131/b2/電費單.png");
        assert_eq!(sent[1].body["FeatureTypes"], serde_json::json!(["QUERIES"]));
        let queries = sent[1].body["QueriesConfig"]["Queries"].as_array().expect("queries").clone();
        let aliases: Vec<&str> = queries.iter().filter_map(|q| q["Alias"].as_str()).collect();
        assert_eq!(aliases, ["meter_id", "period", "kwh", "water_m3", "amount"]);
    }

    #[tokio::test]
    async fn nothing_read_at_all_is_unreadable() {
        let empty = r#"{"DocumentMetadata":{"Pages":1},"Blocks":[{"BlockType":"PAGE","Id":"p1","Page":1}]}"#;
        let (x, _) = extractor(&[ok(EXPENSE_NO_LINES), ok(empty)]);
        let err = run(&x, &key("drop/1/blank.png"), "v1", FileType::Png).await.expect_err("blank");
        assert!(matches!(err, ExtractError::Unreadable(ref m) if m.contains("讀不到")), "{err:?}");
    }

    #[tokio::test]
    async fn two_page_pdf_is_polled_and_paginated_in_order() {
        let (x, replay) = extractor(&[ok(START), ok(IN_PROGRESS), ok(TEXT_PAGE1), ok(TEXT_PAGE2)]);
        let k = key("drop/22099131/b3/水費單.pdf");
        let doc = run(&x, &k, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", FileType::Pdf).await.expect("extract");
        assert_eq!(doc.method, ExtractionMethod::TextractText);
        assert_eq!(doc.pages.iter().map(|p| p.page).collect::<Vec<_>>(), [1, 2]);
        let texts = |n: usize| doc.pages[n].lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>();
        assert_eq!(texts(0), ["台灣自來水股份有限公司", "水號 5-12-345678-9", "用水度數 23 度"]);
        // Page 2 began in the first result page and ended in the second.
        assert_eq!(texts(1), ["第二頁 繳費明細", "應繳總金額 512 元", "代收期限 115/04/20"]);
        assert!(close(doc.pages[1].lines[1].confidence, 0.966));

        let sent = replay.sent.lock().expect("lock").clone();
        let targets: Vec<&str> = sent.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "Textract.StartDocumentTextDetection",
                "Textract.GetDocumentTextDetection",
                "Textract.GetDocumentTextDetection",
                "Textract.GetDocumentTextDetection"
            ]
        );
        let start = &sent[0].body;
        assert_eq!(start["DocumentLocation"]["S3Object"]["Bucket"], "ecosphere-drop");
        assert_eq!(start["DocumentLocation"]["S3Object"]["Name"], "drop/22099131/b3/水費單.pdf");
        assert_eq!(start["ClientRequestToken"], client_request_token(&k, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"));
        assert_eq!(start["JobTag"], JOB_TAG);
        let job_id = serde_json::from_str::<Value>(START).expect("json")["JobId"].clone();
        assert!(sent[1..].iter().all(|s| s.body["JobId"] == job_id));
        assert!(sent[1].body.get("NextToken").is_none() && sent[2].body.get("NextToken").is_none());
        assert_eq!(sent[3].body["NextToken"], serde_json::from_str::<Value>(TEXT_PAGE1).expect("json")["NextToken"]);
    }

    #[tokio::test]
    async fn a_job_past_max_wait_is_retryable() {
        let (x, replay) = extractor(&[ok(START), ok(IN_PROGRESS)]);
        let x = x.with_polling(Duration::from_millis(1), Duration::ZERO);
        let err = run(&x, &key("drop/1/slow.pdf"), "v1", FileType::Pdf).await.expect_err("still running");
        assert!(matches!(err, ExtractError::Retryable(ref m) if m.contains("仍在處理")), "{err:?}");
        assert_eq!(replay.sent.lock().expect("lock").len(), 2);
    }

    #[tokio::test]
    async fn a_failed_job_is_unreadable_with_its_status_message() {
        let (x, _) = extractor(&[ok(START), ok(IN_PROGRESS), ok(TEXT_FAILED)]);
        let err = run(&x, &key("drop/1/broken.pdf"), "v1", FileType::Pdf).await.expect_err("failed");
        match err {
            ExtractError::Unreadable(m) => {
                assert!(m.starts_with(UNREADABLE_DOCUMENT), "{m}");
                assert!(m.contains("unsupported document format"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_partial_success_keeps_the_pages_it_got() {
        let (x, _) = extractor(&[ok(START), ok(TEXT_PARTIAL)]);
        let doc = run(&x, &key("drop/1/half.pdf"), "v1", FileType::Pdf).await.expect("partial");
        assert_eq!(doc.pages.len(), 1, "page 2 failed and is not invented");
        assert_eq!(doc.pages[0].page, 1);
        assert_eq!(doc.pages[0].lines.len(), 3);
    }

    #[tokio::test]
    async fn throttling_is_retryable() {
        let (x, _) = extractor(&[error(400, "ThrottlingException", "Rate exceeded")]);
        let err = run(&x, &key("drop/1/a.jpg"), "v1", FileType::Jpeg).await.expect_err("throttled");
        assert!(matches!(err, ExtractError::Retryable(ref m) if m.contains("ThrottlingException") && m.contains("AnalyzeExpense")), "{err:?}");

        let (x, _) = extractor(&[error(400, "ProvisionedThroughputExceededException", "slow down")]);
        let err = run(&x, &key("drop/1/a.pdf"), "v1", FileType::Pdf).await.expect_err("throttled");
        assert!(matches!(err, ExtractError::Retryable(ref m) if m.contains("StartDocumentTextDetection")), "{err:?}");

        let (x, _) = extractor(&[error(500, "InternalServerError", "oops")]);
        assert!(matches!(run(&x, &key("drop/1/a.png"), "v1", FileType::Png).await, Err(ExtractError::Retryable(_))));
    }

    #[tokio::test]
    async fn a_bad_document_is_unreadable() {
        for code in UNREADABLE_CODES {
            let (x, _) = extractor(&[error(400, code, "Request has invalid image format")]);
            let err = run(&x, &key("drop/1/bad.jpg"), "v1", FileType::Jpeg).await.expect_err("bad");
            match err {
                ExtractError::Unreadable(m) => assert!(m.starts_with(UNREADABLE_DOCUMENT) && m.contains(code), "{m}"),
                other => panic!("{code}: {other:?}"),
            }
        }
        // Refused at the start of a PDF job too.
        let (x, _) = extractor(&[error(400, "BadDocumentException", "Unable to read")]);
        assert!(matches!(run(&x, &key("drop/1/bad.pdf"), "v1", FileType::Pdf).await, Err(ExtractError::Unreadable(_))));
    }

    #[tokio::test]
    async fn other_errors_and_network_failures_are_retryable() {
        let (x, _) = extractor(&[error(400, "AccessDeniedException", "not authorized")]);
        let err = run(&x, &key("drop/1/a.jpg"), "v1", FileType::Jpeg).await.expect_err("denied");
        assert!(matches!(err, ExtractError::Retryable(ref m) if m.contains("AccessDeniedException")), "{err:?}");
        // No response at all (the connector fails).
        let (x, _) = extractor(&[]);
        assert!(matches!(run(&x, &key("drop/1/a.jpg"), "v1", FileType::Jpeg).await, Err(ExtractError::Retryable(_))));
    }

    #[tokio::test]
    async fn csv_is_not_for_textract() {
        let (x, replay) = extractor(&[]);
        let err = run(&x, &key("drop/1/a.csv"), "v1", FileType::Csv).await.expect_err("csv");
        assert!(matches!(err, ExtractError::Unreadable(_)));
        assert!(replay.sent.lock().expect("lock").is_empty(), "no call made");
        assert_eq!(x.name(), "textract");
    }

    #[test]
    fn request_tokens_are_deterministic_and_valid() {
        let k = key("drop/22099131/b3/電費單.pdf");
        let a = client_request_token(&k, "v1");
        assert_eq!(a, client_request_token(&k, "v1"));
        assert_ne!(a, client_request_token(&k, "v2"));
        assert_ne!(a, client_request_token(&key("drop/22099131/b3/水費單.pdf"), "v1"));
        // The separator keeps (key, version) pairs apart.
        assert_ne!(client_request_token(&key("a/b"), "c"), client_request_token(&key("a/bc"), ""));
        for t in [&a, &client_request_token(&key(&"x".repeat(1024)), &"+/=".repeat(400))] {
            assert!((1..=64).contains(&t.len()), "{t}");
            assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{t}");
        }
        assert!(JOB_TAG.len() <= 64 && JOB_TAG.chars().all(|c| c.is_ascii_alphanumeric() || "_.-:".contains(c)));
    }

    #[test]
    fn queries_fit_textract_limits() {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c.is_ascii_whitespace() || "!\"#$%'&()*+,-./:;=?@[\\]^_`{|}~><".contains(c);
        for (alias, text) in BILL_QUERIES {
            for s in [alias, text] {
                assert!((1..=200).contains(&s.len()) && s.chars().all(allowed), "{s:?}");
            }
        }
        let conf = bill_queries_config().expect("config");
        assert_eq!(conf.queries().len(), BILL_QUERIES.len());
    }

    // The pure mappings on SDK values built directly (edge cases the fixtures lack).

    fn line(id: &str, text: &str, conf: f32, page: i32) -> Block {
        Block::builder().block_type(BlockType::Line).id(id).text(text).confidence(conf).page(page).build()
    }

    fn efield(ty: &str, tconf: Option<f32>, value: Option<&str>, vconf: Option<f32>) -> ExpenseField {
        use aws_sdk_textract::types::{ExpenseDetection, ExpenseType};
        let mut ty = ExpenseType::builder().text(ty);
        if let Some(c) = tconf {
            ty = ty.confidence(c);
        }
        let mut v = ExpenseDetection::builder().set_text(value.map(str::to_string));
        if let Some(c) = vconf {
            v = v.confidence(c);
        }
        ExpenseField::builder().r#type(ty.build()).value_detection(v.build()).build()
    }

    #[test]
    fn expense_items_are_numbered_across_groups_and_blocks_counted_once() {
        use aws_sdk_textract::types::{ExpenseDocument, LineItemFields, LineItemGroup};
        let group = |items: Vec<Vec<ExpenseField>>| {
            LineItemGroup::builder()
                .set_line_items(Some(items.into_iter().map(|f| LineItemFields::builder().set_line_item_expense_fields(Some(f)).build()).collect()))
                .build()
        };
        let shared_line = line("l1", "超級柴油 40.00L", 150.0, 1);
        let out = AnalyzeExpenseOutput::builder()
            .expense_documents(
                ExpenseDocument::builder()
                    .blocks(shared_line.clone())
                    .summary_fields(efield("total", Some(90.0), Some(" 1,200 "), None))
                    .summary_fields(efield("TAX", Some(90.0), Some("  "), Some(90.0)))
                    .line_item_groups(group(vec![vec![efield("ITEM", Some(99.0), Some("超級柴油"), Some(80.0))], vec![efield("ITEM", Some(99.0), Some("洗車"), Some(99.0))]]))
                    .line_item_groups(group(vec![vec![efield("PRICE", None, Some("50"), None)]]))
                    .build(),
            )
            .expense_documents(ExpenseDocument::builder().blocks(shared_line).blocks(line("l2", "謝謝光臨", -5.0, 1)).build())
            .build();
        let doc = map_expense(&out).expect("lines");
        let page = &doc.pages[0];
        assert_eq!(page.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["超級柴油 40.00L", "謝謝光臨"]);
        assert_eq!(page.lines[0].confidence, 1.0, "clamped");
        assert_eq!(page.lines[1].confidence, 0.0, "clamped");
        let total = field(page, "TOTAL", None);
        assert_eq!(total.value, "1,200");
        assert!(close(total.confidence, 0.9), "the one confidence given");
        assert!(page.fields.iter().all(|f| f.key != "TAX"), "blank values dropped");
        assert!(close(field(page, "ITEM", Some(0)).confidence, 0.8));
        assert_eq!(field(page, "ITEM", Some(1)).value, "洗車");
        let price = field(page, "PRICE", Some(2));
        assert_eq!((price.value.as_str(), price.confidence), ("50", 0.0));

        assert!(map_expense(&AnalyzeExpenseOutput::builder().build()).is_none());
    }

    #[test]
    fn query_answers_take_the_best_result_and_the_query_page() {
        use aws_sdk_textract::types::Relationship;
        let q = Block::builder()
            .block_type(BlockType::Query)
            .id("q")
            .page(2)
            .query(Query::builder().text("What is the total amount due?").alias("amount").build().expect("query"))
            .relationships(Relationship::builder().r#type(RelationshipType::Answer).ids("r1").ids("r2").ids("missing").build())
            .build();
        let r = |id: &str, text: &str, conf: f32| Block::builder().block_type(BlockType::QueryResult).id(id).text(text).confidence(conf).page(2).build();
        let out = AnalyzeDocumentOutput::builder()
            .blocks(line("l", "第一頁", 99.0, 1))
            .blocks(q)
            .blocks(r("r1", "4,321", 70.0))
            .blocks(r("r2", "4,322", 85.0))
            .build();
        let doc = map_analyze_document(&out);
        assert_eq!(doc.pages.iter().map(|p| p.page).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(doc.pages[1].fields, vec![Field { key: "amount".into(), value: "4,322".into(), confidence: 0.85, item: None }]);
    }

    #[test]
    fn text_detection_lists_every_declared_page() {
        use aws_sdk_textract::types::DocumentMetadata;
        let out = GetDocumentTextDetectionOutput::builder()
            .job_status(JobStatus::Succeeded)
            .document_metadata(DocumentMetadata::builder().pages(3).build())
            .blocks(line("a", "第三頁", 90.0, 3))
            .blocks(line("b", "第一頁", 90.0, 1))
            .build();
        let doc = map_text_detection(std::slice::from_ref(&out), true);
        assert_eq!(doc.pages.iter().map(|p| (p.page, p.lines.len())).collect::<Vec<_>>(), [(1, 1), (2, 0), (3, 1)]);
        let doc = map_text_detection(&[out], false);
        assert_eq!(doc.pages.iter().map(|p| p.page).collect::<Vec<_>>(), [1, 3]);
    }
}
