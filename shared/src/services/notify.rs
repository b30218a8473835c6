//! Notification e-mails on application state changes: exactly one e-mail per state
//! change, however often the stream delivers the record.

use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc, Weekday};

use crate::domain::{Application, ApplicationStatus, EmailAddress, ReviewAction};
use crate::error::{AppError, AppResult};
use crate::ports::{ApplicationStore, Claim, Clock, Email, Mailer, MemberStore, NotificationLog};
use crate::services::review::ReviewService;
use maud::{html, Markup};

use crate::mail::{button, html_document};

/// A claim older than this is taken over (its sender died between claim and send).
const CLAIM_LEASE_MINUTES: i64 = 5;
/// The sweeper looks at applications submitted or decided this many days back (the
/// stream keeps records a day; the local change feed's dead letters are redriven too).
pub const SWEEP_DAYS: i64 = 3;
/// User-supplied values are cut to this many characters in e-mails.
const MAX_VALUE_CHARS: usize = 200;

/// Admins are reminded this many days before the trial ends.
pub const TRIAL_REMINDER_DAYS: i64 = 14;

/// Applications pending longer than this many working days are reminded.
pub const REVIEW_SLA_WORKING_DAYS: i64 = 3;

fn taipei_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset")).date_naive()
}

/// Working days (Monday–Friday, Taipei time) after the day of `from` up to and
/// including the day of `to`. National holidays are not yet taken into account.
pub fn working_days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let (mut day, end) = (taipei_date(from), taipei_date(to));
    let mut n = 0;
    while day < end {
        day = day.succ_opt().expect("date in range");
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            n += 1;
        }
    }
    n
}

#[derive(Clone)]
pub struct NotifyService {
    mailer: Arc<dyn Mailer>,
    log: Arc<dyn NotificationLog>,
    review: ReviewService,
    clock: Arc<dyn Clock>,
    reviewers: Vec<EmailAddress>,
    public_url: String,
    link_ttl: chrono::Duration,
}

/// What a state change asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A new application: every reviewer gets approve/reject links.
    ReviewRequest,
    /// A decision: the applicant is told.
    Decision(ApplicationStatus),
}

/// Which notice (if any) the change from `old` to `new` calls for. Redelivered
/// records give the same answer and the same dedupe key; later unrelated updates and
/// removals (TTL) call for nothing.
pub fn notice_for(old: Option<&Application>, new: Option<&Application>) -> Option<Notice> {
    match (old, new) {
        (None, Some(n)) if n.status == ApplicationStatus::Pending => Some(Notice::ReviewRequest),
        (Some(o), Some(n)) if o.status == ApplicationStatus::Pending && n.status != ApplicationStatus::Pending => {
            Some(Notice::Decision(n.status))
        }
        _ => None,
    }
}

/// Cuts and cleans a user-supplied value for an e-mail: control and bidi characters
/// dropped, at most `MAX_VALUE_CHARS` characters.
pub fn cap(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}'))
        .collect();
    if clean.chars().count() > MAX_VALUE_CHARS {
        format!("{}…", clean.chars().take(MAX_VALUE_CHARS).collect::<String>())
    } else {
        clean
    }
}

const FOOTER_TEXT: &str = "EcoSphere團隊 敬上\n\n本信件由系統自動寄出，請勿回覆本信件。\n如果您沒有申請，可以忽略本信件。\n";

fn footer() -> Markup {
    html! {
        p { "EcoSphere團隊 敬上" }
        p style="color:#666;font-size:12px" { "本信件由系統自動寄出，請勿回覆本信件。" br; "如果您沒有申請，可以忽略本信件。" }
    }
}

const APPROVE_COLOR: &str = "#1f7a4d";
const REJECT_COLOR: &str = "#b3261e";

impl NotifyService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mailer: Arc<dyn Mailer>,
        log: Arc<dyn NotificationLog>,
        review: ReviewService,
        clock: Arc<dyn Clock>,
        reviewers: Vec<EmailAddress>,
        public_url: String,
        link_ttl: chrono::Duration,
    ) -> Self {
        Self { mailer, log, review, clock, reviewers, public_url, link_ttl }
    }

    /// The review-SLA reminder: one e-mail a day per reviewer listing the applications
    /// pending more than `REVIEW_SLA_WORKING_DAYS` working days, with fresh links.
    /// Running it again the same day sends nothing. Returns the e-mails sent.
    pub async fn remind_overdue(&self, store: &dyn ApplicationStore) -> AppResult<usize> {
        let now = self.clock.now();
        let overdue: Vec<Application> = store
            .list_pending()
            .await?
            .into_iter()
            .filter(|a| working_days_between(a.submitted_at, now) > REVIEW_SLA_WORKING_DAYS)
            .collect();
        if overdue.is_empty() {
            return Ok(0);
        }
        let mut sent = 0;
        let mut first_error = None;
        for reviewer in &self.reviewers {
            let key = format!("sla-reminder:{}:{}", taipei_date(now), reviewer);
            let email = self.reminder(&overdue, reviewer, now);
            match self.send_once(&key, email).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        tracing::info!(overdue = overdue.len(), sent, "review SLA reminders");
        first_error.map_or(Ok(sent), Err)
    }

    fn reminder(&self, overdue: &[Application], reviewer: &EmailAddress, now: DateTime<Utc>) -> Email {
        let mut text = String::new();
        let mut rows = Vec::new();
        for a in overdue {
            let days = working_days_between(a.submitted_at, now);
            let approve = self.link(&format!("/review/{}", self.review.token(a, ReviewAction::Approve, reviewer, self.link_ttl)));
            let reject = self.link(&format!("/review/{}", self.review.token(a, ReviewAction::Reject, reviewer, self.link_ttl)));
            let company = cap(&a.form.company_name);
            text.push_str(&format!("- {company}（{}），已等待 {days} 個工作天
  核准：{approve}
  退件：{reject}
", a.form.tax_id));
            rows.push(html! {
                tr {
                    td { (company) }
                    td { (a.form.tax_id.as_str()) }
                    td { (days) }
                    td { (button(&approve, "核准", APPROVE_COLOR)) (button(&reject, "退件", REJECT_COLOR)) }
                }
            });
        }
        Email {
            to: vec![reviewer.clone()],
            subject: format!("【EcoSphere】提醒：{} 筆碳星雲服務申請已超過 {REVIEW_SLA_WORKING_DAYS} 個工作天未審核", overdue.len()),
            text: format!("您好：

以下申請已超過 {REVIEW_SLA_WORKING_DAYS} 個工作天尚未審核（承諾審核時間為 3-5 個工作天）：

{text}
{FOOTER_TEXT}"),
            html: html_document(html! {
                p { "您好：" }
                p { "以下申請已超過 " (REVIEW_SLA_WORKING_DAYS) " 個工作天尚未審核（承諾審核時間為 3-5 個工作天）：" }
                table {
                    tr { th { "公司名稱" } th { "統編" } th { "工作天" } th {} }
                    @for row in &rows { (row) }
                }
                (footer())
            }),
        }
    }

    /// The same service sending through another mailer (tests inject failures this way).
    pub fn with_mailer(&self, mailer: Arc<dyn Mailer>) -> Self {
        Self { mailer, ..self.clone() }
    }

    /// Tells the admins of every approved company whose 6-month trial ends within
    /// `TRIAL_REMINDER_DAYS` days: once per company. Returns the e-mails sent.
    pub async fn remind_trial_ending(&self, store: &dyn ApplicationStore, members: &dyn MemberStore) -> AppResult<usize> {
        let now = self.clock.now();
        let mut sent = 0;
        let mut first_error = None;
        for app in store.list_approved().await? {
            let approved_at = app.decision.as_ref().map(|d| d.decided_at).unwrap_or(app.submitted_at);
            let ends = crate::services::sso::SsoService::trial_end(approved_at);
            if now >= ends || ends - now > chrono::Duration::days(TRIAL_REMINDER_DAYS) {
                continue;
            }
            let admins: Vec<EmailAddress> =
                members.list(&app.form.tax_id).await?.into_iter().filter(|m| m.profile.is_admin).map(|m| m.profile.email).collect();
            if admins.is_empty() {
                continue;
            }
            let date = ends.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("offset")).format("%Y/%m/%d").to_string();
            let company = cap(&app.form.company_name);
            let email = Email {
                to: admins,
                subject: format!("【EcoSphere】碳星雲服務試用期將於 {date} 結束"),
                text: format!(
                    "您好：\n\n{company} 的碳星雲服務 6 個月試用期將於 {date} 結束，屆時將無法登入碳星雲服務平台。\n\
                     請於試用期結束前匯出所需的盤查資料與報告；如需繼續使用，歡迎聯絡我們。\n\n{FOOTER_TEXT}"
                ),
                html: html_document(html! {
                    p { "您好：" }
                    p { (company) " 的碳星雲服務 6 個月試用期將於 " strong { (date) } " 結束，屆時將無法登入碳星雲服務平台。" }
                    p { "請於試用期結束前匯出所需的盤查資料與報告；如需繼續使用，歡迎聯絡我們。" }
                    (footer())
                }),
            };
            match self.send_once(&format!("trial-ending:{}", app.id), email).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(sent), Err)
    }

    /// Handles one state change. `Err` means "retry this record later".
    pub async fn on_change(&self, old: Option<&Application>, new: Option<&Application>) -> AppResult<()> {
        let (Some(notice), Some(app)) = (notice_for(old, new), new) else { return Ok(()) };
        self.send_notice(notice, app).await.map(|_| ())
    }

    /// Sends what `notice` calls for about `app`, each e-mail once. `Ok(n)`: e-mails this
    /// call sent (0 when all went out before).
    async fn send_notice(&self, notice: Notice, app: &Application) -> AppResult<usize> {
        match notice {
            Notice::ReviewRequest => {
                let mut first_error = None;
                let mut sent = 0;
                for reviewer in &self.reviewers {
                    let key = format!("review-request:{}:v{}:{}", app.id, app.version, reviewer);
                    match self.send_once(&key, self.review_request(app, reviewer)).await {
                        Ok(true) => sent += 1,
                        Ok(false) => {}
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                first_error.map_or(Ok(sent), Err)
            }
            Notice::Decision(_) => {
                let key = format!("decision:{}:v{}", app.id, app.version);
                self.send_once(&key, self.decision_email(app)).await.map(usize::from)
            }
        }
    }

    /// The sweeper's half for e-mails: the notices that the applications of the last
    /// `SWEEP_DAYS` days call for (review requests of pending ones, the decision of
    /// decided ones) are sent if they have not gone out — a change-feed record or a
    /// stream batch that was given up on, a sender that died holding a claim (taken
    /// over once its lease ends). Every e-mail has its claim, so nothing goes twice.
    pub async fn reconcile(&self, store: &dyn ApplicationStore) -> AppResult<crate::services::Sweep> {
        let since = self.clock.now() - chrono::Duration::days(SWEEP_DAYS);
        let mut notices: Vec<(Notice, Application)> = Vec::new();
        for a in store.list_pending().await? {
            if a.submitted_at >= since {
                notices.push((Notice::ReviewRequest, a));
            }
        }
        let mut decided = store.list_approved().await?;
        decided.extend(store.list_rejected_since(since).await?);
        for a in decided {
            if a.decision.as_ref().is_some_and(|d| d.decided_at >= since) {
                notices.push((Notice::Decision(a.status), a));
            }
        }
        let mut sweep = crate::services::Sweep::default();
        for (notice, app) in notices {
            match self.send_notice(notice, &app).await {
                Ok(0) => {}
                Ok(n) => {
                    sweep.found += n;
                    sweep.finished += n;
                }
                Err(e) => {
                    tracing::warn!(application = %app.id, error = %e, "notification still not sent; the next sweep tries again");
                    sweep.found += 1;
                    sweep.failed += 1;
                }
            }
        }
        if sweep.found > 0 {
            tracing::info!(sent = sweep.finished, failed = sweep.failed, "swept notifications that had not gone out");
        }
        Ok(sweep)
    }

    /// Sends unless sent before; `Ok(true)` when this call sent it.
    async fn send_once(&self, key: &str, email: Email) -> AppResult<bool> {
        let lease = chrono::Duration::minutes(CLAIM_LEASE_MINUTES);
        match self.log.claim(key, self.clock.now(), lease).await? {
            Claim::AlreadySent => {
                tracing::info!(notification = key, "already sent; nothing to do");
                return Ok(false);
            }
            Claim::InProgress => return Err(AppError::Unavailable(format!("notification {key} is being sent by another delivery"))),
            Claim::Claimed => {}
        }
        match self.mailer.send_once(key, &email).await {
            Ok(sent) => self.log.mark_sent(key, &sent.message_id, self.clock.now()).await.map(|()| true),
            Err(e) => {
                self.log.release(key).await?;
                Err(e)
            }
        }
    }

    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// The e-mail to one reviewer: a summary (every user value escaped and capped) and
    /// two signed links.
    pub fn review_request(&self, app: &Application, reviewer: &EmailAddress) -> Email {
        let approve = self.link(&format!("/review/{}", self.review.token(app, ReviewAction::Approve, reviewer, self.link_ttl)));
        let reject = self.link(&format!("/review/{}", self.review.token(app, ReviewAction::Reject, reviewer, self.link_ttl)));
        let f = &app.form;
        let list = |v: Vec<&str>| v.join("、");
        let rows: Vec<(&str, String)> = vec![
            ("公司名稱", cap(&f.company_name)),
            ("公司統編", f.tax_id.to_string()),
            ("公司服務項目及主要產品", cap(&f.products)),
            ("申請人", cap(&format!("{} {} {}", f.applicant_name, f.applicant_department, f.applicant_title))),
            ("聯絡 email", f.contact_email.as_str().to_string()),
            ("聯絡電話", cap(&f.contact_phone)),
            ("盤查據點", list(f.regions.iter().map(|r| r.label()).collect())),
            ("碳盤查狀況", f.inventory_status.label().to_string()),
            ("有興趣的議題", list(f.interests.iter().map(|i| i.label()).collect())),
            ("備註", cap(&f.notes)),
        ];
        let days = self.link_ttl.num_days();
        let text_rows: String = rows.iter().map(|(k, v)| format!("{k}：{v}\n")).collect();
        Email {
            to: vec![reviewer.clone()],
            subject: format!("【EcoSphere】碳星雲服務申請待審核：{}", cap(&f.company_name).chars().take(40).collect::<String>()),
            text: format!(
                "您好：\n\n有一筆新的碳星雲服務申請待審核。\n\n{text_rows}\n核准：{approve}\n退件：{reject}\n\n\
                 開啟連結後會先顯示確認頁面，確認後才會送出審核結果。連結 {days} 天內有效，僅限您本人使用。\n\n{FOOTER_TEXT}"
            ),
            html: html_document(html! {
                p { "您好：" }
                p { "有一筆新的碳星雲服務申請待審核。" }
                table {
                    @for (k, v) in &rows {
                        tr { th align="left" style="padding:4px 12px 4px 0" { (k) } td { (v) } }
                    }
                }
                p { (button(&approve, "核准", APPROVE_COLOR)) (button(&reject, "退件", REJECT_COLOR)) }
                p style="color:#666" { "開啟連結後會先顯示確認頁面，確認後才會送出審核結果。連結 " (days) " 天內有效，僅限您本人使用。" }
                (footer())
            }),
        }
    }

    /// The e-mail to the applicant about a decision (texts from the user manual).
    pub fn decision_email(&self, app: &Application) -> Email {
        let to = vec![app.form.contact_email.address().clone()];
        let status_url = self.link(&format!("/applications/{}", app.id));
        let login_url = self.link("/login");
        if app.status == ApplicationStatus::Approved {
            Email {
                to,
                subject: "【EcoSphere】您申請的碳星雲服務已通過審核，歡迎開始使用".into(),
                text: format!(
                    "您好：\n\n您申請的碳星雲服務平台帳號已通過審核！\n\n現在您可以登入 EcoSphere 平台\n點擊「碳星雲服務平台登入」按鈕\n即可跳轉並開始使用服務。\n\n\
                     或是透過此連結登入：\n{login_url}\n\n申請進度：{status_url}\n試用期間為 6 個月。\n\n{FOOTER_TEXT}"
                ),
                html: html_document(html! {
                    p { "您好：" }
                    p { strong { "您申請的碳星雲服務平台帳號已通過審核！" } }
                    p { "現在您可以登入 EcoSphere 平台" br; "點擊「碳星雲服務平台登入」按鈕" br; "即可跳轉並開始使用服務。" }
                    p { (button(&login_url, "點我前往", APPROVE_COLOR)) }
                    p { "或是透過此連結登入：" br; a href=(login_url) { (login_url) } }
                    p { "申請進度：" a href=(status_url) { (status_url) } }
                    p { "試用期間為 6 個月。" }
                    (footer())
                }),
            }
        } else {
            let reason = cap(app.decision.as_ref().and_then(|d| d.reason.as_deref()).unwrap_or("（未提供）"));
            let apply_url = self.link("/apply");
            Email {
                to,
                subject: "【EcoSphere】您申請的碳星雲服務審核未通過".into(),
                text: format!(
                    "您好：\n\n很抱歉\n您申請的碳星雲服務平台帳號未通過審核。\n\n請參考以下退件原因，如有疑問歡迎聯絡客服協助謝謝！\n\n{reason}\n\n\
                     您可以修正後重新提出申請：{apply_url}\n\n{FOOTER_TEXT}"
                ),
                html: html_document(html! {
                    p { "您好：" }
                    p { "很抱歉" }
                    p { "您申請的碳星雲服務平台帳號未通過審核。" }
                    p { "請參考以下退件原因，如有疑問歡迎聯絡客服協助謝謝！" }
                    blockquote style="border-left:4px solid #b3261e;padding-left:12px;white-space:pre-wrap" { (reason) }
                    p { "您可以修正後" a href=(apply_url) { "重新提出申請" } "。" }
                    (footer())
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn working_days_skip_weekends_in_taipei_time() {
        // Thursday 2026-11-19 10:00 Taipei.
        let thu = t("2026-11-19T02:00:00Z");
        assert_eq!(working_days_between(thu, t("2026-11-19T09:00:00Z")), 0);
        assert_eq!(working_days_between(thu, t("2026-11-20T02:00:00Z")), 1); // Fri
        assert_eq!(working_days_between(thu, t("2026-11-23T02:00:00Z")), 2); // Mon (weekend skipped)
        assert_eq!(working_days_between(thu, t("2026-11-24T02:00:00Z")), 3); // Tue: not yet overdue
        assert_eq!(working_days_between(thu, t("2026-11-25T02:00:00Z")), 4); // Wed: overdue
        // 23:30 UTC is already the next day in Taipei.
        assert_eq!(working_days_between(thu, t("2026-11-19T23:30:00Z")), 1);
    }

    #[test]
    fn only_state_changes_call_for_notices() {
        use crate::domain::{ApplicationForm, Decision, FreeMailDomains, RawForm};
        let raw = RawForm(
            [("company_name", "甲"), ("tax_id", "22099131"), ("products", "p"), ("applicant_name", "n"), ("applicant_title", "t"),
             ("contact_email", "a@acme.com.tw"), ("contact_phone", "02-2345-6789"), ("inventory_status", "verified"), ("interests", "subsidy")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let (form, _) = ApplicationForm::parse(&raw, &FreeMailDomains::builtin()).unwrap();
        let pending = Application::new_pending(form, Utc::now());
        let mut rejected = pending.clone();
        rejected.status = ApplicationStatus::Rejected;
        rejected.version = 2;
        rejected.decision = Some(Decision { status: ApplicationStatus::Rejected, reviewer: "r@x.org".into(), reason: Some("x".into()), decided_at: Utc::now() });
        assert_eq!(notice_for(None, Some(&pending)), Some(Notice::ReviewRequest));
        assert_eq!(notice_for(Some(&pending), Some(&rejected)), Some(Notice::Decision(ApplicationStatus::Rejected)));
        assert_eq!(notice_for(Some(&pending), Some(&pending)), None);
        assert_eq!(notice_for(Some(&rejected), Some(&rejected)), None);
        assert_eq!(notice_for(Some(&rejected), None), None);
        assert_eq!(notice_for(None, Some(&rejected)), None);
    }

    fn service() -> NotifyService {
        use crate::adapters::{OutboxMailer, SqliteApplicationStore, SqliteDb, SqliteNotificationLog};
        let db = SqliteDb::open_in_memory().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(crate::ports::ManualClock::new(t("2026-11-19T02:00:00Z")));
        let from = EmailAddress::parse("service@ecosphere.local").unwrap();
        let review = ReviewService::new(
            Arc::new(SqliteApplicationStore::new(db.clone())),
            crate::domain::ReviewSigner::new(vec![b"0123456789abcdef0123456789abcdef".to_vec()]).unwrap(),
            clock.clone(),
        );
        NotifyService::new(
            Arc::new(OutboxMailer::new(std::env::temp_dir().join("unused-outbox"), from, clock.clone())),
            Arc::new(SqliteNotificationLog::new(db)),
            review,
            clock,
            vec![EmailAddress::parse("reviewer@ecosphere.local").unwrap()],
            "http://127.0.0.1:3000".into(),
            chrono::Duration::days(7),
        )
    }

    fn pending(company: &str) -> Application {
        use crate::domain::{ApplicationForm, FreeMailDomains, RawForm};
        let raw = RawForm(
            [("company_name", company), ("tax_id", "22099131"), ("products", "p"), ("applicant_name", "n"), ("applicant_title", "t"),
             ("contact_email", "a@acme.com.tw"), ("contact_phone", "02-2345-6789"), ("inventory_status", "verified"), ("interests", "subsidy")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let (form, _) = ApplicationForm::parse(&raw, &FreeMailDomains::builtin()).unwrap();
        Application::new_pending(form, t("2026-11-19T02:00:00Z"))
    }

    #[test]
    fn the_reviewer_email_escapes_the_company_name() {
        let svc = service();
        let app = pending("<script>alert(1)</script>\"&");
        let reviewer = EmailAddress::parse("reviewer@ecosphere.local").unwrap();
        let email = svc.review_request(&app, &reviewer);
        assert!(email.html.starts_with("<!DOCTYPE html>"), "{}", email.html);
        assert!(email.html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;</td>"), "{}", email.html);
        assert!(!email.html.contains("<script>"), "{}", email.html);
        // The links and the texts are as before; the plain text part is not HTML-escaped.
        assert!(email.html.contains(">核准</a>") && email.html.contains(">退件</a>"));
        assert!(email.html.contains("href=\"http://127.0.0.1:3000/review/"));
        assert!(email.html.contains("連結 7 天內有效，僅限您本人使用。"));
        assert!(email.text.contains("公司名稱：<script>alert(1)</script>\"&"));
        assert_eq!(email.subject, "【EcoSphere】碳星雲服務申請待審核：<script>alert(1)</script>\"&");
        // The reminder escapes it too.
        let reminder = svc.reminder(std::slice::from_ref(&app), &reviewer, t("2026-11-25T02:00:00Z"));
        assert!(reminder.html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;</td>"), "{}", reminder.html);
        assert!(!reminder.html.contains("<script>"));
    }

    #[test]
    fn capped_values_are_clean() {
        assert_eq!(cap("a\u{202E}b\u{0007}c"), "abc");
        assert_eq!(cap(&"字".repeat(300)).chars().count(), 201);
    }
}
