//! The database's ownership, checked on the source: ARCHITECTURE.md says no async task ever
//! blocks a worker thread on SQLite or on a lock around the store, and that only `store`
//! touches SQLite. These scans keep that from quietly becoming false (the habit of
//! rust-analyzer's tidy tests): crude by design, they read the text, not the syntax tree.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let name = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .replace('\\', "/");
            (name, text)
        })
        .collect()
}

/// The text with comments, string and char literals blanked out (same length, same lines),
/// so that a pattern in a doc comment or a message is not code.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while i < bytes.len() {
        if bytes[i..].starts_with(b"//") {
            let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if bytes[i..].starts_with(b"/*") {
            let end = text[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            blank(&mut out, i, end);
            i = end;
        } else if bytes[i] == b'r'
            && (bytes[i + 1..].starts_with(b"#\"") || bytes[i + 1..].starts_with(b"\""))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            let hashes = bytes[i + 1..].iter().take_while(|b| **b == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 1 + hashes + 1;
            let end = text[start..]
                .find(&close)
                .map_or(bytes.len(), |n| start + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(bytes.len());
            blank(&mut out, i, end);
            i = end;
        } else if bytes[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let rest = &text[i + 1..];
            let len = if rest.starts_with('\\') {
                rest.find('\'').map(|n| n + 1)
            } else {
                rest.chars()
                    .next()
                    .filter(|c| rest[c.len_utf8()..].starts_with('\''))
                    .map(|c| c.len_utf8() + 1)
            };
            match len {
                Some(len) => {
                    blank(&mut out, i, i + 1 + len);
                    i += 1 + len;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).expect("only ASCII blanks were written")
}

/// The bodies of async fns and async blocks: (line of the start, body).
fn async_bodies(code: &str) -> Vec<(usize, &str)> {
    let mut bodies = Vec::new();
    for (at, _) in code.match_indices("async ") {
        let after = &code[at + "async ".len()..];
        let is_async_code = after.starts_with("fn ")
            || after.starts_with("move {")
            || after.starts_with('{')
            || after.starts_with("move |")
            || after.starts_with('|');
        if !is_async_code {
            continue;
        }
        let Some(open) = code[at..].find('{').map(|n| at + n) else {
            continue;
        };
        // A declaration without a body (a trait's) ends before its brace.
        if code[at..open].contains(';') {
            continue;
        }
        let mut depth = 0;
        let mut end = code.len();
        for (k, b) in code.as_bytes()[open..].iter().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let line = code[..at].matches('\n').count() + 1;
        bodies.push((line, &code[open..end]));
    }
    bodies
}

/// The body without the closures it hands to other threads (`spawn_blocking`, a thread of its
/// own): blocking there is what those are for.
fn on_this_thread(body: &str) -> String {
    let mut kept = body.to_owned();
    for call in ["spawn_blocking(", "thread::spawn(", "scope.spawn("] {
        while let Some(at) = kept.find(call) {
            let open = at + call.len() - 1;
            let mut depth = 0;
            let mut end = kept.len();
            for (k, b) in kept.as_bytes()[open..].iter().enumerate() {
                match b {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            kept.replace_range(at..end, "");
        }
    }
    kept
}

/// What blocks the calling thread on the database.
const BLOCKING_ON_THE_DATABASE: &[&str] = &[
    // The Db's forms for synchronous callers.
    "read_blocking(",
    "write_blocking(",
    // Opening a connection (and migrating) blocks.
    "Store::open(",
    "Store::open_read_only(",
    "Db::open(",
    "App::build(",
    // The lock the store used to live behind.
    "store::lock(",
    "Mutex<Store>",
];

#[test]
fn no_async_code_blocks_on_the_database() {
    let mut found = Vec::new();
    for (name, text) in src() {
        let code = code_only(&text);
        for (line, body) in async_bodies(&code) {
            let body = on_this_thread(body);
            for pattern in BLOCKING_ON_THE_DATABASE {
                if body.contains(pattern) {
                    found.push(format!("{name}:{line}: {pattern} in async code"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "async code must await the Db (Db::read, Db::write), never block on it:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_store_is_never_shared_behind_a_lock() {
    let mut found = Vec::new();
    for (name, text) in src() {
        let code = code_only(&text);
        for pattern in ["Mutex<Store>", "RwLock<Store>", "Mutex<Db>", "store::lock("] {
            for (at, _) in code.match_indices(pattern) {
                let line = code[..at].matches('\n').count() + 1;
                found.push(format!("{name}:{line}: {pattern}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the database has one owner, store::Db; share a Db handle instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_store_touches_sqlite() {
    let mut found = Vec::new();
    for (name, text) in src() {
        if name.starts_with("src/store/") {
            continue;
        }
        let code = code_only(&text);
        for (at, _) in code.match_indices("rusqlite") {
            let line = code[..at].matches('\n').count() + 1;
            found.push(format!("{name}:{line}"));
        }
    }
    assert!(
        found.is_empty(),
        "rusqlite outside src/store/:\n{}",
        found.join("\n")
    );
}

/// The store records what other stages decided; it decides nothing of alerts (routing, story
/// folding), so nothing of `alert` runs inside a write transaction.
#[test]
fn the_store_calls_nothing_of_the_alert_stage() {
    let mut found = Vec::new();
    for (name, text) in src() {
        if !name.starts_with("src/store/") {
            continue;
        }
        let code = code_only(&text);
        for (at, _) in code.match_indices("alert::") {
            let line = code[..at].matches('\n').count() + 1;
            found.push(format!("{name}:{line}"));
        }
    }
    assert!(
        found.is_empty(),
        "the store calls the alert stage:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_async_bodies_and_skips_comments_and_strings() {
    let code = code_only(
        "/// Store::open( in a doc comment\n\
         fn sync() { let s = Store::open(p); }\n\
         async fn bad() { let s = \"Store::open(\"; if x { y.read_blocking(|s| 1); } }\n\
         async fn good() { db.read(|s| s.ping()).await }\n\
         async fn offloaded() { spawn_blocking(move || Db::open(&p)).await }\n",
    );
    let bodies = async_bodies(&code);
    assert_eq!(bodies.len(), 3);
    assert_eq!(on_this_thread(bodies[2].1).trim(), "{ .await }");
    assert!(bodies[0].1.contains("read_blocking("));
    assert!(!bodies[0].1.contains("Store::open("));
    assert!(!code.lines().next().unwrap().contains("Store"));
    assert!(code.lines().nth(1).unwrap().contains("Store::open("));
}
