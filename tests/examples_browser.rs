//! A real browser: headless Chromium (driven by playwright-core from npm, see
//! tests/browser/) opens the ws_chat example's page over HTTPS, joins over wss, and
//! two pages exchange messages.

mod common;

use std::path::Path;
use std::process::Command;

use common::example::start_example;

#[test]
fn two_chromium_pages_chat_over_wss() {
    if common::require_tool("chromium", "chromium").is_none()
        || common::require_tool("node", "nodejs").is_none()
    {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        if std::env::var_os("CI").is_some() {
            panic!("playwright-core is not installed: .ci/run runs `npm install --prefix tests/browser`");
        }
        eprintln!("SKIPPED: run `npm install --prefix tests/browser` for the browser test");
        return;
    }
    let (_server, addr) = start_example("ws_chat", &["--threads", "2", "--tls"]);
    let port = addr.rsplit_once(':').unwrap().1;
    let shot = std::env::temp_dir().join(format!("muon-ws-chat-{}.png", std::process::id()));
    let out = Command::new("timeout")
        .args(["60", "node", "chat.mjs"])
        .arg(format!("https://localhost:{port}/"))
        .arg(&shot)
        .current_dir(&dir)
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "browser chat failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::remove_file(&shot).ok();
}
