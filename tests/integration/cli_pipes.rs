//! The CLI in a pipeline: `usage events | head` ends like `cat` would (killed
//! by SIGPIPE, quietly), not with a panic and a backtrace.

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, Stdio};

use crate::util::usage;

#[test]
fn a_reader_that_hangs_up_ends_the_listing_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    usage(dir.path(), &["demo", "--quiet"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_usage"))
        .args(["events", "--city", "demo", "--limit", "1000", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run usage events");
    // Read the first bytes, then hang up, as `head -1` does; the listing
    // (1000 rows) is far bigger than the pipe's buffer.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("the listing starts");
    drop(stdout);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "it panicked: {stderr}");
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "expected an end by SIGPIPE, got {:?}; stderr: {stderr}",
        output.status
    );
}
