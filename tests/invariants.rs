//! The architecture invariants of ARCHITECTURE.md that can be checked by reading `src/`, as
//! rust-analyzer's tidy tests do: a convention that a test holds cannot quietly become false.
//! Each test names the invariant it checks; ARCHITECTURE.md says which invariants are checked
//! here.
//!
//! The scan is textual and deliberately simple: comments are dropped, test code is left out
//! (tests may open databases and read clocks), and a crate or module counts as used wherever
//! its path appears (`rusqlite::`, `crate::alert`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file's code outside tests, without comments.
struct Source {
    /// Relative to `src/`, with `/` separators: `store/mod.rs`.
    path: String,
    code: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn sources() -> Vec<Source> {
    let mut files = Vec::new();
    collect(&src(), &mut files);
    files.sort();
    let test_only = test_only_files(&files);
    files
        .into_iter()
        .filter(|f| !test_only.contains(f))
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("source file");
            let path = file
                .strip_prefix(src())
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            Source {
                path,
                code: code_of(&text),
            }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Files declared as `#[cfg(test)] mod name;` (with their folders), which only tests compile.
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut modules = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).expect("source file");
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if pair[0] != "#[cfg(test)]" {
                continue;
            }
            let declared = pair[1]
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ")
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'));
            if let Some(name) = declared {
                // `a.rs` declares `a/name.rs`; `a/mod.rs` and `lib.rs` declare `a/name.rs`.
                let stem = file.file_stem().expect("stem").to_string_lossy();
                let parent = file.parent().expect("parent");
                let dir = if stem == "mod" || stem == "lib" {
                    parent.to_path_buf()
                } else {
                    parent.join(&*stem)
                };
                modules.push(dir.join(name));
            }
        }
    }
    files
        .iter()
        .filter(|f| {
            modules
                .iter()
                .any(|m| f.with_extension("") == *m || f.starts_with(m))
        })
        .cloned()
        .collect()
}

/// The text without comment lines and trailing comments, cut before an inline test module
/// (which sits at the end of its file).
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim().starts_with("mod ") && next.ends_with('{'))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find(" // ") {
            Some(at) => &line[..at],
            None => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Whether `path` (a crate, or a module path such as `crate::alert`) is used in `code`: it
/// appears with no identifier character or `:` before it and none after it, so that
/// `crate::ops::metrics::x` is not a use of the `metrics` crate; a bare crate name counts
/// only as the start of a path (`metrics::`), not as a field or a word in a string.
fn uses(code: &str, path: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(path).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let rest = &code[at + path.len()..];
        let after_ok = if path.contains("::") {
            !rest.chars().next().is_some_and(ident)
        } else {
            rest.starts_with("::")
        };
        !before.is_some_and(|c| ident(c) || c == ':') && after_ok
    })
}

/// The files that use `path` outside the allowed places (path prefixes relative to `src/`).
fn used_outside(sources: &[Source], path: &str, allowed: &[&str]) -> Vec<String> {
    sources
        .iter()
        .filter(|s| !allowed.iter().any(|a| s.path.starts_with(a)))
        .filter(|s| uses(&s.code, path))
        .map(|s| s.path.clone())
        .collect()
}

fn assert_only_in(path: &str, allowed: &[&str]) {
    let sources = sources();
    assert!(
        sources.iter().any(|s| uses(&s.code, path)),
        "{path} is used nowhere: the check has gone stale"
    );
    let outside = used_outside(&sources, path, allowed);
    assert!(
        outside.is_empty(),
        "{path} is used outside {allowed:?}: {outside:?}"
    );
}

#[test]
fn the_scan_sees_code_and_skips_comments_and_tests() {
    let code = code_of(
        "use a::b; // rusqlite::x\n//! rusqlite::y\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use rusqlite::z;\n}\n",
    );
    assert_eq!(code, "use a::b;\nfn f() {}\n");
    assert!(uses("use rusqlite::Connection;", "rusqlite"));
    assert!(!uses("use crate::ops::metrics::record;", "metrics"));
    assert!(uses("use metrics::{counter, gauge};", "metrics"));
    assert!(!uses("crate::alerting", "crate::alert"));
    assert!(!uses("metrics: install(), \"/metrics\"", "metrics"));
    let files: Vec<String> = sources().into_iter().map(|s| s.path).collect();
    assert!(files.contains(&"store/mod.rs".to_owned()), "{files:?}");
    assert!(
        !files.iter().any(|f| f.ends_with("/tests.rs")),
        "test files are left out: {files:?}"
    );
    assert!(!files.contains(&"matcher/fixtures.rs".to_owned()));
}

/// "Only `store` touches SQLite."
#[test]
fn only_the_store_touches_sqlite() {
    assert_only_in("rusqlite", &["store/"]);
}

/// "Only `alert` sends mail" (`config::mail` reads addresses with lettre's own parser, so
/// that an address the settings accept is one lettre can send to).
#[test]
fn only_alert_speaks_smtp() {
    assert_only_in("lettre", &["alert/", "config/mail.rs"]);
}

/// "Only `fetch` talks to feed servers, and only `alert::webhook` to the webhooks the
/// operator configured."
#[test]
fn only_fetch_makes_http_requests() {
    assert_only_in("reqwest", &["fetch.rs", "fetch/", "alert/webhook.rs"]);
}

/// "`anyhow` only in `cli`": the library's errors are typed.
#[test]
fn anyhow_is_only_in_the_command_line() {
    assert_only_in("anyhow", &["cli/"]);
}

/// "Only `parse` reads feed documents" (`bench parse` times feed-rs alone, for scale).
#[test]
fn only_parse_reads_feed_documents() {
    assert_only_in("feed_rs", &["parse/", "cli/bench.rs"]);
}

/// "The operations listener is the only server": axum in `ops::http` and the `web` pages.
#[test]
fn only_ops_and_web_serve_http() {
    assert_only_in("axum", &["ops/http.rs", "web/"]);
}

/// "Only `ops` speaks to systemd and records metrics."
#[test]
fn only_ops_talks_to_systemd_and_metrics() {
    assert_only_in("sd_notify", &["ops/notify.rs"]);
    assert_only_in("metrics", &["ops/"]);
    assert_only_in("metrics_exporter_prometheus", &["ops/"]);
}

/// "Parse, match and text do no IO and take no clock"; they depend on nothing but each
/// other and `error`.
#[test]
fn the_pure_stages_do_no_io_and_read_no_clock() {
    let forbidden = [
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "tokio",
        "reqwest",
        "rusqlite",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
    ];
    let allowed_modules: BTreeMap<&str, &[&str]> = [
        ("text/", &["crate::text"][..]),
        ("matcher/", &["crate::text", "crate::matcher"][..]),
        (
            "parse/",
            &["crate::text", "crate::parse", "crate::error"][..],
        ),
    ]
    .into();
    let mut found = Vec::new();
    for source in sources() {
        let Some(allowed) = allowed_modules
            .iter()
            .find(|(dir, _)| source.path.starts_with(*dir))
            .map(|(_, allowed)| *allowed)
        else {
            continue;
        };
        for path in forbidden {
            if uses(&source.code, path) {
                found.push(format!("{}: {path}", source.path));
            }
        }
        for (at, _) in source.code.match_indices("crate::") {
            let rest = &source.code[at..];
            let end = rest[7..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(rest.len(), |e| e + 7);
            let module = &rest[..end];
            if !allowed.contains(&module) {
                found.push(format!("{}: {module}", source.path));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

/// "`web` takes nothing from `alert`": the text defences both use live in `text::safe`.
#[test]
fn the_web_pages_take_nothing_from_alert() {
    let outside = used_outside(
        &sources(),
        "crate::alert",
        &["alert/", "cli/", "pipeline.rs"],
    );
    let web: Vec<&String> = outside.iter().filter(|p| p.starts_with("web/")).collect();
    assert!(web.is_empty(), "{web:?}");
}

/// "`alert` does not depend on `pipeline`", which feeds it.
#[test]
fn alert_does_not_depend_on_the_pipeline() {
    let found: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.path.starts_with("alert/") && uses(&s.code, "crate::pipeline"))
        .map(|s| s.path)
        .collect();
    assert!(found.is_empty(), "{found:?}");
}

/// "`error` is a leaf": any module may use it.
#[test]
fn the_error_module_imports_nothing_from_the_crate() {
    let error = sources()
        .into_iter()
        .find(|s| s.path == "error.rs")
        .expect("src/error.rs");
    assert!(!error.code.contains("crate::"), "{}", error.code);
    assert!(!error.code.contains("super::"), "{}", error.code);
}

/// "Nothing deletes a hit or an outbox row" (deleting a hit would cascade to its alerts).
#[test]
fn no_statement_deletes_hits_alerts_or_messages() {
    let mut found = Vec::new();
    for source in sources() {
        let sql = source
            .code
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        for table in ["HITS", "ALERTS", "MESSAGES"] {
            for statement in [
                format!("DELETE FROM {table} "),
                format!("DELETE FROM {table}\""),
                format!("DROP TABLE {table} "),
                format!("DROP TABLE {table}\""),
                format!("DROP TABLE {table};"),
                format!("DELETE FROM {table};"),
            ] {
                if sql.contains(&statement) {
                    found.push(format!("{}: {statement}", source.path));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

/// "A verdict is appended to `verdicts`, never updated or deleted; `triage` holds each hit's
/// latest verdict, written only by the trigger on `verdicts`."
#[test]
fn verdicts_are_appended_and_only_their_trigger_writes_the_current_one() {
    let mut found = Vec::new();
    for source in sources() {
        let sql = source
            .code
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        for statement in [
            "UPDATE VERDICTS",
            "DELETE FROM VERDICTS",
            "DROP TABLE VERDICTS",
            "UPDATE TRIAGE",
            "DELETE FROM TRIAGE",
            "REPLACE INTO TRIAGE",
            "INTO TRIAGE",
        ] {
            let mut count = sql.matches(statement).count();
            // The one writer of `triage`: the trigger of migration 12.
            if source.path == "store/schema.rs" && statement == "INTO TRIAGE" {
                count = count.saturating_sub(1);
            }
            if count > 0 {
                found.push(format!("{}: {statement}", source.path));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

/// "The files of `config` import each other in one direction only", naming each other by
/// file (a path through `mod.rs`'s re-exports would hide the edge from this check).
#[test]
fn the_config_files_import_each_other_without_a_cycle() {
    let sources: Vec<Source> = sources()
        .into_iter()
        .filter(|s| s.path.starts_with("config/") && s.path != "config/mod.rs")
        .collect();
    let stem = |path: &str| {
        path.trim_start_matches("config/")
            .trim_end_matches(".rs")
            .to_owned()
    };
    let files: BTreeSet<String> = sources.iter().map(|s| stem(&s.path)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut hidden = Vec::new();
    for source in &sources {
        let from = stem(&source.path);
        for prefix in ["super::", "crate::config::"] {
            for (at, _) in source.code.match_indices(prefix) {
                let rest = &source.code[at + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if files.contains(&name) {
                    edges.entry(from.clone()).or_default().insert(name);
                } else if !name.is_empty() {
                    hidden.push(format!("{}: {prefix}{name}", source.path));
                }
            }
        }
    }
    assert!(hidden.is_empty(), "name the file: {hidden:?}");
    assert!(
        edges.get("settings").is_some_and(|to| to.contains("mail")),
        "the scan found no imports: {edges:?}"
    );
    // Depth-first search; a file met again while still on the path closes a cycle.
    fn visit(
        file: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|f| f == file) {
            panic!(
                "config files import each other in a cycle: {:?}",
                &path[at..]
            );
        }
        if done.contains(file) {
            return;
        }
        path.push(file.to_owned());
        for next in edges.get(file).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(file.to_owned());
    }
    let mut done = BTreeSet::new();
    for file in &files {
        visit(file, &edges, &mut Vec::new(), &mut done);
    }
}
