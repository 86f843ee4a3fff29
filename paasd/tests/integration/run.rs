//! `paas run`: one-off processes of the current release, attached (exit codes, stdin, stdout
//! and stderr apart, environment, a terminal) and detached (listed, logged, left alone by the
//! reconcile loop), and the errors around them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use paas_testkit::{bin, eventually, Platform};

use crate::support::{app_checkout, fails, ok, push, text};

mod tty;

/// An app `name` with the example pushed (v1 running) and `GREETING=hi` set (v2).
fn deployed(name: &str) -> Platform {
    let (p, checkout) = app_checkout(name);
    let out = push(checkout.path());
    assert!(out.status.success(), "push: {}\n{}", text(&out), p.log());
    ok(&p, p.paas(&["config:set", "GREETING=hi", "-a", name]));
    p
}

/// How long one `paas run` in these tests may take.
const LIMIT: Duration = Duration::from_secs(60);

/// `paas ARGS` as the admin with `input` on its stdin; fails the test if it hangs.
fn paas_with_input(p: &Platform, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin("paas"))
        .args(args)
        .current_dir(p.home.path())
        .env("HOME", p.home.path())
        .env("PAAS_API_URL", &p.api_url)
        .env("PAAS_TOKEN", p.token.as_deref().expect("admin token"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run paas");
    // Input, output and errors all at once, as a shell pipeline would.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    std::thread::spawn(move || stdin.write_all(&input));
    let drain = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = from.read_to_end(&mut all);
            all
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("paas {args:?} did not finish within {LIMIT:?}\n{}", p.log());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one-off containers of `app` the engine still has.
fn one_off_containers(p: &Platform, app: &str) -> Vec<String> {
    let out = paas_testkit::docker()
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=paas.instance={}", p.instance))
        .args(["--filter", &format!("label=paas.app={app}")])
        .args(["--filter", "label=paas.process=run"])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn attached_one_offs_pass_io_env_and_exit_codes() {
    let p = deployed("runner");
    let run = |args: &[&str], input: &[u8]| {
        let mut all = vec!["run", "-a", "runner", "--"];
        all.extend_from_slice(args);
        paas_with_input(&p, &all, input)
    };

    // The release's config and the platform's variables; the first one-off is run.1.
    let out = run(&["echo $GREETING $DYNO $PAAS_APP $PAAS_RELEASE $PORT"], b"");
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out), p.log());
    assert_eq!(stdout(&out), "hi run.1 runner v2 5000\n");
    assert_eq!(stderr(&out), "", "no chatter when stderr is not a terminal");
    let out = run(&["env"], b"");
    let env = stdout(&out);
    assert!(
        env.contains("DYNO=run.2\n") && env.contains("PAAS_RELEASE=v2\n"),
        "{env}"
    );
    let out = paas_with_input(
        &p,
        &[
            "run",
            "-a",
            "runner",
            "-e",
            "EXTRA=x y",
            "--",
            "echo $EXTRA $DYNO",
        ],
        b"",
    );
    assert_eq!(stdout(&out), "x y run.3\n", "{}", text(&out));

    // Exit codes pass through.
    assert_eq!(run(&["true"], b"").status.code(), Some(0));
    let out = run(&["sh", "-c", "exit 3"], b"");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = run(&["no-such-command", "--flag"], b"");
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert!(stderr(&out).contains("not found"), "{}", text(&out));

    // Stdin, up to its end.
    let out = run(&["cat"], b"abc");
    assert_eq!((out.status.code(), stdout(&out)), (Some(0), "abc".into()));
    let out = run(&["wc", "-c"], b"abc");
    assert_eq!(stdout(&out).trim(), "3", "{}", text(&out));
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let out = run(&["wc -c"], &big);
    assert_eq!(stdout(&out).trim(), "300000", "{}", text(&out));
    // As much back as in: neither direction may wait for the other.
    let out = run(&["cat"], &big);
    assert!(
        out.stdout == big,
        "{} bytes back\n{}",
        out.stdout.len(),
        stderr(&out)
    );

    // Stdout and stderr stay apart; arguments arrive as given.
    let out = run(&["echo out; echo err >&2; exit 4"], b"");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        (stdout(&out), stderr(&out)),
        ("out\n".into(), "err\n".into())
    );
    let out = run(&["printf", "[%s]", "a b", "it's", "$HOME"], b"");
    assert_eq!(stdout(&out), "[a b][it's][$HOME]");

    // Longer than two reconcile passes (PAAS_RECONCILE_INTERVAL=2): the loop leaves it alone.
    let out = run(&["sleep 5; echo survived"], b"");
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(0), "survived\n".into()),
        "{}\n{}",
        text(&out),
        p.log()
    );

    // Attached one-offs are gone once they end; the web process is untouched.
    assert!(one_off_containers(&p, "runner").is_empty());
    let ps = ok(&p, p.paas(&["ps", "-a", "runner"]));
    assert!(ps.contains("web.1") && !ps.contains("run."), "{ps}");

    // A client that goes away takes its process with it.
    let mut client = Command::new(bin("paas"))
        .args(["run", "-a", "runner", "--", "sleep 60"])
        .env("HOME", p.home.path())
        .env("PAAS_API_URL", &p.api_url)
        .env("PAAS_TOKEN", p.token.as_deref().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = eventually(Duration::from_secs(10), || {
        let ps = ok(&p, p.paas(&["ps", "-a", "runner"]));
        if ps
            .lines()
            .any(|l| l.starts_with("run.") && l.split_whitespace().nth(1) == Some("up"))
        {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(running.is_ok(), "{}", p.log());
    client.kill().unwrap();
    client.wait().unwrap();
    let gone = eventually(Duration::from_secs(15), || {
        if one_off_containers(&p, "runner").is_empty() {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(gone.is_ok(), "stopped and removed\n{}", p.log());
}

/// One HTTP/1.1 WebSocket handshake to `url`; returns the status code.
fn handshake(url: &str) -> u16 {
    let rest = url.strip_prefix("ws://").expect("ws:// attach URL");
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[test]
fn detached_one_offs_are_listed_logged_and_left_alone() {
    let p = deployed("bg");
    let out = ok(
        &p,
        p.paas(&[
            "run",
            "--detach",
            "-a",
            "bg",
            "--",
            "echo detached-hello; sleep 12; echo detached-bye",
        ]),
    );
    assert!(out.contains("run.1"), "prints the process name: {out}");

    let ps_json = || -> Vec<serde_json::Value> {
        let out = ok(&p, p.paas(&["ps", "-a", "bg", "--json"]));
        let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        all.into_iter().filter(|d| d["type"] == "run").collect()
    };
    let first = ps_json();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["name"], "run.1");
    assert_eq!(first[0]["state"], "up");
    assert_eq!(first[0]["release"]["version"], 2);
    let ps = ok(&p, p.paas(&["ps", "-a", "bg"]));
    assert!(ps.contains("=== run (1)") && ps.contains("run.1"), "{ps}");

    let logged = eventually(Duration::from_secs(10), || {
        let logs = ok(&p, p.paas(&["logs", "-a", "bg"]));
        if logs.contains("app[run.1]: detached-hello") {
            Ok(logs)
        } else {
            Err(None)
        }
    });
    assert!(logged.is_ok(), "{logged:?}\n{}", p.log());

    // Still the same container after a deploy (v3) and more than two reconcile passes.
    ok(&p, p.paas(&["config:set", "OTHER=1", "-a", "bg"]));
    std::thread::sleep(Duration::from_secs(5));
    let later = ps_json();
    assert_eq!(later.len(), 1, "{later:?}\n{}", p.log());
    assert_eq!(
        later[0]["id"], first[0]["id"],
        "never restarted or replaced"
    );
    assert_eq!(later[0]["release"]["version"], 2, "still on its release");
    assert_eq!(later[0]["state"], "up");

    // Once it ends it leaves `paas ps`; its output stays in the logs for a while.
    let gone = eventually(Duration::from_secs(20), || {
        if ps_json().is_empty() {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(gone.is_ok(), "{:?}", ps_json());
    let logs = ok(&p, p.paas(&["logs", "-a", "bg", "--ps", "run.1"]));
    assert!(logs.contains("app[run.1]: detached-bye"), "{logs}");
    assert_eq!(
        one_off_containers(&p, "bg").len(),
        1,
        "kept a while after it ended"
    );

    // The next one-off is run.2, even though run.1 is done.
    let out = paas_with_input(&p, &["run", "-a", "bg", "--", "echo $DYNO"], b"");
    assert_eq!(stdout(&out), "run.2\n", "{}", text(&out));

    // An attach URL works once; a plain request does not use it up.
    let token = p.token.clone();
    let (status, dyno) = p
        .api(
            "POST",
            "/apps/bg/dynos",
            token.as_deref(),
            Some(serde_json::json!({"command": "echo hi", "attach": true})),
        )
        .unwrap();
    assert_eq!(status, 201, "{dyno}");
    assert_eq!(dyno["name"], "run.3");
    let url = dyno["attach_url"].as_str().expect("attach_url").to_owned();
    let plain = reqwest::blocking::get(url.replacen("ws://", "http://", 1)).unwrap();
    assert_eq!(plain.status(), 400);
    assert_eq!(handshake(&url), 101);
    assert_eq!(handshake(&url), 404, "used up");
    let made_up = format!(
        "{}/dyno-sessions/{}",
        p.api_url.replacen("http", "ws", 1),
        "0".repeat(48)
    );
    assert_eq!(handshake(&made_up), 404);
    let (_, detached) = p
        .api(
            "POST",
            "/apps/bg/dynos",
            token.as_deref(),
            Some(serde_json::json!({"command": "true"})),
        )
        .unwrap();
    assert!(detached.get("attach_url").is_none(), "{detached}");

    // Destroying the app takes its one-offs with it, running or lingering.
    ok(
        &p,
        p.paas(&["run", "--detach", "-a", "bg", "--", "sleep 120"]),
    );
    ok(&p, p.paas(&["apps:destroy", "bg", "--confirm", "bg"]));
    let gone = eventually(Duration::from_secs(15), || {
        if one_off_containers(&p, "bg").is_empty() {
            Ok(())
        } else {
            Err(None)
        }
    });
    assert!(
        gone.is_ok(),
        "{:?}\n{}",
        one_off_containers(&p, "bg"),
        p.log()
    );
}

#[test]
fn run_errors_are_clear() {
    let (p, _checkout) = app_checkout("fresh");
    let err = fails(p.paas(&["run", "-a", "nope", "--", "ls"]));
    assert!(err.contains("not found"), "{err}");
    let err = fails(p.paas(&["run", "-a", "fresh", "--", "ls"]));
    assert!(err.contains("has no build to run yet"), "{err}");
    let err = fails(p.paas(&["run", "-a", "fresh", "--", " "]));
    assert!(err.contains("no command given"), "{err}");
    let err = fails(p.paas(&["run", "-a", "fresh"]));
    assert!(err.contains("COMMAND"), "{err}");
    let err = fails(p.paas(&["run", "-a", "fresh", "-e", "1X=y", "--", "ls"]));
    assert!(err.contains("invalid config key"), "{err}");

    let token = p.token.clone();
    let post = |body: serde_json::Value| {
        p.api("POST", "/apps/fresh/dynos", token.as_deref(), Some(body))
            .unwrap()
    };
    let (status, body) = post(serde_json::json!({"command": "  "}));
    assert_eq!((status, body["id"].as_str()), (422, Some("invalid_params")));
    let (status, body) = post(serde_json::json!({"command": "ls", "tty": true}));
    assert_eq!(status, 422, "{body}");
    let (status, body) = post(serde_json::json!({"command": "ls"}));
    assert_eq!(status, 422, "no build yet: {body}");
    let (status, _) = post(serde_json::json!({"nothing": true}));
    assert_eq!(status, 400);
    let (status, _) = p
        .api(
            "POST",
            "/apps/fresh/dynos",
            None,
            Some(serde_json::json!({"command": "ls"})),
        )
        .unwrap();
    assert_eq!(status, 401);
}
