//! The reviewer's desk: verdicts with their history, duplicates and folded repeats, the
//! untriaged queue, the hit list's rows and the chart, on the real daemon (its listener on
//! 127.0.0.1, its dispatcher folding stories) over a real SQLite file, through the real
//! binary's `triage` and `export-labels`, and in Debian's headless Chromium driven over the
//! DevTools protocol.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use support::app::{Spawned, ingest_rss, spawn_app};
use watchfloor::store::{HitFilter, HitRow, Store};

const SATELLITE: &str = "North Korea launches reconnaissance satellite with Russian help";
/// The same story from another outlet a day later: story folding joins it to the first.
const SATELLITE_AGAIN: &str =
    "North Korea launches reconnaissance satellite with Russian help, officials say";
const SOHAE: &str = "North Korea prepares a new satellite launch at Sohae, imagery shows";
const WORKERS: &str = "North Korean workers sent to Russian construction sites in Primorye";
const OIL: &str = "Russia delivers oil products to North Korea by rail, exceeding UN cap";

/// The daemon on a database of five hits over four days, one folded into another.
struct Desk {
    dir: tempfile::TempDir,
    db: PathBuf,
    daemon: Spawned,
    base: String,
}

fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(days)
}

fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut body = String::from("<rss version=\"2.0\"><channel><title>Wire</title>");
    for (guid, title, link) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
             <description>{title}. Officials confirmed the report on Tuesday; a long link \
             https://example.test/a-very-long-path-without-any-break-in-it-whatsoever-for-wrapping \
             follows.</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    body
}

impl Desk {
    fn start() -> Desk {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = [
            ("WATCHFLOOR_MAIL_TO", "desk@watch.example.org".to_owned()),
            (
                "WATCHFLOOR_MAIL_FROM",
                "watchfloor@watch.example.org".to_owned(),
            ),
            (
                "WATCHFLOOR_MAIL_DIR",
                dir.path().join("mail").display().to_string(),
            ),
            // Nothing polls the feeds' addresses during the test.
            ("WATCHFLOOR_SCHEDULE", "0 0 1 1 *".to_owned()),
        ];
        let settings = support::app::settings(dir.path(), &env);
        let db = settings.database.clone();
        let daemon = spawn_app(
            settings,
            support::app::shipped_rules(),
            support::app::feeds(&["wire", "agency"]),
        );
        let app = daemon.app.clone();
        ingest_rss(
            &app,
            "wire",
            rss(&[("w1", SATELLITE, "https://news.test/sat")]),
            days_ago(4),
        );
        ingest_rss(
            &app,
            "agency",
            rss(&[("a1", SOHAE, "https://agency.test/sohae")]),
            days_ago(3),
        );
        ingest_rss(
            &app,
            "agency",
            rss(&[("a2", SATELLITE_AGAIN, "https://agency.test/sat-again")]),
            days_ago(3) + chrono::Duration::hours(2),
        );
        ingest_rss(
            &app,
            "wire",
            rss(&[("w2", WORKERS, "https://news.test/workers")]),
            days_ago(2),
        );
        ingest_rss(
            &app,
            "agency",
            rss(&[("a3", OIL, "https://agency.test/oil")]),
            days_ago(1),
        );
        let base = format!("http://{}", daemon.addr);
        let desk = Desk {
            dir,
            db,
            daemon,
            base,
        };
        // The dispatcher folds the later report after the poll: wait for it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while desk.hit(SATELLITE_AGAIN).folded_into.is_none() {
            assert!(
                Instant::now() < deadline,
                "the later report was never folded into the first"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        desk
    }

    fn hits(&self) -> Vec<HitRow> {
        Store::open_read_only(&self.db)
            .expect("read")
            .hits_page(&HitFilter::default())
            .expect("hits")
            .0
    }

    fn hit(&self, title: &str) -> HitRow {
        self.hits()
            .into_iter()
            .find(|h| h.title == title)
            .unwrap_or_else(|| panic!("no hit titled {title:?}"))
    }

    fn id(&self, title: &str) -> i64 {
        self.hit(title).hit_id
    }

    fn history(&self, hit: i64) -> Vec<watchfloor::store::VerdictEntry> {
        Store::open_read_only(&self.db)
            .expect("read")
            .verdict_history(hit)
            .expect("history")
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .arg("--indicators")
            .arg(support::cli::root().join("indicators.yaml"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("runs")
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Runs a request to completion from the test's own thread (the daemon runs on its
/// runtime's workers).
fn block<F: std::future::Future>(request: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(request)
}

/// Status, `Location` and body of an answer.
fn answer(request: reqwest::RequestBuilder) -> (u16, String, String) {
    block(async {
        let answer = request.send().await.expect("answer");
        let status = answer.status().as_u16();
        let location = answer
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, answer.text().await.unwrap_or_default())
    })
}

/// A verdict form as a browser on the hit log's own page posts it.
fn post(base: &str, hit: i64, pairs: &[(&str, &str)]) -> (u16, String, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    answer(
        client()
            .post(format!("{base}/hits/{hit}/triage"))
            .header("origin", base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
}

fn get(url: &str) -> (u16, String, String) {
    answer(client().get(url))
}

fn page(url: &str) -> String {
    let (status, _, body) = get(url);
    assert_eq!(status, 200, "{url}: {body}");
    body
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The daemon on the runtime's workers; the test goes on on its own thread.
fn started(rt: &tokio::runtime::Runtime) -> Desk {
    let _inside = rt.enter();
    Desk::start()
}

#[test]
fn verdicts_keep_their_history_and_decide_the_labels_and_the_queue_on_the_command_line() {
    let rt = runtime();
    let desk = started(&rt);
    let sat = desk.id(SATELLITE);
    let again = desk.id(SATELLITE_AGAIN);
    let sohae = desk.id(SOHAE);
    let workers = desk.id(WORKERS);
    let oil = desk.id(OIL);
    {
        // Oldest first; the folded repeat is not in the queue.
        let next = desk.cli(&["triage", "--next"]);
        assert_eq!(next.status.code(), Some(0), "{}", text(&next));
        let shown = text(&next);
        assert!(
            shown.starts_with(&format!("hit {sat}  (4 untriaged")),
            "{shown}"
        );
        assert!(shown.contains("North Korean satellite launch") && shown.contains("high"));
        assert!(
            shown.contains("[satellite]") || shown.contains("[launches]"),
            "{shown}"
        );

        let relevant = desk.cli(&[
            "triage",
            &sat.to_string(),
            "--verdict",
            "relevant",
            "--note",
            "first look",
        ]);
        assert_eq!(relevant.status.code(), Some(0), "{}", text(&relevant));
        assert!(text(&relevant).contains("3 untriaged hits wait"));
        let next = desk.cli(&["triage", "--next"]);
        assert!(
            text(&next).starts_with(&format!("hit {sohae}  (3 untriaged")),
            "{}",
            text(&next)
        );

        // A second verdict is added to the history, never written over the first.
        let changed = desk.cli(&[
            "triage",
            &sat.to_string(),
            "--verdict",
            "false-positive",
            "--note",
            "a rehearsal",
        ]);
        assert_eq!(changed.status.code(), Some(0), "{}", text(&changed));
        let history = desk.history(sat);
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].verdict, watchfloor::store::Verdict::Relevant);
        assert_eq!(history[0].note, "first look");
        assert_eq!(
            history[1].verdict,
            watchfloor::store::Verdict::FalsePositive
        );
        assert!(history.iter().all(|v| v.by == "local"));
        assert_eq!(
            desk.hit(SATELLITE).triage.expect("current").verdict,
            watchfloor::store::Verdict::FalsePositive
        );

        // Every bad duplicate is a usage error naming the problem, and records nothing.
        let sohae_arg = sohae.to_string();
        for (args, says) in [
            (vec!["--verdict", "duplicate"], "needs --of"),
            (
                vec!["--verdict", "duplicate", "--of", "999999"],
                "no such hit",
            ),
            (
                vec!["--verdict", "duplicate", "--of", sohae_arg.as_str()],
                "itself",
            ),
            (
                vec!["--verdict", "duplicate", "--of", "abc"],
                "invalid value",
            ),
            (vec!["--verdict", "duplicate", "--of", "-5"], ""),
            (
                vec!["--verdict", "duplicate", "--of", "99999999999999999999"],
                "invalid value",
            ),
            (
                vec!["--verdict", "relevant", "--of", "1"],
                "--of names the original",
            ),
        ] {
            let mut all = vec!["triage", sohae_arg.as_str()];
            all.extend(args.iter().copied());
            let refused = desk.cli(&all);
            assert_eq!(
                refused.status.code(),
                Some(2),
                "{all:?}: {}",
                text(&refused)
            );
            assert!(text(&refused).contains(says), "{all:?}: {}", text(&refused));
        }
        let long_note = "n".repeat(2001);
        let refused = desk.cli(&[
            "triage",
            &sohae_arg,
            "--verdict",
            "relevant",
            "--note",
            &long_note,
        ]);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
        assert!(text(&refused).contains("at most 2000"));
        let unknown = desk.cli(&["triage", "424242", "--verdict", "relevant"]);
        assert_eq!(unknown.status.code(), Some(2));
        assert!(desk.history(sohae).is_empty(), "nothing was recorded");

        let duplicate = desk.cli(&[
            "triage",
            &sohae_arg,
            "--verdict",
            "duplicate",
            "--of",
            &sat.to_string(),
        ]);
        assert_eq!(duplicate.status.code(), Some(0), "{}", text(&duplicate));
        // A folded repeat judged false is the first report's false positive, not a new one.
        let folded = desk.cli(&["triage", &again.to_string(), "--verdict", "false-positive"]);
        assert_eq!(folded.status.code(), Some(0), "{}", text(&folded));
        let relevant = desk.cli(&["triage", &workers.to_string(), "--verdict", "relevant"]);
        assert_eq!(relevant.status.code(), Some(0));

        // The table names what a repeat repeats.
        let table = text(&desk.cli(&["hits", "--indicator", "satellite_launch"]));
        assert!(table.contains(&format!("duplicate of {sat}")), "{table}");
        assert!(table.contains("false_positive"), "{table}");
        let repeats = text(&desk.cli(&["hits", "--triage", "duplicate", "--format", "jsonl"]));
        assert_eq!(repeats.lines().count(), 1, "{repeats}");

        // The exports carry the current verdict, who gave it and what it duplicates.
        let jsonl = text(&desk.cli(&["hits", "--format", "jsonl"]));
        let lines: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        let line = |id: i64| {
            lines
                .iter()
                .find(|l| l["hit_id"] == id)
                .expect("listed")
                .clone()
        };
        assert_eq!(line(sohae)["triage"]["verdict"], "duplicate");
        assert_eq!(line(sohae)["triage"]["duplicate_of"], sat);
        assert_eq!(line(sohae)["triage"]["by"], "local");
        assert_eq!(line(sat)["triage"]["verdict"], "false_positive");
        assert_eq!(line(sat)["triage"]["duplicate_of"], Value::Null);
        assert_eq!(line(again)["folded_into"], sat);
        let csv = text(&desk.cli(&["hits", "--format", "csv"]));
        let header = csv.lines().next().expect("header");
        assert!(
            header.contains("triage,triage_note,triage_by,duplicate_of,folded_into"),
            "{header}"
        );
        assert!(csv.contains(&format!("duplicate,,local,{sat},")), "{csv}");

        // Labels: the false positive stays as a negative; the duplicate and the folded
        // repeat judged false stay out, since their items would read as negatives.
        let labels = desk.dir.path().join("labels.jsonl");
        let export = desk.cli(&["export-labels", labels.to_str().unwrap()]);
        assert_eq!(export.status.code(), Some(0), "{}", text(&export));
        assert!(
            text(&export).contains("2 left out as duplicates or folded repeats"),
            "{}",
            text(&export)
        );
        let written = std::fs::read_to_string(&labels).unwrap();
        let titles: Vec<String> = written
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["title"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(titles.len(), 2, "{written}");
        assert!(titles.contains(&SATELLITE.to_owned()) && titles.contains(&WORKERS.to_owned()));
        assert!(!written.contains("Sohae") && !written.contains("officials say"));

        let last = desk.cli(&["triage", &oil.to_string(), "--verdict", "relevant"]);
        assert!(
            text(&last).contains("0 untriaged hits wait"),
            "{}",
            text(&last)
        );
        let empty = desk.cli(&["triage", "--next"]);
        assert_eq!(
            empty.status.code(),
            Some(1),
            "an empty queue is exit 1 for scripts"
        );
        assert!(text(&empty).contains("the queue is empty"));
    }
    rt.block_on(desk.daemon.stop());
}

#[test]
fn the_queue_opens_the_oldest_untriaged_hit_and_the_next_one_after_each_verdict() {
    let rt = runtime();
    let desk = started(&rt);
    let sat = desk.id(SATELLITE);
    let sohae = desk.id(SOHAE);
    let workers = desk.id(WORKERS);
    let oil = desk.id(OIL);
    let base = desk.base.clone();
    {
        let (status, location, _) = get(&format!("{base}/queue"));
        assert_eq!(status, 303);
        assert_eq!(location, format!("/hits/{sat}?queue=1"));
        let first = page(&format!("{base}{location}"));
        assert!(
            first.contains("Queue: 4 untriaged hits wait, oldest first."),
            "{first}"
        );
        assert!(first.contains("<input type=\"hidden\" name=\"queue\" value=\"1\">"));
        assert!(
            first.contains(&format!(
                "id=\"next-hit\" rel=\"next\" href=\"/hits/{sohae}?queue=1\""
            )),
            "{first}"
        );

        // A post from another site is refused and records nothing.
        let body = "verdict=relevant&queue=1";
        for origin in ["https://evil.example", "null"] {
            let (status, _, _) = answer(
                client()
                    .post(format!("{base}/hits/{sat}/triage"))
                    .header("origin", origin)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            );
            assert_eq!(status, 403, "{origin}");
        }
        let (status, _, _) = answer(
            client()
                .post(format!("{base}/hits/{sat}/triage"))
                .header("sec-fetch-site", "cross-site")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        );
        assert_eq!(status, 403);
        assert!(desk.history(sat).is_empty());

        // A verdict in queue mode goes to the queue, which opens the next hit.
        let (status, location, _) = post(&base, sat, &[("verdict", "relevant"), ("queue", "1")]);
        assert_eq!((status, location.as_str()), (303, "/queue"));
        let (_, location, _) = get(&format!("{base}/queue"));
        assert_eq!(location, format!("/hits/{sohae}?queue=1"));

        // Bad originals: a clear 4xx each, nothing recorded.
        let own = sohae.to_string();
        for (of, status, says) in [
            ("", 400, "needs the id"),
            ("abc", 400, "not a hit id"),
            ("-1", 400, "not a hit id"),
            ("0", 400, "not a hit id"),
            ("99999999999999999999999", 400, "not a hit id"),
            ("1e3", 400, "not a hit id"),
            ("424242", 422, "there is no hit 424242"),
            (own.as_str(), 422, "cannot be a duplicate of itself"),
        ] {
            let (got, _, body) = post(&base, sohae, &[("verdict", "duplicate"), ("of", of)]);
            assert_eq!(got, status, "of={of:?}: {body}");
            assert!(body.contains(says), "of={of:?}: {body}");
        }
        let (got, _, _) = post(&base, sohae, &[("verdict", "maybe")]);
        assert_eq!(got, 400);
        let (got, _, _) = post(&base, 424242, &[("verdict", "relevant")]);
        assert_eq!(got, 404);
        assert!(desk.history(sohae).is_empty());

        // A duplicate, named with a leading '#' as people write hit numbers.
        let (status, location, _) = post(
            &base,
            sohae,
            &[
                ("verdict", "duplicate"),
                ("of", &format!("#{sat}")),
                ("queue", "1"),
            ],
        );
        assert_eq!((status, location.as_str()), (303, "/queue"));
        let (_, location, _) = get(&format!("{base}/queue"));
        assert_eq!(location, format!("/hits/{workers}?queue=1"));
        let sohae_page = page(&format!("{base}/hits/{sohae}"));
        assert!(
            sohae_page.contains(&format!(
                "This hit is a duplicate of <a href=\"/hits/{sat}\">hit {sat}</a>"
            )),
            "{sohae_page}"
        );

        // A huge note is cut, not refused; the same post repeated adds to the history each
        // time and changes nothing else.
        let huge = "x".repeat(200_000);
        let (status, _, _) = post(
            &base,
            workers,
            &[("verdict", "false_positive"), ("note", &huge)],
        );
        assert_eq!(status, 303);
        assert_eq!(desk.history(workers)[0].note.chars().count(), 2000);
        for _ in 0..20 {
            let (status, _, _) = post(
                &base,
                workers,
                &[("verdict", "relevant"), ("note", "again")],
            );
            assert_eq!(status, 303);
        }
        let history = desk.history(workers);
        assert_eq!(history.len(), 21);
        let workers_page = page(&format!("{base}/hits/{workers}"));
        assert_eq!(
            workers_page
                .matches("<li><span class=\"verdict verdict-")
                .count(),
            21
        );
        assert!(
            workers_page.contains("Current: <strong class=\"verdict\">relevant</strong>, by local")
        );

        // From a list's row, the answer is that list, its filters and page kept, and nothing
        // but the list's own fields.
        let (status, location, _) = post(
            &base,
            oil,
            &[
                ("verdict", "relevant"),
                (
                    "return",
                    "indicator=energy_food_flows&offset=50&next=https://evil.example&q=oil",
                ),
            ],
        );
        assert_eq!(status, 303);
        assert_eq!(
            location,
            format!("/hits?indicator=energy_food_flows&q=oil&offset=50#hit-{oil}")
        );
        let (status, location, _) = post(
            &base,
            oil,
            &[("verdict", "relevant"), ("return", "//evil.example/x")],
        );
        assert_eq!(status, 303);
        assert!(location.starts_with("/hits"), "{location}");

        let (status, _, body) = get(&format!("{base}/queue"));
        assert_eq!(status, 200, "the queue is empty: a page, not a redirect");
        assert!(body.contains("The queue is empty"));
    }
    rt.block_on(desk.daemon.stop());
}

#[test]
fn the_list_shows_titles_severity_language_snippets_and_verdicts_and_hides_repeats() {
    let rt = runtime();
    let desk = started(&rt);
    let sat = desk.id(SATELLITE);
    let again = desk.id(SATELLITE_AGAIN);
    let sohae = desk.id(SOHAE);
    let workers = desk.id(WORKERS);
    let base = desk.base.clone();
    {
        let (status, _, _) = post(&base, workers, &[("verdict", "false_positive")]);
        assert_eq!(status, 303);
        let (status, _, _) = post(
            &base,
            sohae,
            &[("verdict", "duplicate"), ("of", &sat.to_string())],
        );
        assert_eq!(status, 303);

        let list = page(&format!("{base}/hits"));
        assert!(
            list.contains("<bdi>North Korean satellite launch</bdi>"),
            "the indicator's title"
        );
        assert!(list.contains("title=\"satellite_launch\""), "its id beside");
        assert!(list.contains("<span class=\"sev sev-high\">high</span>"));
        assert!(list.contains("<span class=\"sev sev-medium\">medium</span>"));
        assert!(
            list.contains("<td data-label=\"Language\" class=\"lang\">en</td>"),
            "{list}"
        );
        assert!(
            list.contains("<p class=\"snippet\"><bdi>") && list.contains("<mark>"),
            "{list}"
        );
        assert!(
            list.contains("<span class=\"verdict verdict-false_positive\">false positive</span>")
        );
        // Duplicates and folded repeats are left out, and a link says how many.
        assert!(!list.contains(&format!("id=\"hit-{sohae}\"")));
        assert!(!list.contains(&format!("id=\"hit-{again}\"")));
        assert!(
            list.contains("2 duplicates and folded repeats are left out."),
            "{list}"
        );
        assert!(list.contains(
            "href=\"/hits?duplicates=include\">Show 2 duplicates and folded repeats</a>"
        ));
        // Each row's verdict forms return to this list.
        assert!(list.contains(&format!(
            "action=\"/hits/{workers}/triage\"><input type=\"hidden\" name=\"return\" value=\"\">"
        )));

        // Odd values of the desk's parameters change nothing and break nothing.
        for odd in ["SHOW", "show%00", "%3Cscript%3E", &"x".repeat(5000)] {
            let odd_list = page(&format!("{base}/hits?duplicates={odd}"));
            assert!(!odd_list.contains(&format!("id=\"hit-{again}\"")), "{odd}");
            assert!(!odd_list.contains("<script>"));
        }
        for odd in ["0", "yes", "%00", "1%00", &"1".repeat(5000)] {
            let odd_page = page(&format!("{base}/hits/{sat}?queue={odd}"));
            assert!(!odd_page.contains("id=\"queue-bar\""), "{odd}");
        }
        // A repeated parameter is refused as the list refuses any (400), never a panic.
        let (status, _, _) = get(&format!("{base}/hits?duplicates=include&duplicates=hide"));
        assert_eq!(status, 400);
        let (status, _, _) = get(&format!("{base}/hits/{sat}?queue=1&queue=1"));
        assert!(
            status == 200 || status == 400,
            "a repeated parameter: {status}"
        );
        for odd in ["-1", "99999999999999999999", "1.5", "%20"] {
            let (status, _, _) = get(&format!("{base}/hits/{odd}"));
            assert!(status == 400 || status == 404, "/hits/{odd}: {status}");
        }
        // A hit opened from a filtered list steps through that list: newest first, the
        // list's filters (repeats shown here) kept on every step and after a verdict.
        let satellite = page(&format!(
            "{base}/hits?indicator=satellite_launch&duplicates=include"
        ));
        let in_list = |id: i64| {
            format!("/hits/{id}?list=indicator%3Dsatellite_launch%26duplicates%3Dinclude")
        };
        assert!(
            satellite.contains(&format!(
                "href=\"{}\"",
                in_list(again).replace('&', "&#38;")
            )),
            "{satellite}"
        );
        let middle = page(&format!("{base}{}", in_list(sohae)));
        assert!(
            middle.contains(&format!(
                "id=\"previous-hit\" rel=\"prev\" href=\"{}\"",
                in_list(again).replace('&', "&#38;")
            )),
            "{middle}"
        );
        assert!(
            middle.contains(&format!(
                "id=\"next-hit\" rel=\"next\" href=\"{}\"",
                in_list(sat).replace('&', "&#38;")
            )),
            "{middle}"
        );
        assert!(middle.contains(
            "id=\"back-to-list\" href=\"/hits?indicator=satellite_launch&#38;duplicates=include\""
        ));
        let (status, location, _) = post(
            &base,
            sohae,
            &[
                ("verdict", "duplicate"),
                ("of", &sat.to_string()),
                (
                    "list",
                    "indicator=satellite_launch&duplicates=include&bogus=1",
                ),
            ],
        );
        assert_eq!((status, location), (303, in_list(sohae)));
        // Without repeats shown, the folded hit is no step of the list.
        let hidden = page(&format!(
            "{base}/hits/{sat}?list=indicator%3Dsatellite_launch"
        ));
        assert!(!hidden.contains("id=\"previous-hit\""), "{hidden}");
        assert!(
            !hidden.contains("id=\"next-hit\""),
            "the oldest of the list"
        );

        // The Atom feed, which shares the list's filters, leaves the repeat out the same way.
        let atom = page(&format!("{base}/hits.atom"));
        assert!(!atom.contains(&format!("urn:watchfloor:hit:{again}")));
        let atom = page(&format!("{base}/hits.atom?duplicates=include"));
        assert!(atom.contains(&format!("urn:watchfloor:hit:{again}")));

        let shown = page(&format!("{base}/hits?duplicates=include"));
        // `show` is read as `include`, the Atom feed's word.
        let also_shown = page(&format!("{base}/hits?duplicates=show"));
        assert!(also_shown.contains(&format!("id=\"hit-{again}\"")));
        assert!(
            shown.contains(&format!("id=\"hit-{sohae}\""))
                && shown.contains(&format!("id=\"hit-{again}\""))
        );
        assert!(
            shown.contains(&format!(
                "a duplicate of <a href=\"/hits/{sat}\">hit {sat}</a>"
            )),
            "{shown}"
        );
        assert!(shown.contains(&format!(
            "folded into <a href=\"/hits/{sat}\">hit {sat}</a>"
        )));
        assert!(shown.contains("name=\"return\" value=\"duplicates=include\""));
        let again_page = page(&format!("{base}/hits/{again}"));
        assert!(again_page.contains(&format!(
            "This hit is folded into <a href=\"/hits/{sat}\">hit {sat}</a>"
        )));

        // The chart counts what stands and is new: the duplicate, the folded repeat and the
        // false positive are out (the workers' indicator draws nothing).
        let chart = page(&format!("{base}/indicators/satellite_launch"));
        assert!(chart.contains("1 hit in the last 90 days"), "{chart}");
        assert!(chart.contains("not duplicates, not folded"));
        let day = (Utc::now() - chrono::Duration::days(4)).date_naive();
        let day_href = format!("/hits?indicator=satellite_launch&#38;since={day}&#38;until={day}");
        assert!(
            chart.contains(&format!("<a href=\"{day_href}\"><title>")),
            "{chart}"
        );
        let labour = page(&format!("{base}/indicators/labor_export"));
        assert!(labour.contains("No hits in the last 90 days."), "{labour}");
        let all = page(&format!(
            "{base}/indicators/satellite_launch?duplicates=include"
        ));
        assert!(all.contains("3 hits in the last 90 days"), "{all}");
        // The bar's link lists exactly that day's hits.
        let that_day = page(&format!("{base}{}", day_href.replace("&#38;", "&")));
        assert!(that_day.contains(&format!("id=\"hit-{sat}\"")));
        assert_eq!(
            that_day.matches("class=\"hit-row\"").count(),
            1,
            "{that_day}"
        );
    }
    rt.block_on(desk.daemon.stop());
}

#[test]
fn desk_js_is_served_for_a_day_under_a_policy_that_runs_only_our_own_scripts() {
    let rt = runtime();
    let desk = started(&rt);
    let base = desk.base.clone();
    {
        let served = block(client().get(format!("{base}/static/desk.js")).send()).unwrap();
        assert_eq!(served.status().as_u16(), 200);
        let header = |name: &str| served.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("content-type"), "text/javascript; charset=utf-8");
        assert_eq!(header("cache-control"), "public, max-age=86400");
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(
            !policy.contains("unsafe-inline';") || !policy.contains("script-src 'unsafe-inline'")
        );
        let script = block(served.text()).unwrap();
        assert!(script.contains("addEventListener('keydown'"));
        let list = page(&format!("{base}/hits"));
        assert!(list.contains("<script src=\"/static/desk.js\" defer></script>"));
        assert!(!list.contains(" onclick=") && !list.contains(" onkeydown="));
    }
    rt.block_on(desk.daemon.stop());
}

/// Where screenshots go: `WATCHFLOOR_SCREENSHOTS` (scripts/screenshots sets it to
/// docs/screenshots), else the build folder.
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("WATCHFLOOR_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| support::cli::root().join("target"))
                .join("screenshots")
        });
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

fn assert_png(file: &Path) {
    let bytes = std::fs::read(file).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "{}", file.display());
}

#[test]
fn chromium_works_the_queue_by_keyboard_and_without_javascript_and_fits_a_phone() {
    let rt = runtime();
    let desk = started(&rt);
    let sat = desk.id(SATELLITE);
    let sohae = desk.id(SOHAE);
    let workers = desk.id(WORKERS);
    let oil = desk.id(OIL);
    let base = desk.base.clone();
    let shots = screenshot_dir();
    {
        let mut chrome = browser::Browser::launch(1280, 900);

        // With scripts: the queue opens the oldest hit, desk.js runs under the policy, and
        // nothing the page does breaks it.
        let tab = chrome.tab(1280, 900, false);
        chrome.open(&tab, &format!("{base}/queue"));
        let at = chrome.eval(&tab, "location.pathname + location.search");
        assert_eq!(at, format!("/hits/{sat}?queue=1"));
        assert_eq!(
            chrome.eval(&tab, "document.body.dataset.desk || ''"),
            "ready"
        );
        assert_eq!(chrome.eval(&tab, "window.__cspViolations.length"), 0);
        assert!(
            chrome.policy_complaints(&tab).is_empty(),
            "{:?}",
            chrome.policy_complaints(&tab)
        );
        chrome.screenshot(&tab, &shots.join("queue.png"), false);
        // The policy is in force and the recorder sees a breach: an inline script is
        // blocked and reported.
        chrome.eval(
            &tab,
            "(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s); })()",
        );
        assert_eq!(chrome.eval(&tab, "window.__ran === undefined"), true);
        assert_eq!(chrome.eval(&tab, "window.__cspViolations.length"), 1);

        // r: relevant, and the queue's next hit opens.
        chrome.navigating(&tab, |c, t| c.press(t, 'r'));
        assert_eq!(
            chrome.eval(&tab, "location.pathname + location.search"),
            format!("/hits/{sohae}?queue=1")
        );
        let judged = desk.hit(SATELLITE).triage.expect("r recorded a verdict");
        assert_eq!(judged.verdict, watchfloor::store::Verdict::Relevant);
        assert_eq!(judged.by, "local");
        // j: the next of the queue, k: back.
        chrome.navigating(&tab, |c, t| c.press(t, 'j'));
        assert_eq!(
            chrome.eval(&tab, "location.pathname"),
            format!("/hits/{workers}")
        );
        chrome.navigating(&tab, |c, t| c.press(t, 'k'));
        assert_eq!(
            chrome.eval(&tab, "location.pathname"),
            format!("/hits/{sohae}")
        );
        // d asks which hit this repeats; an answer that is no hit number posts nothing.
        chrome.prompt_answer = Some("not a number".into());
        chrome.press(&tab, 'd');
        assert!(desk.history(sohae).is_empty());
        chrome.prompt_answer = Some(format!("#{sat}"));
        chrome.navigating(&tab, |c, t| c.press(t, 'd'));
        chrome.prompt_answer = None;
        let judged = desk.hit(SOHAE).triage.expect("d recorded");
        assert_eq!(judged.verdict, watchfloor::store::Verdict::Duplicate);
        assert_eq!(judged.duplicate_of, Some(sat));
        assert_eq!(
            chrome.eval(&tab, "location.pathname + location.search"),
            format!("/hits/{workers}?queue=1")
        );
        // f, on a hit page out of the queue: the page comes back with its history.
        chrome.open(&tab, &format!("{base}/hits/{sohae}"));
        chrome.navigating(&tab, |c, t| c.press(t, 'f'));
        assert_eq!(
            desk.hit(SOHAE).triage.expect("f recorded").verdict,
            watchfloor::store::Verdict::FalsePositive
        );
        assert_eq!(
            chrome.eval(&tab, "location.pathname"),
            format!("/hits/{sohae}")
        );
        assert_eq!(
            chrome.eval(&tab, "document.querySelectorAll('#history li').length"),
            2
        );
        // On the list: j selects the first row, r judges it, and the same list comes back
        // with that row selected.
        chrome.open(&tab, &format!("{base}/hits?q=Sohae"));
        chrome.press(&tab, 'j');
        assert_eq!(
            chrome.eval(&tab, "document.querySelector('tr.selected').id"),
            format!("hit-{sohae}")
        );
        chrome.navigating(&tab, |c, t| c.press(t, 'r'));
        assert_eq!(
            desk.hit(SOHAE).triage.expect("r on the list").verdict,
            watchfloor::store::Verdict::Relevant
        );
        assert_eq!(
            chrome.eval(&tab, "location.pathname + location.search + location.hash"),
            format!("/hits?q=Sohae#hit-{sohae}")
        );
        assert_eq!(
            chrome.eval(&tab, "document.querySelector('tr.selected').id"),
            format!("hit-{sohae}")
        );
        assert_eq!(desk.history(sohae).len(), 3);
        assert_eq!(chrome.eval(&tab, "window.__cspViolations.length"), 0);

        // Without scripts: the same queue by its buttons alone.
        let plain = chrome.tab(1280, 900, false);
        chrome.disable_scripts(&plain);
        chrome.open(&plain, &format!("{base}/queue"));
        let html = chrome.html(&plain);
        assert!(
            html.contains(&format!("action=\"/hits/{workers}/triage\"")),
            "{html}"
        );
        assert!(!html.contains("data-desk=\"ready\""), "scripts are off");
        chrome.type_into(&plain, "form.verdict-form input[name=of]", &sat.to_string());
        chrome.navigating(&plain, |c, t| {
            c.click(t, "form.verdict-form button[value=duplicate]")
        });
        let judged = desk.hit(WORKERS).triage.expect("the form recorded");
        assert_eq!(judged.verdict, watchfloor::store::Verdict::Duplicate);
        assert_eq!(judged.duplicate_of, Some(sat));
        let html = chrome.html(&plain);
        assert!(
            html.contains(&format!("action=\"/hits/{oil}/triage\"")),
            "the next hit opened"
        );

        // From the list, a row's button returns to the list with its filters.
        chrome.open(&plain, &format!("{base}/hits?duplicates=include&q=oil"));
        chrome.navigating(&plain, |c, t| {
            c.click(t, &format!("#hit-{oil} button[value=false_positive]"))
        });
        let html = chrome.html(&plain);
        assert!(
            html.contains("name=\"return\" value=\"q=oil&amp;duplicates=include\""),
            "{html}"
        );
        assert_eq!(
            desk.hit(OIL).triage.expect("recorded").verdict,
            watchfloor::store::Verdict::FalsePositive
        );
        chrome.open(&plain, &format!("{base}/queue"));
        assert!(chrome.html(&plain).contains("The queue is empty"));

        // A phone: 390 CSS pixels wide, no page wider than the screen; the list's rows are
        // stacked cards.
        let phone = chrome.tab(390, 844, true);
        for path in [
            "/hits?duplicates=include".to_owned(),
            format!("/hits/{sat}"),
            "/indicators/satellite_launch".to_owned(),
            "/indicators".to_owned(),
            "/feeds".to_owned(),
        ] {
            chrome.open(&phone, &format!("{base}{path}"));
            let width = chrome.eval(&phone, "document.documentElement.scrollWidth");
            assert!(width.as_u64().expect("a width") <= 390, "{path}: {width}");
        }
        chrome.open(&phone, &format!("{base}/hits?duplicates=include"));
        assert_eq!(
            chrome.eval(
                &phone,
                "getComputedStyle(document.querySelector('tr.hit-row')).display"
            ),
            "block"
        );
        chrome.screenshot(&phone, &shots.join("phone-390.png"), false);

        let wide = chrome.tab(1280, 900, false);
        chrome.open(&wide, &format!("{base}/hits?duplicates=include"));
        chrome.screenshot(&wide, &shots.join("hit-list.png"), false);
        chrome.open(&wide, &format!("{base}/indicators/satellite_launch"));
        chrome.screenshot(&wide, &shots.join("indicator.png"), false);
    }
    for name in [
        "queue.png",
        "phone-390.png",
        "hit-list.png",
        "indicator.png",
    ] {
        assert_png(&shots.join(name));
    }
    rt.block_on(desk.daemon.stop());
}
