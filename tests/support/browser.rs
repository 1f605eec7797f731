//! Debian's headless Chromium driven over the DevTools protocol, through the pipe Chromium
//! opens on descriptors 3 and 4 (`--remote-debugging-pipe`): messages are JSON, each ended by
//! a NUL byte. No port is opened, so nothing else on the machine can reach the browser.
//!
//! Enough of the protocol for the hit log's tests: open a page, evaluate an expression, press
//! a key, click an element by its box (which works with scripts off), take a screenshot, and
//! collect Content-Security-Policy violations from the first byte of every document.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installed before any page script: records every policy violation the document reports.
const VIOLATION_RECORDER: &str = "window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});";

pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Messages without an id (events), as they came.
    pub events: Vec<Value>,
    /// What a reviewer types into the next `prompt()` a page opens (accepted at once);
    /// `None` dismisses it.
    pub prompt_answer: Option<String>,
    _profile: tempfile::TempDir,
}

/// One tab, attached with its own session.
pub struct Tab {
    session: String,
}

fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    let made = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(made, 0, "pipe: {}", std::io::Error::last_os_error());
    // Moved above 9, so that placing them at 3 and 4 in the child cannot overwrite one
    // with the other.
    let high = |fd: RawFd| {
        // SAFETY: duplicates a descriptor this function owns, then closes the original.
        unsafe {
            let moved = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            assert!(moved >= 10, "fcntl: {}", std::io::Error::last_os_error());
            libc::close(fd);
            moved
        }
    };
    (high(fds[0]), high(fds[1]))
}

impl Browser {
    /// Starts Chromium with a fresh profile and a window of `width` by `height`.
    pub fn launch(width: u32, height: u32) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "the browser tests need Debian's chromium: apt-get install -y \
             --no-install-recommends chromium (scripts/test does it as root)"
        );
        let profile = tempfile::tempdir().expect("profile");
        let (commands_read, commands_write) = pipe();
        let (answers_read, answers_write) = pipe();
        let mut command = Command::new(CHROMIUM);
        command
            .args(crate::support::CHROMIUM_OFFLINE)
            .args([
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: dup2 and close are async-signal-safe; the descriptors are this process's.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(commands_read, 3) < 0 || libc::dup2(answers_write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        // SAFETY: the parent's ends, owned from here on; the child's ends are closed here.
        let (to_browser, from_browser) = unsafe {
            libc::close(commands_read);
            libc::close(answers_write);
            (
                File::from_raw_fd(commands_write),
                File::from_raw_fd(answers_read),
            )
        };
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        message.pop();
                        if let Ok(value) = serde_json::from_slice::<Value>(&message)
                            && send.send(value).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to_browser,
            from_browser: receive,
            next_id: 1,
            events: Vec::new(),
            prompt_answer: None,
            _profile: profile,
        }
    }

    /// Writes one command without waiting; returns its id.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("write to chromium");
        id
    }

    /// Keeps an event; answers a page's `prompt()` with [`Browser::prompt_answer`], since a
    /// dialog left open holds the page (and the key press that opened it) forever.
    fn keep(&mut self, event: Value) {
        if event["method"] == "Page.javascriptDialogOpening" {
            let session = event["sessionId"].as_str().map(str::to_owned);
            let answer = self.prompt_answer.clone();
            self.send(
                session.as_deref(),
                "Page.handleJavaScriptDialog",
                json!({ "accept": answer.is_some(), "promptText": answer.unwrap_or_default() }),
            );
        }
        self.events.push(event);
    }

    /// Sends one command and waits for its answer; panics on a protocol error.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.send(session, method, params);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(answer) if answer["id"] == json!(id) => {
                    assert!(
                        answer.get("error").is_none(),
                        "{method}: {}",
                        answer["error"]
                    );
                    return answer["result"].clone();
                }
                Ok(event) => self.keep(event),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer in 30 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited"),
            }
        }
    }

    /// A new tab, attached, recording policy violations, at `width` by `height` CSS pixels
    /// as a phone shows them when `mobile`.
    pub fn tab(&mut self, width: u32, height: u32, mobile: bool) -> Tab {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let tab = Tab {
            session: attached["sessionId"]
                .as_str()
                .expect("a session")
                .to_owned(),
        };
        let session = Some(tab.session.as_str());
        self.call(session, "Page.enable", json!({}));
        self.call(session, "Runtime.enable", json!({}));
        self.call(session, "Log.enable", json!({}));
        self.call(
            session,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": VIOLATION_RECORDER }),
        );
        self.call(
            session,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        );
        tab
    }

    /// Turns the tab's scripts off: pages run as for a reviewer without JavaScript.
    pub fn disable_scripts(&mut self, tab: &Tab) {
        self.call(
            Some(&tab.session),
            "Emulation.setScriptExecutionDisabled",
            json!({ "value": true }),
        );
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&mut self, tab: &Tab, url: &str) {
        let before = self.load_count(tab);
        self.call(Some(&tab.session), "Page.navigate", json!({ "url": url }));
        self.wait_for_load(tab, before);
    }

    fn load_count(&self, tab: &Tab) -> usize {
        self.events
            .iter()
            .filter(|e| e["method"] == "Page.loadEventFired" && e["sessionId"] == tab.session)
            .count()
    }

    /// Waits for the tab's next load after `before` loads.
    fn wait_for_load(&mut self, tab: &Tab, before: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.load_count(tab) <= before {
            assert!(Instant::now() < deadline, "the page did not load in 20 s");
            match self.from_browser.recv_timeout(Duration::from_millis(200)) {
                Ok(event) => self.keep(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => panic!("chromium exited"),
            }
        }
    }

    /// Runs `f` (which makes the page navigate) and waits until the next document loads.
    pub fn navigating(&mut self, tab: &Tab, f: impl FnOnce(&mut Browser, &Tab)) {
        let before = self.load_count(tab);
        f(self, tab);
        self.wait_for_load(tab, before);
    }

    /// The value of a JavaScript expression in the tab (scripts on).
    pub fn eval(&mut self, tab: &Tab, expression: &str) -> Value {
        let result = self.call(
            Some(&tab.session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Presses and releases a printable key, as a reviewer's keyboard does.
    pub fn press(&mut self, tab: &Tab, key: char) {
        let code = format!("Key{}", key.to_ascii_uppercase());
        let vk = key.to_ascii_uppercase() as u32;
        for kind in ["keyDown", "keyUp"] {
            let mut params = json!({
                "type": kind, "key": key.to_string(), "code": code,
                "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
            });
            if kind == "keyDown" {
                params["text"] = json!(key.to_string());
            }
            self.call(Some(&tab.session), "Input.dispatchKeyEvent", params);
        }
    }

    /// The page's HTML as the browser holds it, read through the DOM domain (works with
    /// scripts off).
    pub fn html(&mut self, tab: &Tab) -> String {
        let root = self.call(Some(&tab.session), "DOM.getDocument", json!({ "depth": 0 }));
        let html = self.call(
            Some(&tab.session),
            "DOM.getOuterHTML",
            json!({ "nodeId": root["root"]["nodeId"] }),
        );
        html["outerHTML"].as_str().unwrap_or_default().to_owned()
    }

    /// Clicks the middle of the first element matching `selector` with the mouse, through
    /// the DOM domain: no page script is involved, so this works with scripts off.
    pub fn click(&mut self, tab: &Tab, selector: &str) {
        let session = Some(tab.session.as_str());
        let root = self.call(session, "DOM.getDocument", json!({ "depth": 0 }));
        let node = self.call(
            session,
            "DOM.querySelector",
            json!({ "nodeId": root["root"]["nodeId"], "selector": selector }),
        );
        assert_ne!(node["nodeId"], json!(0), "no element {selector}");
        self.call(
            session,
            "DOM.scrollIntoViewIfNeeded",
            json!({ "nodeId": node["nodeId"] }),
        );
        let model = self.call(
            session,
            "DOM.getBoxModel",
            json!({ "nodeId": node["nodeId"] }),
        );
        let quad: Vec<f64> = model["model"]["content"]
            .as_array()
            .expect("a box")
            .iter()
            .map(|v| v.as_f64().unwrap_or(0.0))
            .collect();
        let x = (quad[0] + quad[2] + quad[4] + quad[6]) / 4.0;
        let y = (quad[1] + quad[3] + quad[5] + quad[7]) / 4.0;
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                session,
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Types `text` into the element matching `selector` (focused by a click).
    pub fn type_into(&mut self, tab: &Tab, selector: &str, text: &str) {
        self.click(tab, selector);
        self.call(
            Some(&tab.session),
            "Input.insertText",
            json!({ "text": text }),
        );
    }

    /// A PNG of the tab's viewport, or of the whole page when `full`.
    pub fn screenshot(&mut self, tab: &Tab, file: &Path, full: bool) {
        use base64::Engine;
        let shot = self.call(
            Some(&tab.session),
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": full }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("data"))
            .expect("base64");
        std::fs::write(file, png).expect("write the screenshot");
    }

    /// Everything the tab's console and log said about the Content-Security-Policy.
    pub fn policy_complaints(&self, tab: &Tab) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["sessionId"] == tab.session)
            .filter_map(|e| match e["method"].as_str() {
                Some("Runtime.consoleAPICalled") => Some(e["params"]["args"].to_string()),
                Some("Runtime.exceptionThrown") => Some(e["params"].to_string()),
                Some("Log.entryAdded") => Some(e["params"]["entry"]["text"].to_string()),
                _ => None,
            })
            .filter(|text| text.contains("Content Security Policy") || text.contains("CSP"))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
