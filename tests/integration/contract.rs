//! The adapter contract suite: the same checks against the local adapters (SQLite,
//! folder, outbox) and the AWS adapters (DynamoDB, S3, SESv2) on the moto server.

use super::common;

use std::sync::Arc;

use common::*;
use ecosphere::adapters::{
    DynamoApplicationStore, DynamoMemberStore, DynamoNotificationLog, FolderBlobStore, OutboxMailer, S3BlobStore, SesMailer,
    SqliteApplicationStore, SqliteDb, SqliteMemberStore, SqliteNotificationLog, SqliteTokenStore, DynamoTokenStore,
};
use ecosphere::domain::{
    Application, ApplicationForm, ApplicationStatus, Decision, EmailAddress, FreeMailDomains, IdempotencyKey, Member, MemberId,
    MemberProfile, RawForm, TaxId,
};
use ecosphere::ports::{
    ApplicationStore, BlobKey, BlobStore, Claim, Email, Mailer, MemberStore, NotificationLog, Submission, SystemClock, TokenStore,
};
use ecosphere::AppError;

fn application(company: &str, tax_id: &str, notes: &str) -> (Application, Option<IdempotencyKey>) {
    let mut raw = valid_form(company, tax_id);
    raw.push(("notes".into(), notes.into()));
    let (form, _) = ApplicationForm::parse(&RawForm(raw.clone()), &FreeMailDomains::builtin()).unwrap();
    raw.push(("idempotency_key".into(), format!("key-{tax_id}")));
    let (_, key) = ApplicationForm::parse(&RawForm(raw), &FreeMailDomains::builtin()).unwrap();
    (Application::new_pending(form, chrono::Utc::now()), key)
}

async fn store_contract(store: Arc<dyn ApplicationStore>) {
    let tax = TaxId::parse("22099131").unwrap();
    assert!(store.list_for_company(&tax).await.unwrap().is_empty());

    // Created, and read back exactly.
    let (a, _) = application("甲公司", "22099131", "");
    assert_eq!(store.submit(&a, None).await.unwrap(), Submission::Created(a.clone()));
    assert_eq!(store.get(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get(&ecosphere::domain::ApplicationId::new()).await.unwrap(), None);

    // A second application for the same company: 409, nothing written.
    let (b, _) = application("甲公司", "22099131", "second");
    match store.submit(&b, None).await {
        Err(AppError::Conflict(msg)) => assert!(msg.contains("審核中"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get(&b.id).await.unwrap(), None);
    assert_eq!(store.list_for_company(&tax).await.unwrap(), vec![a.clone()]);

    // Idempotency: the same key and content return the first result; other content is refused.
    let (c, key) = application("乙公司", "10458574", "");
    let key = key.unwrap();
    assert_eq!(store.submit(&c, Some(&key)).await.unwrap(), Submission::Created(c.clone()));
    let (c_again, _) = application("乙公司", "10458574", "");
    assert_eq!(store.submit(&c_again, Some(&key)).await.unwrap(), Submission::Replayed(c.clone()));
    let (c_other, _) = application("乙公司", "10458574", "changed");
    assert!(matches!(store.submit(&c_other, Some(&key)).await, Err(AppError::Validation(_))));
    assert_eq!(store.get(&c_again.id).await.unwrap(), None);
    assert_eq!(store.get(&c_other.id).await.unwrap(), None);
    assert_eq!(store.list_for_company(&TaxId::parse("10458574").unwrap()).await.unwrap().len(), 1);
    // A key used for one company cannot create another company's application either.
    let (d, _) = application("丙公司", "62140097", "");
    assert!(matches!(store.submit(&d, Some(&key)).await, Err(AppError::Validation(_))));
    assert_eq!(store.get(&d.id).await.unwrap(), None);

    // The uniqueness race: 20 concurrent submissions for one company, one stored.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let (app, _) = application("丁公司", "04595257", &format!("attempt {i}"));
                store.submit(&app, None).await
            })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Submission::Created(_)) => created += 1,
            Err(AppError::Conflict(_)) => conflicts += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    let stored = store.list_for_company(&TaxId::parse("04595257").unwrap()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, ApplicationStatus::Pending);

    // Pending applications, oldest first.
    let pending: Vec<_> = store.list_pending().await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(pending.len(), 3);
    assert!(pending.contains(&a.id) && pending.contains(&c.id));

    // Decisions: conditional on pending + version; the loser learns who won.
    let decision = |status, reason: Option<&str>| Decision {
        status,
        reviewer: "reviewer@iii.org.tw".into(),
        reason: reason.map(String::from),
        decided_at: chrono::Utc::now(),
    };
    assert!(matches!(store.decide(&a.id, 2, &decision(ApplicationStatus::Approved, None)).await, Err(AppError::Conflict(_))));
    let approved = store.decide(&a.id, 1, &decision(ApplicationStatus::Approved, None)).await.unwrap();
    assert_eq!((approved.status, approved.version), (ApplicationStatus::Approved, 2));
    assert_eq!(store.get(&a.id).await.unwrap(), Some(approved.clone()));
    assert_eq!(store.list_approved().await.unwrap(), vec![approved.clone()]);
    match store.decide(&a.id, 1, &decision(ApplicationStatus::Rejected, Some("late"))).await {
        Err(AppError::Conflict(msg)) => assert!(msg.contains("審核通過") && msg.contains("reviewer@iii.org.tw"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.decide(&ecosphere::domain::ApplicationId::new(), 1, &decision(ApplicationStatus::Approved, None)).await,
        Err(AppError::NotFound(_))
    ));
    // Approved still blocks a new application, with the approved message.
    let (again, _) = application("甲公司", "22099131", "again");
    match store.submit(&again, None).await {
        Err(AppError::Conflict(msg)) => assert!(msg.contains("已通過"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // A rejection frees the company to apply again.
    let rejected = store.decide(&c.id, 1, &decision(ApplicationStatus::Rejected, Some("資料不完整"))).await.unwrap();
    assert_eq!(rejected.decision.as_ref().unwrap().reason.as_deref(), Some("資料不完整"));
    // The sweeper's recent rejections: decided at or after `since`, and no other status.
    let decided_at = rejected.decision.as_ref().unwrap().decided_at;
    let recent: Vec<_> = store.list_rejected_since(decided_at - chrono::Duration::milliseconds(1)).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(recent, vec![c.id.clone()]);
    assert!(store.list_rejected_since(decided_at + chrono::Duration::seconds(1)).await.unwrap().is_empty());
    let (reapply, _) = application("乙公司", "10458574", "second try");
    assert!(matches!(store.submit(&reapply, None).await.unwrap(), Submission::Created(_)));
    let pending: Vec<_> = store.list_pending().await.unwrap().into_iter().map(|p| p.id).collect();
    assert!(!pending.contains(&a.id) && !pending.contains(&c.id) && pending.contains(&reapply.id));

    // Racing decisions on one application: exactly one wins.
    let (race, _) = application("庚公司", "12345675", "");
    store.submit(&race, None).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, id) = (store.clone(), race.id.clone());
            let d = decision(if i % 2 == 0 { ApplicationStatus::Approved } else { ApplicationStatus::Rejected }, Some("r"));
            tokio::spawn(async move { store.decide(&id, 1, &d).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(AppError::Conflict(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

fn member(tax: &str, name: &str, email: &str, admin: bool) -> Member {
    let now = chrono::Utc::now();
    Member {
        id: MemberId::new(),
        tax_id: TaxId::parse(tax).unwrap(),
        profile: MemberProfile {
            name: name.into(),
            email: EmailAddress::parse(email).unwrap(),
            phone: String::new(),
            title: "會計".into(),
            is_admin: admin,
            carbon_login: true,
        },
        created_at: now,
        updated_at: now,
    }
}

/// Runs after `store_contract`, on the same backend: company 22099131 was approved there.
async fn member_contract(members: Arc<dyn MemberStore>) {
    let tax = TaxId::parse("22099131").unwrap();
    // Each change at its own time, as a clock gives it.
    let now = chrono::Utc::now;
    // Approval made the applicant the first member: admin with carbon login.
    let listed = members.list(&tax).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let first = listed[0].clone();
    assert_eq!(first.profile.email.as_str(), "ming@vitamin.com.tw");
    assert!(first.profile.is_admin && first.profile.carbon_login);
    assert_eq!(members.audit(&tax).await.unwrap()[0].actor, "system");

    // The last admin can be neither demoted nor removed.
    let mut demoted = first.profile.clone();
    demoted.is_admin = false;
    assert!(matches!(members.update(&tax, &first.id, &demoted, "ming@vitamin.com.tw", now()).await, Err(AppError::Conflict(_))));
    assert!(matches!(members.remove(&tax, &first.id, "ming@vitamin.com.tw", now()).await, Err(AppError::Conflict(_))));

    // Add: one membership per e-mail and company (case-insensitive); the same e-mail in another company is fine.
    let wang = member("22099131", "王會計", "wang@acct.com.tw", false);
    members.add(&wang, "ming@vitamin.com.tw").await.unwrap();
    assert!(matches!(members.add(&member("22099131", "dup", "WANG@acct.com.tw", false), "x").await, Err(AppError::Conflict(_))));
    members.add(&member("10458574", "王會計", "wang@acct.com.tw", true), "system").await.unwrap();
    let found = members.find_by_email(&EmailAddress::parse("wang@acct.com.tw").unwrap()).await.unwrap();
    assert_eq!(found.len(), 2);

    // Promote wang; now the first admin may step down; then wang is the last admin.
    let mut promoted = wang.profile.clone();
    promoted.is_admin = true;
    let wang2 = members.update(&tax, &wang.id, &promoted, "ming@vitamin.com.tw", now()).await.unwrap();
    assert!(wang2.profile.is_admin);
    members.update(&tax, &first.id, &demoted, "ming@vitamin.com.tw", now()).await.unwrap();
    let mut wang_demoted = promoted.clone();
    wang_demoted.is_admin = false;
    assert!(matches!(members.update(&tax, &wang.id, &wang_demoted, "x", now()).await, Err(AppError::Conflict(_))));
    // E-mail change onto another member's address: conflict; onto a new one: fine.
    let mut clash = demoted.clone();
    clash.email = EmailAddress::parse("wang@acct.com.tw").unwrap();
    assert!(matches!(members.update(&tax, &first.id, &clash, "x", now()).await, Err(AppError::Conflict(_))));
    let mut moved = demoted.clone();
    moved.email = EmailAddress::parse("ming.wang@vitamin.com.tw").unwrap();
    members.update(&tax, &first.id, &moved, "wang@acct.com.tw", now()).await.unwrap();
    // (The racing decision in store_contract may have approved 12345675 with the same applicant.)
    assert!(members.find_by_email(&EmailAddress::parse("ming@vitamin.com.tw").unwrap()).await.unwrap().iter().all(|m| m.tax_id != tax));
    assert_eq!(members.find_by_email(&moved.email).await.unwrap().len(), 1);

    // Tenant isolation: another company's id is not found.
    let other = TaxId::parse("10458574").unwrap();
    assert_eq!(members.get(&other, &first.id).await.unwrap(), None);
    assert!(matches!(members.remove(&other, &first.id, "x", now()).await, Err(AppError::NotFound(_))));
    assert!(matches!(members.update(&other, &first.id, &moved, "x", now()).await, Err(AppError::NotFound(_))));

    // Remove a non-admin; the audit trail has every change with who and what.
    members.remove(&tax, &first.id, "wang@acct.com.tw", now()).await.unwrap();
    assert_eq!(members.list(&tax).await.unwrap().len(), 1);
    let audit = members.audit(&tax).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["add", "add", "update", "update", "update", "remove"]);
    assert_eq!(audit.last().unwrap().actor, "wang@acct.com.tw");
    assert!(audit.last().unwrap().before.is_some() && audit.last().unwrap().after.is_none());

    // Racing: two admins each demoting themselves (or each other): one stays admin.
    let tax2 = TaxId::parse("10458574").unwrap();
    let second = member("10458574", "李經理", "lee@acme.com.tw", true);
    members.add(&second, "system").await.unwrap();
    let admins: Vec<Member> = members.list(&tax2).await.unwrap().into_iter().filter(|m| m.profile.is_admin).collect();
    assert_eq!(admins.len(), 2);
    let tasks: Vec<_> = admins
        .into_iter()
        .map(|m| {
            let members = members.clone();
            tokio::spawn(async move { members.remove(&m.tax_id, &m.id, "race", chrono::Utc::now()).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(members.list(&tax2).await.unwrap().iter().filter(|m| m.profile.is_admin).count(), 1);
}

async fn token_contract(tokens: Arc<dyn TokenStore>) {
    let now = chrono::Utc::now();
    let later = now + chrono::Duration::minutes(15);
    tokens.insert("login", "h1", "{\"a\":1}", now, later).await.unwrap();
    assert!(matches!(tokens.insert("login", "h1", "x", now, later).await, Err(AppError::Conflict(_))));
    tokens.insert("session", "h1", "other kind", now, later).await.unwrap();
    assert_eq!(tokens.get("login", "h1", now).await.unwrap().as_deref(), Some("{\"a\":1}"));
    assert_eq!(tokens.get("login", "h1", later).await.unwrap(), None, "expired at its expiry");
    assert_eq!(tokens.get("login", "nope", now).await.unwrap(), None);
    // Single use under concurrency: exactly one taker.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.take("login", "h1", now).await.unwrap() })
        })
        .collect();
    let mut got = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            got += 1;
        }
    }
    assert_eq!(got, 1);
    assert_eq!(tokens.get("session", "h1", now).await.unwrap().as_deref(), Some("other kind"));
    // An expired key may be reused.
    tokens.insert("session", "h1", "renewed", later, later + chrono::Duration::minutes(1)).await.unwrap();
    assert_eq!(tokens.get("session", "h1", later).await.unwrap().as_deref(), Some("renewed"));
    // An expired token cannot be taken.
    tokens.insert("login", "h2", "x", now, now + chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(tokens.take("login", "h2", now + chrono::Duration::seconds(2)).await.unwrap(), None);
}

async fn notification_log_contract(log: Arc<dyn NotificationLog>) {
    let now = chrono::Utc::now();
    let lease = chrono::Duration::minutes(5);
    assert_eq!(log.claim("k1", now, lease).await.unwrap(), Claim::Claimed);
    assert_eq!(log.claim("k1", now, lease).await.unwrap(), Claim::InProgress);
    // A failed send gives the claim back.
    log.release("k1").await.unwrap();
    assert_eq!(log.claim("k1", now, lease).await.unwrap(), Claim::Claimed);
    log.mark_sent("k1", "msg-1", now).await.unwrap();
    assert_eq!(log.claim("k1", now, lease).await.unwrap(), Claim::AlreadySent);
    log.release("k1").await.unwrap(); // a sent notification is never released
    assert_eq!(log.claim("k1", now + chrono::Duration::hours(1), lease).await.unwrap(), Claim::AlreadySent);
    // A claim whose sender died is taken over after the lease, once.
    assert_eq!(log.claim("k2", now, lease).await.unwrap(), Claim::Claimed);
    assert_eq!(log.claim("k2", now + chrono::Duration::minutes(4), lease).await.unwrap(), Claim::InProgress);
    let later = now + chrono::Duration::minutes(6);
    assert_eq!(log.claim("k2", later, lease).await.unwrap(), Claim::Claimed);
    assert_eq!(log.claim("k2", later, lease).await.unwrap(), Claim::InProgress);
    // Concurrent claims: one winner.
    let tasks: Vec<_> = (0..20).map(|_| {
        let log = log.clone();
        tokio::spawn(async move { log.claim("k3", now, lease).await.unwrap() })
    }).collect();
    let mut claimed = 0;
    for t in tasks {
        if t.await.unwrap() == Claim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

async fn blob_contract(blobs: Arc<dyn BlobStore>) {
    let k1 = BlobKey::parse("drop/22099131/batch-1/電費單 1.pdf").unwrap();
    let k2 = BlobKey::parse("drop/22099131/batch-1/water.png").unwrap();
    let k3 = BlobKey::parse("reports/22099131/2025.json").unwrap();
    assert_eq!(blobs.get(&k1).await.unwrap(), None);
    blobs.put(&k1, b"%PDF-1.7\n".to_vec(), "application/pdf").await.unwrap();
    blobs.put(&k2, vec![0x89, b'P', b'N', b'G'], "image/png").await.unwrap();
    blobs.put(&k3, b"{}".to_vec(), "application/json").await.unwrap();
    let got = blobs.get(&k1).await.unwrap().unwrap();
    assert_eq!((got.bytes.as_slice(), got.content_type.as_str()), (&b"%PDF-1.7\n"[..], "application/pdf"));
    // Sorted by key bytes, like S3.
    assert_eq!(blobs.list("drop/22099131/").await.unwrap(), vec![k2.clone(), k1.clone()]);
    // Overwrite replaces.
    blobs.put(&k2, b"new".to_vec(), "image/png").await.unwrap();
    assert_eq!(blobs.get(&k2).await.unwrap().unwrap().bytes, b"new");
    blobs.delete(&k1).await.unwrap();
    blobs.delete(&k1).await.unwrap(); // deleting twice is fine
    assert_eq!(blobs.get(&k1).await.unwrap(), None);
    assert_eq!(blobs.list("drop/").await.unwrap(), vec![k2]);
}

fn check_mime(raw: &[u8], to: &str) {
    let msg = mail_parser::MessageParser::default().parse(raw).expect("parses as MIME");
    assert_eq!(msg.subject(), Some("【EcoSphere】您申請的碳星雲服務已通過審核，歡迎開始使用"));
    assert_eq!(msg.to().unwrap().first().unwrap().address(), Some(to));
    assert!(msg.from().unwrap().first().unwrap().address().unwrap().contains('@'));
    assert!(msg.body_text(0).unwrap().contains("您申請的碳星雲服務平台帳號已通過審核！"));
    assert!(msg.body_html(0).unwrap().contains("<p>您申請的碳星雲服務平台帳號已通過審核！</p>"));
    assert!(msg.message_id().is_some());
    // Headers are 7-bit: the zh-TW subject is RFC 2047 encoded.
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(raw[..head_end].is_ascii(), "headers must be ASCII");
}

fn sample_email(to: &str) -> Email {
    Email {
        to: vec![EmailAddress::parse(to).unwrap()],
        subject: "【EcoSphere】您申請的碳星雲服務已通過審核，歡迎開始使用".into(),
        text: "您好：\n\n您申請的碳星雲服務平台帳號已通過審核！\n".into(),
        html: "<p>您申請的碳星雲服務平台帳號已通過審核！</p>".into(),
    }
}

#[tokio::test]
async fn sqlite_folder_outbox_satisfy_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&tmp.path().join("db.sqlite3")).unwrap();
    store_contract(Arc::new(SqliteApplicationStore::new(db.clone()))).await;
    member_contract(Arc::new(SqliteMemberStore::new(db.clone()))).await;
    token_contract(Arc::new(SqliteTokenStore::new(db.clone()))).await;
    notification_log_contract(Arc::new(SqliteNotificationLog::new(db))).await;
    blob_contract(Arc::new(FolderBlobStore::new(tmp.path().join("blobs")))).await;

    let outbox = tmp.path().join("outbox");
    let mailer = OutboxMailer::new(&outbox, EmailAddress::parse(SENDER).unwrap(), Arc::new(SystemClock));
    let sent = mailer.send(&sample_email("ming@vitamin.com.tw")).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].extension().unwrap() == "eml");
    let raw = std::fs::read(&files[0]).unwrap();
    check_mime(&raw, "ming@vitamin.com.tw");
    assert!(String::from_utf8_lossy(&raw).contains(&sent.message_id));
}

#[tokio::test]
async fn dynamodb_s3_sesv2_satisfy_the_contract_on_the_emulator() {
    let moto = Moto::start();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "contract", "contract-bucket").await;
    store_contract(Arc::new(DynamoApplicationStore::from_sdk(&sdk, "contract"))).await;
    member_contract(Arc::new(DynamoMemberStore::from_sdk(&sdk, "contract"))).await;
    token_contract(Arc::new(DynamoTokenStore::from_sdk(&sdk, "contract"))).await;
    notification_log_contract(Arc::new(DynamoNotificationLog::from_sdk(&sdk, "contract"))).await;
    blob_contract(Arc::new(S3BlobStore::from_sdk(&sdk, "contract-bucket", true))).await;

    let mailer = SesMailer::from_sdk(&sdk, EmailAddress::parse(SENDER).unwrap(), Some(CONFIGURATION_SET.into()), Arc::new(SystemClock));
    let sent = mailer.send(&sample_email("ming@vitamin.com.tw")).await.unwrap();
    assert!(!sent.message_id.is_empty());
    let mails = moto_sent_emails(&moto.url).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].0.contains(&"ming@vitamin.com.tw".to_string()));
    check_mime(mails[0].1.as_bytes(), "ming@vitamin.com.tw");

    // An unverified sender is refused by SES: a clear error, not a silent success.
    let bad = SesMailer::from_sdk(&sdk, EmailAddress::parse("nobody@unverified.example").unwrap(), None, Arc::new(SystemClock));
    assert!(bad.send(&sample_email("ming@vitamin.com.tw")).await.is_err());
}

#[tokio::test]
async fn dynamodb_stream_carries_the_application_as_consumers_decode_it() {
    let moto = Moto::start();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "streamed", "streamed-bucket").await;
    let store = DynamoApplicationStore::from_sdk(&sdk, "streamed");
    let (a, _) = application("甲公司", "22099131", "");
    store.submit(&a, None).await.unwrap();
    let records = stream_records(&sdk, "streamed").await;
    let apps: Vec<Application> = records
        .iter()
        .filter(|(name, _)| name == "INSERT")
        .filter_map(|(_, img)| ecosphere::records::application_from_image(img))
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(apps, vec![a]);
}

async fn statement_contract(store: Arc<dyn ecosphere::ports::StatementStore>) {
    use ecosphere::statement::StatementRecord;
    let tax = TaxId::parse("22099131").unwrap();
    let rec = |id: &str, at: &str| StatementRecord {
        id: id.into(),
        tax_id: "22099131".into(),
        year: 2025,
        issued_at: at.into(),
        inventory_sha256: format!("digest-{id}"),
        document: format!("{{\"id\":\"{id}\"}}"),
        superseded_by: None,
        revoked: None,
    };
    assert!(store.list_for(&tax, 2025).await.unwrap().is_empty());
    assert_eq!(store.get("cs-none").await.unwrap(), None);
    let (a, b) = (rec("cs-a", "2026-01-01T00:00:00Z"), rec("cs-b", "2026-02-01T00:00:00Z"));
    store.insert(&b).await.unwrap();
    store.insert(&a).await.unwrap();
    assert!(matches!(store.insert(&a).await, Err(AppError::Conflict(_))), "an id is stored once");
    assert_eq!(store.get("cs-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.list_for(&tax, 2025).await.unwrap(), vec![a.clone(), b.clone()], "oldest first");
    assert!(store.list_for(&tax, 2024).await.unwrap().is_empty());
    assert!(store.list_for(&TaxId::parse("10458574").unwrap(), 2025).await.unwrap().is_empty(), "other firms see nothing");
    // Superseded once: the first newer statement wins.
    assert!(store.supersede(&tax, 2025, "cs-a", "cs-b").await.unwrap());
    assert!(!store.supersede(&tax, 2025, "cs-a", "cs-c").await.unwrap());
    assert_eq!(store.get("cs-a").await.unwrap().unwrap().superseded_by.as_deref(), Some("cs-b"));
    assert!(!store.supersede(&tax, 2025, "cs-missing", "cs-b").await.unwrap());
    assert!(store.revoke(&tax, 2025, "cs-b", "撤銷理由").await.unwrap());
    assert_eq!(store.get("cs-b").await.unwrap().unwrap().revoked.as_deref(), Some("撤銷理由"));
    assert!(!store.revoke(&tax, 2025, "cs-missing", "x").await.unwrap());
}

#[tokio::test]
async fn statement_stores_satisfy_the_contract_on_sqlite_and_the_emulator() {
    let tmp = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&tmp.path().join("db.sqlite3")).unwrap();
    statement_contract(Arc::new(ecosphere::adapters::SqliteStatementStore::new(db))).await;
    let moto = Moto::start();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "statements", "statements-bucket").await;
    statement_contract(Arc::new(ecosphere::adapters::DynamoStatementStore::from_sdk(&sdk, "statements"))).await;
}

fn profile_form(name: &str, revenue: &str, version: u32) -> RawForm {
    RawForm(
        [
            ("name", name),
            ("industry_code", "251111"),
            ("county", "65000"),
            ("address", "新北市三重區重新路一段 1 號"),
            ("employees", "25"),
            ("revenue_ntd", revenue),
            ("capital_ntd", "1000000"),
            ("floor_area_m2", "850.5"),
            ("version", &version.to_string()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    )
}

async fn firm_profile_contract(store: Arc<dyn ecosphere::ports::FirmProfileStore>) {
    use ecosphere::services::firms::FirmService;
    let firms = FirmService::new(store.clone(), Arc::new(SystemClock));
    let (tax, other) = (TaxId::parse("22099131").unwrap(), TaxId::parse("10458574").unwrap());
    assert_eq!(store.get(&tax, 2025).await.unwrap(), None);

    // Bad input: 422 naming the field, nothing stored.
    match firms.save(&tax, 2025, &profile_form("大明金屬", "五百萬", 0), "admin@example.com").await {
        Err(AppError::Validation(e)) => assert!(e.get("revenue_ntd").is_some(), "{e:?}"),
        other => panic!("expected 422, got {other:?}"),
    }
    assert_eq!(store.get(&tax, 2025).await.unwrap(), None);
    assert!(store.audit(&tax).await.unwrap().is_empty());

    let v1 = firms.save(&tax, 2025, &profile_form("大明金屬", "6,000,000", 0), "admin@example.com").await.unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(store.get(&tax, 2025).await.unwrap(), Some(v1.clone()), "read back exactly");
    assert_eq!(v1.fields.floor_area_m2, Some(850.5));

    // A second person who also saw "no profile" is refused; nothing changes.
    assert!(matches!(firms.save(&tax, 2025, &profile_form("別人改的", "1", 0), "x@example.com").await, Err(AppError::Conflict(_))));
    let v2 = firms.save(&tax, 2025, &profile_form("大明金屬股份有限公司", "7000000", 1), "consultant@example.com").await.unwrap();
    assert_eq!(v2.version, 2);
    assert!(matches!(firms.save(&tax, 2025, &profile_form("舊版覆蓋", "1", 1), "x@example.com").await, Err(AppError::Conflict(_))));
    assert_eq!(store.get(&tax, 2025).await.unwrap(), Some(v2.clone()));
    // Saving the same values again writes nothing.
    assert_eq!(firms.save(&tax, 2025, &profile_form("大明金屬股份有限公司", "7000000", 2), "x@example.com").await.unwrap(), v2);

    // Another year is its own version line; the page for a new year starts from the last one.
    let view = firms.view(&tax, 2026).await.unwrap();
    assert!(view.profile.is_none());
    assert_eq!(view.prefill_from.as_ref().map(|p| p.year), Some(2025));
    let y24 = firms.save(&tax, 2024, &profile_form("大明金屬", "5000000", 0), "admin@example.com").await.unwrap();
    assert_eq!(store.history(&tax).await.unwrap(), vec![y24.clone(), v2.clone()], "oldest year first");
    firms.save(&other, 2025, &profile_form("乙公司", "100", 0), "b@example.com").await.unwrap();
    let listed: Vec<String> = store.list_year(2025).await.unwrap().iter().map(|p| p.tax_id.to_string()).collect();
    assert_eq!(listed, vec!["10458574", "22099131"]);
    assert_eq!(store.list_year(2024).await.unwrap(), vec![y24]);

    // The audit trail: every change, who, before and after; nothing of the other firm.
    let audit = store.audit(&tax).await.unwrap();
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert_eq!(audit[0].before, None);
    assert_eq!(audit[1].actor, "consultant@example.com");
    assert_eq!(audit[1].before.as_ref().unwrap().name, "大明金屬");
    assert_eq!(audit[1].after.name, "大明金屬股份有限公司");
    assert_eq!(store.audit(&other).await.unwrap().len(), 1);
}

#[tokio::test]
async fn firm_profile_stores_satisfy_the_contract_on_sqlite_and_the_emulator() {
    let tmp = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&tmp.path().join("db.sqlite3")).unwrap();
    firm_profile_contract(Arc::new(ecosphere::adapters::SqliteFirmProfileStore::new(db))).await;
    let moto = Moto::start();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "profiles", "profiles-bucket").await;
    firm_profile_contract(Arc::new(ecosphere::adapters::DynamoFirmProfileStore::from_sdk(&sdk, "profiles"))).await;
}
