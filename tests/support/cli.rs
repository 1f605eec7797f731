//! Running the real binary on files a test writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped lists and indicators with these feeds instead of the shipped ones.
pub fn indicators_with_feeds(dir: &Path, feeds: &[(&str, String)]) -> PathBuf {
    let shipped = std::fs::read_to_string(root().join("indicators.yaml")).expect("indicators");
    let rules = shipped.split("\nfeeds:").next().expect("rules part");
    let mut text = format!(
        "{rules}\nfeeds:{}\n",
        if feeds.is_empty() { " []" } else { "" }
    );
    for (id, url) in feeds {
        text.push_str(&format!("  - {{id: {id}, url: '{url}'}}\n"));
    }
    let path = dir.join("indicators.yaml");
    std::fs::write(&path, text).expect("write indicators");
    path
}

pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Wire</title>",
    );
    for (guid, title, link) in items {
        body.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link>\
             <description>{title}</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    body
}

/// Runs the binary off the test's runtime, so the feed server keeps answering.
pub async fn watchfloor(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_watchfloor"))
            .args(&args)
            .envs(env)
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("joined")
}

pub fn args(indicators: &Path, db: &Path, rest: &[&str]) -> Vec<String> {
    let mut all = vec![
        "--indicators".to_owned(),
        indicators.display().to_string(),
        "--db".to_owned(),
        db.display().to_string(),
    ];
    all.extend(rest.iter().map(|s| (*s).to_owned()));
    all
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
