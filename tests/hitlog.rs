//! The hit log on the command line: `watchfloor hits` with every filter and format,
//! `triage`, and `export-labels` feeding `eval`, on a real SQLite file whose hits come from
//! the real pipeline.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use watchfloor::config::Feed;

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";
const SOHAE: &str = "North Korea prepares a new satellite launch at Sohae, imagery shows";
const WORKERS: &str = "North Korean workers sent to Russian construction sites in Primorye";
const OIL: &str = "Russia delivers oil products to North Korea by rail, exceeding UN cap";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// A database with hits from two feeds over three days.
fn database(dir: &Path) -> PathBuf {
    let settings = support::app::settings(dir, &[]);
    let db = settings.database.clone();
    let mut wire = Feed::new("wire", "http://127.0.0.1/wire.xml");
    wire.title = Some("Wire".into());
    let agency = Feed::new("agency", "http://127.0.0.1/agency.xml");
    let app = support::app::build_app(settings, support::app::shipped_rules(), vec![wire, agency]);
    let polls: [(&str, &str, &str, &str, &str); 5] = [
        (
            "wire",
            "a1",
            SATELLITE,
            "https://news.test/1",
            "2026-11-28T09:00:00Z",
        ),
        (
            "agency",
            "b1",
            WORKERS,
            "https://agency.test/2",
            "2026-11-29T09:00:00Z",
        ),
        (
            "wire",
            "a3",
            "North Korea launches satellite \"><img src=x onerror=alert(1)> \u{202e}txt",
            "https://news.test/3",
            "2026-11-29T12:00:00Z",
        ),
        (
            "agency",
            "b4",
            OIL,
            "https://agency.test/4",
            "2026-11-30T09:00:00Z",
        ),
        (
            "wire",
            "a5",
            SOHAE,
            "https://news.test/5",
            "2026-11-30T10:00:00Z",
        ),
    ];
    for (feed, guid, title, link, time) in polls {
        let title = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let body = format!(
            "<rss version=\"2.0\"><channel><title>{feed}</title><item><guid>{guid}</guid>\
             <title>{title}</title><link>{link}</link><description>{title}. Launch site \
             officials spoke.</description></item></channel></rss>"
        );
        let success = support::app::ingest_rss(&app, feed, body, at(time));
        assert_eq!(success.counts.new_hits, 1, "{title}");
    }
    db
}

fn watchfloor(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchfloor"))
        .arg("--indicators")
        .arg(root().join("indicators.yaml"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG")
        .env("COLUMNS", "100")
        .output()
        .expect("runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn jsonl(db: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["hits", "--format", "jsonl"];
    all.extend_from_slice(args);
    stdout(&watchfloor(db, &all))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn ids(hits: &[serde_json::Value]) -> Vec<i64> {
    hits.iter()
        .map(|h| h["hit_id"].as_i64().expect("id"))
        .collect()
}

#[test]
fn hits_are_listed_newest_first_and_every_filter_narrows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path());
    assert_eq!(ids(&jsonl(&db, &[])), [5, 4, 3, 2, 1]);
    assert_eq!(
        ids(&jsonl(&db, &["--indicator", "satellite_launch"])),
        [5, 3, 1]
    );
    assert_eq!(ids(&jsonl(&db, &["--feed", "agency"])), [4, 2]);
    assert_eq!(ids(&jsonl(&db, &["--since", "2026-11-29"])), [5, 4, 3, 2]);
    assert_eq!(
        ids(&jsonl(&db, &["--until", "2026-11-29"])),
        [3, 2, 1],
        "the whole day"
    );
    assert_eq!(
        ids(&jsonl(
            &db,
            &[
                "--since",
                "2026-11-29T10:00:00Z",
                "--until",
                "2026-11-30T09:30:00Z"
            ]
        )),
        [4, 3]
    );
    assert_eq!(ids(&jsonl(&db, &["--search", "Sohae imagery"])), [5]);
    assert_eq!(ids(&jsonl(&db, &["--search", "primorye"])), [2], "any case");
    assert_eq!(
        ids(&jsonl(&db, &["--search", "launche* NOT Sohae"])),
        [3, 1],
        "the rule language: prefixes and NOT"
    );
    // A search is a query of the rule language now: a broken one is refused with its place,
    // rather than searched as text (README, "Search syntax").
    let broken = watchfloor(&db, &["hits", "--search", "\"NOT OR*"]);
    assert_eq!(broken.status.code(), Some(2));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("--search: unterminated phrase"), "{err}");
    assert_eq!(ids(&jsonl(&db, &["--limit", "2"])), [5, 4]);

    let table = stdout(&watchfloor(&db, &["hits"]));
    assert!(table.contains("5 of 5 matching hits"), "{table}");
    assert!(
        table.lines().all(|l| l.chars().count() <= 100),
        "fits the width:\n{table}"
    );

    let bad = watchfloor(&db, &["hits", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_unknown_indicator_or_feed_is_a_usage_error_naming_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path());
    for (flag, wrong, known) in [
        ("--indicator", "satelite_launch", "satellite_launch"),
        ("--feed", "wires", "agency, wire"),
    ] {
        let output = watchfloor(&db, &["hits", flag, wrong]);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {wrong}: {err}");
        assert!(err.contains(&format!("'{wrong}'")), "{err}");
        assert!(err.contains(known), "{err}");
        assert!(output.stdout.is_empty(), "nothing listed");
    }
    // An indicator of the rules without a hit yet is a filter that finds nothing, not an error.
    let quiet = watchfloor(&db, &["hits", "--indicator", "energy_food_flows"]);
    assert_eq!(quiet.status.code(), Some(0));
}

#[test]
fn csv_and_jsonl_carry_every_field_and_csv_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path());
    let lines = jsonl(&db, &["--indicator", "satellite_launch"]);
    let first = &lines[2];
    for field in [
        "hit_id",
        "created_at",
        "indicator",
        "score",
        "title",
        "link",
        "feed",
        "sources",
        "published",
        "first_seen",
        "alert_status",
        "triage",
        "definition_hash",
        "origin",
        "retracted",
        "evidence",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert_eq!(
        first["alert_status"], "pending",
        "alerts queued for the default recipients"
    );
    // Shapes for tools: evidence an object, sources an array, absent things null.
    assert!(
        first["evidence"]["terms"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "{first}"
    );
    assert!(
        first["sources"].as_array().is_some_and(|s| !s.is_empty()),
        "{first}"
    );
    assert!(
        first["triage"].is_null() && first["retracted"].is_null(),
        "{first}"
    );

    let csv_text = stdout(&watchfloor(&db, &["hits", "--format", "csv"]));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a record")).collect();
    assert_eq!(records.len(), 5);
    let title = headers
        .iter()
        .position(|h| h == "title")
        .expect("title column");
    let hostile = records
        .iter()
        .find(|r| r[title].contains('\u{202e}'))
        .expect("the hostile title, as the parse stage left it (tags stripped)");
    assert!(
        hostile[title].contains("\">"),
        "quotes kept: {}",
        &hostile[title]
    );
    // Round trip: the flat CSV says what the nested JSON lines say.
    let all = jsonl(&db, &[]);
    let flat = |line: &serde_json::Value, column: &str| -> String {
        let (value, joined) = match column {
            "triage" => (&line["triage"]["verdict"], None),
            "triage_note" => (&line["triage"]["note"], None),
            "retracted_at" => (&line["retracted"]["at"], None),
            "retracted_by" => (&line["retracted"]["by"], None),
            "sources" => (&line["sources"], Some(" ")),
            other => (&line[other], None),
        };
        match (value, joined) {
            (serde_json::Value::Null, _) => String::new(),
            (serde_json::Value::String(text), _) => text.clone(),
            (serde_json::Value::Array(items), Some(separator)) => items
                .iter()
                .map(|i| i.as_str().expect("a source"))
                .collect::<Vec<_>>()
                .join(separator),
            (other, _) => other.to_string(),
        }
    };
    for (record, line) in records.iter().zip(&all) {
        for (name, value) in headers.iter().zip(record.iter()) {
            if name == "evidence" {
                let stored: serde_json::Value = serde_json::from_str(value).expect("JSON");
                assert_eq!(stored, line["evidence"]);
                continue;
            }
            assert_eq!(value, flat(line, name), "{name}");
        }
    }
}

#[test]
fn triage_verdicts_filter_the_log_and_become_labels_for_eval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = database(dir.path());
    stdout(&watchfloor(
        &db,
        &[
            "triage",
            "1",
            "--verdict",
            "relevant",
            "--note",
            "confirmed by KCNA",
        ],
    ));
    stdout(&watchfloor(
        &db,
        &["triage", "3", "--verdict", "false-positive"],
    ));
    stdout(&watchfloor(&db, &["triage", "2", "--verdict", "relevant"]));
    let missing = watchfloor(&db, &["triage", "99", "--verdict", "relevant"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("hit 99"));

    assert_eq!(ids(&jsonl(&db, &["--triage", "relevant"])), [2, 1]);
    assert_eq!(ids(&jsonl(&db, &["--triage", "false-positive"])), [3]);
    assert_eq!(ids(&jsonl(&db, &["--triage", "untriaged"])), [5, 4]);
    assert_eq!(
        jsonl(&db, &["--triage", "relevant"])[1]["triage"]["note"],
        "confirmed by KCNA"
    );

    let labels = dir.path().join("labels.jsonl");
    let exported = stdout(&watchfloor(
        &db,
        &["export-labels", labels.to_str().expect("path")],
    ));
    assert!(exported.contains("3 triaged items"), "{exported}");
    let text = std::fs::read_to_string(&labels).expect("labels");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["labels"], serde_json::json!(["satellite_launch"]));
    assert_eq!(
        lines[2]["labels"],
        serde_json::json!([]),
        "a false positive is a negative"
    );
    let eval = watchfloor(&db, &["eval", labels.to_str().expect("path")]);
    let out = String::from_utf8_lossy(&eval.stdout);
    assert_eq!(
        eval.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(out.contains("satellite_launch"), "{out}");
}
