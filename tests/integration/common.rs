//! Test support: the AWS emulator (moto server) started and stopped by the tests,
//! resource creation, and form fixtures.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

pub const REGION: &str = "ap-northeast-1";
pub const SENDER: &str = "service@ecosphere.example.com";
pub const CONFIGURATION_SET: &str = "ecosphere-test";
pub const TEST_REVIEW_SECRET: &str = "test-review-secret-0123456789abcdef0123";

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

/// The Python that has moto installed: `MOTO_PYTHON`, the test venv, or `python3`.
pub fn moto_python() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_PYTHON") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = PathBuf::from(home).join(".cache/ecosphere/venv/bin/python");
        if venv.exists() {
            return venv;
        }
    }
    PathBuf::from("python3")
}

impl Moto {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // One request at a time, like DynamoDB's atomic conditional writes: see tests/moto_serial.py.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/moto_serial.py");
        let cmd = moto_python();
        let child = Command::new(&cmd)
            .args([script, "127.0.0.1", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the AWS emulator `{}` ({e}); run the README's test command, which installs moto[server]", cmd.display())
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "moto server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Credentials and region for the emulator, for code that reads the environment
/// (`App::from_config`). nextest runs every test in its own process.
pub fn set_aws_env() {
    for (k, v) in [("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_REGION", REGION)] {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    std::env::remove_var("AWS_PROFILE");
}

pub async fn sdk(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(url)
        .load()
        .await
}

/// The table as `infra/template.yaml` defines it, the bucket, and a verified sender.
pub async fn create_resources(sdk: &aws_config::SdkConfig, table: &str, bucket: &str) {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let attr = |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    ddb.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![attr("pk"), attr("sk"), attr("gsi1pk"), attr("gsi1sk"), attr("gsi2pk"), attr("gsi2sk")]))
        .set_key_schema(Some(vec![key("pk", KeyType::Hash), key("sk", KeyType::Range)]))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .set_key_schema(Some(vec![key("gsi1pk", KeyType::Hash), key("gsi1sk", KeyType::Range)]))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi2")
                .set_key_schema(Some(vec![key("gsi2pk", KeyType::Hash), key("gsi2sk", KeyType::Range)]))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewAndOldImages).build().unwrap(),
        )
        .send()
        .await
        .expect("create table");
    ddb.update_time_to_live()
        .table_name(table)
        .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build().unwrap())
        .send()
        .await
        .expect("ttl");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    let ses = aws_sdk_sesv2::Client::new(sdk);
    ses.create_email_identity().email_identity(SENDER).send().await.expect("verify sender");
    ses.create_configuration_set().configuration_set_name(CONFIGURATION_SET).send().await.expect("configuration set");
}

/// Every stream record of the table so far as the event Lambda would get (keys, old
/// and new images, sequence numbers).
pub async fn stream_event(sdk: &aws_config::SdkConfig, table: &str) -> ecosphere::stream::StreamEvent {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let arn = ddb.describe_table().table_name(table).send().await.unwrap().table.unwrap().latest_stream_arn.expect("stream enabled");
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let desc = streams.describe_stream().stream_arn(&arn).send().await.unwrap().stream_description.unwrap();
    let convert = |img: Option<&std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| -> serde_dynamo::Item {
        match img {
            Some(i) => {
                let json: serde_json::Value = serde_dynamo::from_item(i.clone()).unwrap();
                serde_dynamo::to_item(json).unwrap()
            }
            None => serde_dynamo::Item::from(std::collections::HashMap::<String, serde_dynamo::AttributeValue>::new()),
        }
    };
    let mut event = ecosphere::stream::StreamEvent::default();
    for shard in desc.shards() {
        let mut it = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(i) = it.take() {
            let page = streams.get_records().shard_iterator(i).send().await.unwrap();
            if page.records().is_empty() {
                break;
            }
            for r in page.records() {
                let d = r.dynamodb().unwrap();
                let mut change = aws_lambda_events::event::dynamodb::StreamRecord::default();
                change.keys = convert(d.keys.as_ref());
                change.new_image = convert(d.new_image.as_ref());
                change.old_image = convert(d.old_image.as_ref());
                change.sequence_number = d.sequence_number.clone();
                let mut rec = ecosphere::stream::StreamEventRecord::default();
                rec.event_name = r.event_name().unwrap().as_str().to_string();
                rec.event_id = r.event_id().unwrap_or_default().to_string();
                rec.event_source = Some("aws:dynamodb".into());
                rec.change = change;
                event.records.push(rec);
            }
            it = page.next_shard_iterator;
        }
    }
    event
}

/// Every stream record of the table so far: event name and new image.
pub async fn stream_records(sdk: &aws_config::SdkConfig, table: &str) -> Vec<(String, serde_dynamo::Item)> {
    stream_event(sdk, table).await.records.into_iter().map(|r| (r.event_name, r.change.new_image)).collect()
}

/// The raw messages SESv2 "sent", from the emulator's inspection endpoint.
pub async fn moto_sent_emails(url: &str) -> Vec<(Vec<String>, String)> {
    let data: serde_json::Value = reqwest::get(format!("{url}/moto-api/data.json")).await.unwrap().json().await.unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let to = m["destinations"].as_array().into_iter().flatten().filter_map(|d| d.as_str().map(String::from)).collect();
            (to, m["raw_data"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

pub fn valid_form(company: &str, tax_id: &str) -> Vec<(String, String)> {
    [
        ("company_name", company),
        ("tax_id", tax_id),
        ("products", "保健食品製造"),
        ("applicant_name", "王小明"),
        ("applicant_department", "永續發展部"),
        ("applicant_title", "經理"),
        ("contact_email", "ming@vitamin.com.tw"),
        ("contact_phone", "02-2345-6789"),
        ("regions", "north"),
        ("inventory_status", "in_progress"),
        ("interests", "ghg_inventory"),
        ("interests", "subsidy"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn local_config(dir: &std::path::Path) -> ecosphere::Config {
    let dir = dir.to_string_lossy().to_string();
    ecosphere::Config::from_lookup(|k| match k {
        "APP_DATA_DIR" => Some(dir.clone()),
        "APP_ADDR" => Some("127.0.0.1:0".into()),
        "APP_REVIEWERS" => Some("reviewer@ecosphere.example.com".into()),
        _ => None,
    })
    .unwrap()
}

pub fn aws_config(url: &str, table: &str, bucket: &str) -> ecosphere::Config {
    let (url, table, bucket) = (url.to_string(), table.to_string(), bucket.to_string());
    ecosphere::Config::from_lookup(|k| match k {
        "APP_BACKEND" => Some("aws".into()),
        "APP_TABLE_NAME" => Some(table.clone()),
        "APP_BUCKET" => Some(bucket.clone()),
        "AWS_ENDPOINT_URL" => Some(url.clone()),
        "APP_ADDR" => Some("127.0.0.1:0".into()),
        "APP_SENDER" => Some(SENDER.into()),
        "APP_SES_CONFIGURATION_SET" => Some(CONFIGURATION_SET.into()),
        "APP_REVIEW_SECRET" => Some(TEST_REVIEW_SECRET.into()),
        "APP_SSO_KEYS" => Some("test-k1:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60".into()),
        "APP_REVIEWERS" => Some("reviewer@ecosphere.example.com".into()),
        "APP_PUBLIC_URL" => Some("https://carbon.example.com".into()),
        _ => None,
    })
    .unwrap()
}

/// A small seeded generator (xorshift) for the randomised suites: the seed replays a run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
