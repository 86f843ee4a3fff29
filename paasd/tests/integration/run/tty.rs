//! `paas run` from a terminal: driven through a real pty, as a person at a keyboard would.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_testkit::{bin, eventually};
use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use super::{deployed, one_off_containers, LIMIT};

/// What a pty shows, collected by a reader thread.
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits until the screen shows `needle` after byte `from`; returns where it ends.
    #[track_caller]
    fn wait_for(&self, needle: &str, from: usize) -> usize {
        let start = Instant::now();
        loop {
            let text = self.text();
            if let Some(at) = text.get(from..).and_then(|t| t.find(needle)) {
                return from + at + needle.len();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the terminal never showed {needle:?}; it shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn interactive_shell_gets_a_terminal_and_its_size() {
    let p = deployed("shell");
    let size = |rows, cols| PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    };
    let pair = native_pty_system().openpty(size(30, 100)).unwrap();
    let mut cmd = CommandBuilder::new(bin("paas"));
    cmd.args(["run", "-a", "shell", "sh"]);
    cmd.cwd(p.home.path());
    cmd.env("HOME", p.home.path());
    cmd.env("PAAS_API_URL", &p.api_url);
    cmd.env("PAAS_TOKEN", p.token.as_deref().unwrap());
    cmd.env("TERM", "xterm");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let screen = Screen(Arc::default());
    let mut reader = pair.master.try_clone_reader().unwrap();
    let seen = screen.0.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut keys = pair.master.take_writer().unwrap();

    let at = screen.wait_for("on shell... up, run.1", 0);
    let at = screen.wait_for("#", at);
    keys.write_all(b"tty; stty size; echo $TERM $((6*7)) $DYNO\r")
        .unwrap();
    let at = screen.wait_for("/dev/pts/", at);
    let at = screen.wait_for("30 100", at);
    let at = screen.wait_for("xterm 42 run.1", at);

    // A resize here reaches the remote terminal (SIGWINCH -> resize frame).
    pair.master.resize(size(40, 120)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    keys.write_all(b"stty size\r").unwrap();
    let at = screen.wait_for("40 120", at);

    // ^C reaches the remote shell (raw mode) instead of ending `paas`.
    keys.write_all(b"sleep 30\r").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    keys.write_all(b"\x03").unwrap();
    keys.write_all(b"echo still-$((1+1))\r").unwrap();
    screen.wait_for("still-2", at);

    keys.write_all(b"exit 5\r").unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < LIMIT,
            "`exit 5` did not end paas\n{}",
            screen.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.exit_code(), 5, "{}\n{}", screen.text(), p.log());
    let gone = eventually(Duration::from_secs(10), || {
        if one_off_containers(&p, "shell").is_empty() {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(gone.is_ok(), "the session's container is removed");
}
