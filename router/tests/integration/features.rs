//! Per-app behaviour: maintenance, HTTPS redirects, canaries, access log, metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use paas_router::{serve_metrics, AppRoute, Balance, Canary};
use tokio::net::TcpListener;

use crate::support::{backend, host, processes, route, start_router};

#[tokio::test]
async fn maintenance_mode_answers_503_without_the_app() {
    let r = start_router().await;
    let mut web = route(&[backend("backend-web").await]);
    web.maintenance = true;
    r.router.set_route("web", web.clone());

    let response = r.get(&host("web"), "/").await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("x-backend").is_none());
    assert_eq!(response.headers()["retry-after"], "60");
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("down for maintenance"), "{body}");
    assert!(body.contains(&id), "{body}");

    web.maintenance = false;
    r.router.set_route("web", web);
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "backend-web".into())
    );
    r.stop().await;
}

#[tokio::test]
async fn plain_http_is_redirected_to_https_when_asked() {
    let r = start_router().await;
    let mut web = route(&[backend("backend-web").await]);
    web.redirect_https = true;
    r.router.set_route("web", web);
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .post(r.url("/a/b?c=d"))
        .header("host", "WEB.paas.test:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://web.paas.test:{}/a/b?c=d", r.tls_addr.port()).as_str()
    );

    let mut settings = r.router.settings();
    settings.https_port = Some(443);
    r.router.set_settings(settings);
    let response = http
        .get(r.url("/"))
        .header("host", "web.paas.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "https://web.paas.test/");
    r.stop().await;
}

#[tokio::test]
async fn canary_takes_its_weight_and_clients_stick_to_their_side() {
    let r = start_router().await;
    let stable = [backend("stable-1").await, backend("stable-2").await];
    let canary = [backend("canary-1").await];
    let mut web = AppRoute::new(processes(7, &stable));
    web.canary = Some(Canary {
        backends: processes(8, &canary),
        weight: 10,
    });
    assert!(r.router.set_route("web", web.clone()).is_empty());

    // Each request from a new client (no cookie).
    let mut to_canary = 0;
    let mut cookies = HashMap::new();
    for _ in 0..2000 {
        let response = r.get(&host("web"), "/").await;
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.text().await.unwrap();
        if body == "canary-1" {
            to_canary += 1;
            assert!(cookie.starts_with("paas_canary=v8:canary;"), "{cookie}");
        } else {
            assert!(body.starts_with("stable-"), "{body}");
            assert!(cookie.starts_with("paas_canary=v8:stable;"), "{cookie}");
        }
        cookies.insert(body.starts_with("canary"), cookie);
    }
    let share = f64::from(to_canary) / 2000.0 * 100.0;
    assert!((7.0..=13.0).contains(&share), "canary got {share:.1}%");

    // A client with a cookie stays on its side.
    for (is_canary, cookie) in cookies {
        let cookie = cookie.split(';').next().unwrap().to_owned();
        for _ in 0..20 {
            let response = r
                .http
                .get(r.url("/"))
                .header("host", host("web"))
                .header("cookie", format!("theme=dark; {cookie}"))
                .send()
                .await
                .unwrap();
            assert!(response.headers().get("set-cookie").is_none());
            let body = response.text().await.unwrap();
            assert_eq!(body.starts_with("canary"), is_canary, "{cookie}: {body}");
        }
    }

    // Stopping the canary sends everyone to stable, cookie or not.
    web.canary = None;
    r.router.set_route("web", web);
    let response = r
        .http
        .get(r.url("/"))
        .header("host", host("web"))
        .header("cookie", "paas_canary=v8:canary")
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().starts_with("stable-"));
    r.stop().await;
}

#[tokio::test]
async fn least_outstanding_avoids_the_busy_process() {
    let r = start_router().await;
    let mut web = route(&[backend("one").await, backend("two").await]);
    web.balance = Balance::LeastOutstanding;
    r.router.set_route("web", web);

    // Keep one process busy: /slow answers after 3 s.
    let http = r.http.clone();
    let url = r.url("/slow");
    let slow = tokio::spawn(async move {
        http.get(url)
            .header("host", "web.paas.test")
            .send()
            .await?
            .text()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Round robin would alternate; least-outstanding sends all of these to the idle one.
    let mut hits = HashMap::<String, usize>::new();
    for _ in 0..10 {
        let (status, body) = r.get_text(&host("web"), "/").await;
        assert_eq!(status, 200);
        *hits.entry(body).or_default() += 1;
    }
    let busy = slow.await.unwrap().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(!hits.contains_key(&busy), "{busy} was busy: {hits:?}");
    r.stop().await;
}

#[tokio::test]
async fn access_log_lines_describe_each_request() {
    let r = start_router().await;
    let mut web = route(&[backend("backend-web").await]);
    r.router.set_route("web", web.clone());
    let mut log = r.router.access_log();

    let response = r
        .http
        .get(r.url("/path?q=1"))
        .header("host", "web.paas.test")
        .header("x-request-id", "request-id-for-the-log")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "backend-web");
    let line = tokio::time::timeout(Duration::from_secs(5), log.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&*line.app, "web");
    let l = &line.line;
    for part in [
        "at=info method=GET path=\"/path?q=1\" host=web.paas.test ",
        "request_id=request-id-for-the-log fwd=\"127.0.0.1\" dyno=web.1 connect=",
        " status=200 bytes=11 protocol=http",
    ] {
        assert!(l.contains(part), "{part:?} not in {l}");
    }

    web.maintenance = true;
    r.router.set_route("web", web);
    assert_eq!(r.get(&host("web"), "/").await.status(), 503);
    let line = log.recv().await.unwrap();
    assert!(
        line.line
            .starts_with("at=error code=H80 desc=\"Maintenance mode\" method=GET path=\"/\""),
        "{}",
        line.line
    );
    assert!(line.line.contains(" status=503 "), "{}", line.line);
    r.stop().await;
}

#[tokio::test]
async fn metrics_count_what_was_sent() {
    let r = start_router().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = tokio::spawn(serve_metrics(listener, Arc::clone(&r.router), async move {
        let _ = stopped.await;
    }));
    let stable = [backend("stable").await];
    let canary = [backend("canary").await];
    let mut web = AppRoute::new(processes(3, &stable));
    web.canary = Some(Canary {
        backends: processes(4, &canary),
        weight: 50,
    });
    r.router.set_route("web", web);
    r.router.set_route("idle", AppRoute::default());

    for _ in 0..10 {
        assert_eq!(r.get(&host("web"), "/").await.status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(r.get(&host("idle"), "/").await.status(), 503);
    }
    for _ in 0..2 {
        let response = r
            .http
            .post(r.url("/echo"))
            .header("host", host("web"))
            .header("cookie", "paas_canary=v4:canary")
            .body("12345")
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "12345");
    }
    assert_eq!(r.get("nobody.paas.test", "/").await.status(), 404);

    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} not in\n{text}"))
    };
    let v3 = "app=\"web\",release=\"v3\",process_type=\"web\"";
    let v4 = "app=\"web\",release=\"v4\",process_type=\"web\"";
    let idle = "app=\"idle\",release=\"\",process_type=\"\"";
    assert_eq!(
        value(&format!("paas_router_requests_total{{{v3},code=\"2xx\"}}")),
        5
    );
    assert_eq!(
        value(&format!("paas_router_requests_total{{{v4},code=\"2xx\"}}")),
        7
    );
    assert_eq!(
        value(&format!(
            "paas_router_requests_total{{{idle},code=\"5xx\"}}"
        )),
        3
    );
    assert_eq!(
        value(&format!(
            "paas_router_request_duration_seconds_count{{{v4}}}"
        )),
        7
    );
    assert_eq!(
        value(&format!(
            "paas_router_request_duration_seconds_bucket{{{v3},le=\"+Inf\"}}"
        )),
        5
    );
    assert_eq!(
        value(&format!("paas_router_request_bytes_total{{{v4}}}")),
        10
    );
    // "stable" five times, "canary" five times, "12345" twice.
    assert_eq!(
        value(&format!("paas_router_response_bytes_total{{{v3}}}")),
        30
    );
    assert_eq!(
        value(&format!("paas_router_response_bytes_total{{{v4}}}")),
        40
    );
    assert_eq!(value("paas_router_unknown_host_requests_total"), 1);
    assert_eq!(
        reqwest::get(format!("http://{metrics_addr}/other"))
            .await
            .unwrap()
            .status(),
        404
    );
    let _ = stop.send(());
    metrics.await.unwrap().unwrap();
    r.stop().await;
}
