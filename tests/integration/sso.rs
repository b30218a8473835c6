//! Issue 4: the 碳星雲服務平台登入 button, the SSO hand-off and its attack suite.

use std::process::Command;

use ecosphere::domain::TaxId;
use ecosphere::services::sso::{SsoClaims, SsoKey, SsoService, AUDIENCE};
use reqwest::{header, StatusCode};

use super::portal::Sys;

/// Presses the button; returns the hand-off token from the auto-submitting form.
/// What the button answered when it did not hand over: status, headers, body.
type Refused = (StatusCode, reqwest::header::HeaderMap, String);

pub(super) async fn press(s: &Sys, cookie: &str) -> Result<String, Refused> {
    let csrf = s.csrf(cookie).await;
    let r = s.client.post(s.url("/sso/start")).header(header::COOKIE, cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let body = r.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap().to_string();
    let Some(i) = body.find("name=\"token\" value=\"").filter(|_| status == StatusCode::OK) else { return Err((status, headers, body)) };
    assert!(body.contains("action=\"/sso/callback\"") && body.contains("method=\"post\""));
    assert!(csp.contains("script-src 'nonce-"), "{csp}");
    Ok(body[i + 20..].split('"').next().unwrap().to_string())
}

pub(super) async fn callback(s: &Sys, token: &str) -> reqwest::Response {
    s.client.post(s.url("/sso/callback")).form(&[("token", token)]).send().await.unwrap()
}

fn claims(s: &Sys, sub: &str, tax: &str) -> SsoClaims {
    let now = s.clock_now();
    SsoClaims {
        iss: s.running.app.sso.issuer().to_string(),
        aud: AUDIENCE.into(),
        sub: sub.into(),
        tax_id: TaxId::parse(tax).unwrap(),
        name: "王小明".into(),
        email: "ming@vitamin.com.tw".into(),
        roles: vec!["member".into()],
        iat: now,
        nbf: now,
        exp: now + 60,
        jti: uuid_like(),
    }
}

fn uuid_like() -> String {
    ecosphere::domain::ApplicationId::new().to_string()
}

impl Sys {
    fn clock_now(&self) -> i64 {
        use ecosphere::ports::Clock;
        self.clock.now().timestamp()
    }
}

#[tokio::test]
async fn the_button_hands_over_to_the_carbon_platform_and_every_attack_fails() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let cookie = s.sign_in("ming@vitamin.com.tw").await;
    let home = s.client.get(s.url("/portal")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("碳星雲服務平台登入"));

    let token = press(&s, &cookie).await.unwrap();
    // An independent JWT library verifies it with the JWKS alone.
    let jwks = s.client.get(s.url("/.well-known/jwks.json")).send().await.unwrap().text().await.unwrap();
    let script = r#"
import json, sys, jwt
jwks, token, iss, aud = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
kid = jwt.get_unverified_header(token)["kid"]
key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
claims = jwt.decode(token, key=key, algorithms=["EdDSA"], audience=aud, issuer=iss,
                    options={"require": ["exp", "nbf", "iat", "jti", "sub"]})
print(json.dumps(claims))
"#;
    let out = Command::new(super::common::moto_python())
        .args(["-c", script, &jwks, &token, s.running.app.sso.issuer(), AUDIENCE])
        .output()
        .expect("python with PyJWT (installed by the test command)");
    assert!(out.status.success(), "PyJWT refused the token: {}", String::from_utf8_lossy(&out.stderr));
    let verified: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verified["tax_id"], "99754141");
    assert!(verified["roles"].as_array().unwrap().iter().any(|r| r == "admin"));
    assert!(verified["exp"].as_i64().unwrap() - verified["iat"].as_i64().unwrap() <= 60);

    // The callback opens a carbon-platform session.
    let r = callback(&s, &token).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/carbon");
    let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.starts_with("ecosphere_carbon=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"));
    let carbon_cookie = set.split(';').next().unwrap().to_string();
    let page = s.client.get(s.url("/carbon")).header(header::COOKIE, &carbon_cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("王小明"));
    assert_eq!(s.client.get(s.url("/carbon")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The attack suite: each refused with 401 and no session.
    let member_id = s.running.app.members.list(&TaxId::parse("99754141").unwrap()).await.unwrap()[0].id.to_string();
    let sso = &s.running.app.sso;
    let public_x = serde_json::from_str::<serde_json::Value>(&jwks).unwrap()["keys"][0]["x"].as_str().unwrap().to_string();
    let b64 = |v: &serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let good = claims(&s, &member_id, "99754141");
    let kid = serde_json::from_str::<serde_json::Value>(&jwks).unwrap()["keys"][0]["kid"].as_str().unwrap().to_string();
    let none_token = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid})), b64(&serde_json::to_value(&good).unwrap()));
    let hs256 = {
        use hmac::{Hmac, Mac};
        let head = b64(&serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}));
        let body = b64(&serde_json::to_value(&good).unwrap());
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(public_x.as_bytes()).unwrap();
        mac.update(format!("{head}.{body}").as_bytes());
        use base64::Engine;
        format!("{head}.{body}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    let mut wrong_aud = good.clone();
    wrong_aud.aud = "another-service".into();
    let mut wrong_iss = good.clone();
    wrong_iss.iss = "https://evil.example/portal".into();
    let mut expired = good.clone();
    expired.iat -= 120;
    expired.nbf -= 120;
    expired.exp -= 120;
    let mut future = good.clone();
    future.nbf += 30;
    let mut too_long = good.clone();
    too_long.exp += 3600;
    let foreign = SsoService::new(
        vec![SsoKey::generate().unwrap()],
        &s.running.app.config.public_url,
        s.running.app.applications.clone(),
        s.running.app.tokens.clone(),
        s.running.app.clock.clone(),
    );
    let attacks: Vec<(&str, String)> = vec![
        ("alg none", none_token),
        ("HS256 with the public key", hs256),
        ("wrong aud", sso.sign(&wrong_aud).unwrap()),
        ("wrong iss", sso.sign(&wrong_iss).unwrap()),
        ("expired", sso.sign(&expired).unwrap()),
        ("nbf in the future", sso.sign(&future).unwrap()),
        ("lifetime over 60 s", sso.sign(&too_long).unwrap()),
        ("unknown kid", foreign.sign(&good).unwrap()),
        ("reused jti", token.clone()),
        ("garbage", "not.a.jwt".into()),
        ("empty", String::new()),
    ];
    for (name, t) in &attacks {
        let r = callback(&s, t).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(r.headers().get(header::SET_COOKIE).is_none(), "{name}: no session");
    }
    // A correctly signed, fresh token for a real member is accepted (the suite is not vacuous)...
    assert_eq!(callback(&s, &sso.sign(&claims(&s, &member_id, "99754141")).unwrap()).await.status(), StatusCode::SEE_OTHER);
    // ...but not for a member who has been removed.
    let admin_csrf = s.csrf(&cookie).await;
    let add = [("csrf", admin_csrf.as_str()), ("name", "李"), ("email", "lee@vitamin.com.tw"), ("is_admin", "no"), ("carbon_login", "yes")];
    let lee: serde_json::Value = s.post(&cookie, "/members", &add).await.json().await.unwrap();
    let lee_id = lee["member"]["id"].as_str().unwrap().to_string();
    let lee_token = sso.sign(&claims(&s, &lee_id, "99754141")).unwrap();
    assert_eq!(s.post(&cookie, &format!("/members/{lee_id}/delete"), &[("csrf", &admin_csrf)]).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(callback(&s, &lee_token).await.status(), StatusCode::UNAUTHORIZED, "removed member");
    s.running.stop().await;
}

#[tokio::test]
async fn no_permission_pending_rejected_and_expired_trial_mint_no_token() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let admin = s.sign_in("ming@vitamin.com.tw").await;
    let csrf = s.csrf(&admin).await;
    let add = [("csrf", csrf.as_str()), ("name", "王"), ("email", "wang@vitamin.com.tw"), ("is_admin", "no"), ("carbon_login", "no")];
    assert_eq!(s.post(&admin, "/members", &add).await.status(), StatusCode::CREATED);
    let wang = s.sign_in("wang@vitamin.com.tw").await;
    let (status, _, body) = press(&s, &wang).await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("沒有碳星雲登入權限"));

    // A company still pending: the 審核中 notice, pointing at the status page.
    let form = super::common::valid_form("審核中公司", "22099131");
    let location = s.client.post(s.url("/apply")).form(&form).send().await.unwrap().headers()[header::LOCATION].to_str().unwrap().to_string();
    let now = chrono::Utc::now();
    let pending_member = ecosphere::domain::Member {
        id: ecosphere::domain::MemberId::new(),
        tax_id: TaxId::parse("22099131").unwrap(),
        profile: ecosphere::domain::MemberProfile {
            name: "陳".into(),
            email: ecosphere::domain::EmailAddress::parse("chen@pending.com.tw").unwrap(),
            phone: String::new(),
            title: String::new(),
            is_admin: true,
            carbon_login: true,
        },
        created_at: now,
        updated_at: now,
    };
    s.running.app.members.add(&pending_member, "eco-platform").await.unwrap();
    let chen = s.sign_in("chen@pending.com.tw").await;
    let (status, headers, body) = press(&s, &chen).await.unwrap_err();
    assert_eq!(status, StatusCode::OK);
    assert!(headers["refresh"].to_str().unwrap().ends_with(&location));
    assert!(body.contains("審核中") && !body.contains("name=\"token\""));

    // The trial ends six months after approval.
    s.clock.advance(chrono::Duration::days(185));
    let admin = s.sign_in("ming@vitamin.com.tw").await;
    let (status, _, body) = press(&s, &admin).await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("試用期已結束"));
    s.running.stop().await;
}

#[tokio::test]
async fn rotated_keys_keep_old_tokens_valid_until_they_expire() {
    let s = Sys::new().await;
    let app = &s.running.app;
    let (old, new) = (SsoKey::generate().unwrap(), SsoKey::generate().unwrap());
    let mk = |keys| SsoService::new(keys, &app.config.public_url, app.applications.clone(), app.tokens.clone(), app.clock.clone());
    let before = mk(vec![old.clone()]);
    let after = mk(vec![new.clone(), old.clone()]);
    assert_eq!(after.jwks()["keys"].as_array().unwrap().len(), 2);
    let c = claims(&s, &ecosphere::domain::MemberId::new().to_string(), "99754141");
    let mut c = c;
    c.iss = after.issuer().to_string();
    let old_token = before.sign(&c).unwrap();
    assert!(after.verify(&old_token).await.is_ok(), "old key still verifies after rotation");
    let mut c2 = c.clone();
    c2.jti = uuid_like();
    let new_token = after.sign(&c2).unwrap();
    assert!(before.verify(&new_token).await.is_err(), "a service without the new key refuses it");
    // Once the old key is retired, its tokens are refused.
    let retired = mk(vec![new]);
    let mut c3 = c.clone();
    c3.jti = uuid_like();
    assert!(retired.verify(&before.sign(&c3).unwrap()).await.is_err());
}

#[tokio::test]
async fn admins_are_reminded_once_fourteen_days_before_the_trial_ends() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let app = &s.running.app;
    let trial = |s: &Sys| super::portal::mails(s.dir.path()).into_iter().filter(|m| m.1.contains("試用期將於")).collect::<Vec<_>>();
    assert_eq!(app.notify.remind_trial_ending(app.applications.as_ref(), app.members.as_ref()).await.unwrap(), 0);
    s.clock.advance(chrono::Duration::days(170)); // about 13 days before the end of month 6
    assert_eq!(app.notify.remind_trial_ending(app.applications.as_ref(), app.members.as_ref()).await.unwrap(), 1);
    assert_eq!(app.notify.remind_trial_ending(app.applications.as_ref(), app.members.as_ref()).await.unwrap(), 0, "once");
    let mails = trial(&s);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "ming@vitamin.com.tw");
    assert!(mails[0].2.contains("維他命股份有限公司"));
    // The scheduled task runs it too (nothing left to send).
    let out = notify::handle_event(app, serde_json::json!({"task": "review_sla_reminder"})).await.unwrap();
    assert_eq!(out["trial_reminders"], 0);
    s.running.stop().await;
}

#[tokio::test]
async fn approval_sign_in_and_sso_work_with_the_dynamodb_adapters_on_the_emulator() {
    use super::common::*;
    let moto = Moto::start();
    set_aws_env();
    let sdk = sdk(&moto.url).await;
    create_resources(&sdk, "sso-flow", "sso-flow-bucket").await;
    let app = ecosphere::App::from_config(aws_config(&moto.url, "sso-flow", "sso-flow-bucket")).await.unwrap();
    app.apply.submit(&ecosphere::domain::RawForm(valid_form("己公司", "99754141"))).await.unwrap();
    let tax = TaxId::parse("99754141").unwrap();
    let pending = app.applications.list_for_company(&tax).await.unwrap().remove(0);
    let reviewer = app.config.reviewers[0].clone();
    let link = app.review.token(&pending, ecosphere::domain::ReviewAction::Approve, &reviewer, chrono::Duration::days(7));
    app.review.decide(&link, Some("approve"), None).await.unwrap();
    let members = app.members.list(&tax).await.unwrap();
    assert_eq!(members.len(), 1, "the applicant became the first member in DynamoDB");

    app.portal.request_login("ming@vitamin.com.tw").await.unwrap();
    let sent = moto_sent_emails(&moto.url).await;
    let mail = mail_parser::MessageParser::default().parse(sent.last().unwrap().1.as_bytes()).unwrap();
    let text = mail.body_text(0).unwrap().into_owned();
    let secret = text.split("/login/").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(app.portal.login_link_valid(&secret).await.unwrap());
    let (sid, who) = app.portal.sign_in(&secret).await.unwrap();
    assert!(app.portal.sign_in(&secret).await.is_err(), "single use in DynamoDB too");
    assert_eq!(app.portal.session(&sid).await.unwrap().unwrap().member.id, who.member.id);

    let token = app.sso.hand_off(&who.member).await.unwrap().unwrap();
    let claims = app.sso.verify(&token).await.unwrap();
    assert_eq!(claims.tax_id, tax);
    assert!(app.sso.verify(&token).await.is_err(), "jti single use in DynamoDB too");
    app.portal.sign_out(&sid).await.unwrap();
    assert!(app.portal.session(&sid).await.unwrap().is_none());
}

/// Issue 13: the carbon session follows the member (removed, or 碳星雲登入權限 turned
/// off → the next request is refused and the session is gone), and a cross-site post to
/// `/sso/callback` (login CSRF with a token minted for another account) signs no one in.
#[tokio::test]
async fn carbon_sessions_follow_the_member_and_cross_site_callbacks_are_refused() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let admin = s.sign_in("ming@vitamin.com.tw").await;
    let csrf = s.csrf(&admin).await;
    let add = [("csrf", csrf.as_str()), ("name", "李"), ("email", "lee@vitamin.com.tw"), ("is_admin", "no"), ("carbon_login", "yes")];
    let lee: serde_json::Value = s.post(&admin, "/members", &add).await.json().await.unwrap();
    let lee_id = lee["member"]["id"].as_str().unwrap().to_string();
    let lee_portal = s.sign_in("lee@vitamin.com.tw").await;
    let carbon_cookie = |r: &reqwest::Response| r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();

    // Login CSRF: the token is valid, but the browser says the post came from elsewhere.
    let token = press(&s, &lee_portal).await.unwrap();
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("referer", "https://evil.example/x")] {
        let r = s.client.post(s.url("/sso/callback")).header(name, value).form(&[("token", token.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(r.headers().get(header::SET_COOKIE).is_none(), "{name}: no session");
    }
    // The same token from this site still works (it was never consumed by the refusals).
    let own = s.url("");
    let r = s.client.post(s.url("/sso/callback")).header("origin", own.trim_end_matches('/')).header("sec-fetch-site", "same-origin").form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = carbon_cookie(&r);
    let carbon = |cookie: String| {
        let s = &s;
        async move { s.client.get(s.url("/carbon/export.json?year=2025")).header(header::COOKIE, cookie).send().await.unwrap().status() }
    };
    assert_eq!(carbon(session.clone()).await, StatusCode::OK);
    // A cross-site state-changing post inside the platform is refused too.
    let r = s.client.post(s.url("/carbon/activities/x")).header(header::COOKIE, &session).header("sec-fetch-site", "cross-site").form(&[("action", "exclude")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The admin turns off Lee's 碳星雲登入權限: the open session stops at once.
    let off = [("csrf", csrf.as_str()), ("name", "李"), ("email", "lee@vitamin.com.tw"), ("is_admin", "no"), ("carbon_login", "no")];
    assert!(s.post(&admin, &format!("/members/{lee_id}"), &off).await.status().is_success());
    assert_eq!(carbon(session.clone()).await, StatusCode::UNAUTHORIZED, "permission revoked");
    // Turned on again, the old session stays ended (it was deleted, not suspended).
    let on = [("csrf", csrf.as_str()), ("name", "李"), ("email", "lee@vitamin.com.tw"), ("is_admin", "no"), ("carbon_login", "yes")];
    assert!(s.post(&admin, &format!("/members/{lee_id}"), &on).await.status().is_success());
    assert_eq!(carbon(session.clone()).await, StatusCode::UNAUTHORIZED, "the revoked session does not come back");

    // A fresh session, then the member is removed: refused at once.
    let token = press(&s, &lee_portal).await.unwrap();
    let r = callback(&s, &token).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = carbon_cookie(&r);
    assert_eq!(carbon(session.clone()).await, StatusCode::OK);
    assert_eq!(s.post(&admin, &format!("/members/{lee_id}/delete"), &[("csrf", &csrf)]).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(carbon(session).await, StatusCode::UNAUTHORIZED, "member removed");
    s.running.stop().await;
}

/// Issue 13: a carbon logout exists, and logging out of the portal ends the carbon
/// session of the same browser.
#[tokio::test]
async fn logging_out_ends_the_carbon_session() {
    let s = Sys::new().await;
    s.approved_company("維他命股份有限公司", "99754141", "ming@vitamin.com.tw").await;
    let portal = s.sign_in("ming@vitamin.com.tw").await;
    let open = |portal: String| {
        let s = &s;
        async move {
            let token = press(s, &portal).await.unwrap();
            let r = callback(s, &token).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            r.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string()
        }
    };
    let status = |cookie: String| {
        let s = &s;
        async move { s.client.get(s.url("/carbon")).header(header::COOKIE, cookie).send().await.unwrap().status() }
    };
    // Carbon logout: needs the page's CSRF token; ends the carbon session only.
    let carbon = open(portal.clone()).await;
    let page = s.client.get(s.url("/carbon")).header(header::COOKIE, &carbon).send().await.unwrap().text().await.unwrap();
    let i = page.find("action=\"/carbon/logout\"").expect("a logout button on the dashboard");
    let j = page[i..].find("name=\"csrf\" value=\"").unwrap() + i + 19;
    let csrf = page[j..].split('"').next().unwrap().to_string();
    let r = s.client.post(s.url("/carbon/logout")).header(header::COOKIE, &carbon).form(&[("csrf", "wrong")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = s.client.post(s.url("/carbon/logout")).header(header::COOKIE, &carbon).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(status(carbon).await, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get(&portal, "/portal").await.status(), StatusCode::OK, "the portal session stays");

    // Portal logout with both cookies: both sessions end.
    let carbon = open(portal.clone()).await;
    assert_eq!(status(carbon.clone()).await, StatusCode::OK);
    let csrf = s.csrf(&portal).await;
    let both = format!("{portal}; {carbon}");
    let r = s.client.post(s.url("/logout")).header(header::COOKIE, &both).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(status(carbon).await, StatusCode::UNAUTHORIZED, "portal logout ends the carbon session");
    s.running.stop().await;
}
