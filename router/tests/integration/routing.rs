//! Which app a request reaches, by Host.

use std::collections::HashMap;

use crate::support::{backend, host, raw, start_router};

#[tokio::test]
async fn routes_by_host_to_each_app() {
    let r = start_router().await;
    r.router
        .set_app("alpha", vec![backend("backend-alpha").await]);
    r.router
        .set_app("beta", vec![backend("backend-beta").await]);

    assert_eq!(
        r.get_text(&host("alpha"), "/").await,
        (200, "backend-alpha".into())
    );
    assert_eq!(
        r.get_text(&host("beta"), "/").await,
        (200, "backend-beta".into())
    );
    for spelling in [
        "alpha.paas.test:8080",
        "ALPHA.PAAS.TEST",
        "Alpha.Paas.Test",
        "alpha.paas.test.",
        "alpha.paas.test.:80",
    ] {
        assert_eq!(
            r.get_text(spelling, "/").await,
            (200, "backend-alpha".into()),
            "Host: {spelling}"
        );
    }
    r.stop().await;
}

#[tokio::test]
async fn absolute_form_target_wins_over_host() {
    let r = start_router().await;
    r.router
        .set_app("alpha", vec![backend("backend-alpha").await]);
    r.router
        .set_app("beta", vec![backend("backend-beta").await]);

    let response = raw(
        r.addr,
        "GET http://beta.paas.test/ HTTP/1.1\r\nHost: alpha.paas.test",
    )
    .await;
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, "backend-beta")
    );

    let response = raw(
        r.addr,
        "GET http://evil.com/ HTTP/1.1\r\nHost: alpha.paas.test",
    )
    .await;
    assert_eq!(response.status, 404);
    assert!(!response.body.contains("backend-"), "{}", response.body);
    r.stop().await;
}

#[tokio::test]
async fn unknown_app_gets_the_routers_404_page() {
    let r = start_router().await;
    r.router
        .set_app("alpha", vec![backend("backend-alpha").await]);

    let response = r.get("nope.paas.test", "/").await;
    assert_eq!(response.status(), 404);
    assert!(response.headers().get("x-backend").is_none());
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(
        body.contains("No app is configured at nope.paas.test"),
        "{body}"
    );
    assert!(body.contains(&id), "request id {id} in {body}");
    assert!(!body.contains("backend-"), "{body}");
    r.stop().await;
}

#[tokio::test]
async fn hostile_hosts_get_404_and_never_an_app() {
    let r = start_router().await;
    r.router
        .set_app("alpha", vec![backend("backend-alpha").await]);
    // A known app named like the labels used below, to make sure none of them leaks through.
    r.router.set_app("a", vec![backend("backend-a").await]);
    r.router.set_app("b", vec![backend("backend-b").await]);

    let heads = [
        "GET / HTTP/1.1\r\nHost: evil.com",
        "GET / HTTP/1.1\r\nHost: paas.test",
        "GET / HTTP/1.1\r\nHost: PAAS.TEST.",
        "GET / HTTP/1.1\r\nHost: a.b.paas.test",
        "GET / HTTP/1.1\r\nHost: alpha.paas.test.evil.com",
        "GET / HTTP/1.1\r\nHost: ../x",
        "GET / HTTP/1.1\r\nHost: ../alpha.paas.test",
        "GET / HTTP/1.1\r\nHost: alpha.paas.test/../x",
        "GET / HTTP/1.1\r\nHost: al pha.paas.test",
        "GET / HTTP/1.1\r\nHost: alpha.paas.test:80:80",
        "GET / HTTP/1.1\r\nHost: alpha.paas.test:http",
        "GET / HTTP/1.1\r\nHost: 127.0.0.1",
        "GET / HTTP/1.1\r\nHost: [::1]:80",
        "GET / HTTP/1.1\r\nHost: ",
        "GET / HTTP/1.1",
        "GET / HTTP/1.1\r\nHost: alpha.paas.test\r\nHost: evil.com",
    ];
    for head in heads {
        let response = raw(r.addr, head).await;
        assert_eq!(response.status, 404, "{head:?}: {}", response.body);
        assert!(response.header("x-backend").is_none(), "{head:?}");
        assert!(
            !response.body.contains("backend-"),
            "{head:?}: {}",
            response.body
        );
        assert!(
            response.body.contains("No app is configured"),
            "{head:?}: {}",
            response.body
        );
    }
    r.stop().await;
}

#[tokio::test]
async fn app_without_web_processes_is_503() {
    let r = start_router().await;
    r.router.set_app("idle", vec![]);

    let response = r.get(&host("idle"), "/").await;
    assert_eq!(response.status(), 503);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(body.contains("No web processes are running"), "{body}");
    assert!(body.contains("scale web"), "{body}");
    assert!(body.contains(&id), "{body}");
    r.stop().await;
}

#[tokio::test]
async fn table_changes_apply_to_the_next_request() {
    let r = start_router().await;
    let alpha = backend("backend-alpha").await;
    let beta = backend("backend-beta").await;
    r.router.set_app("web", vec![alpha]);
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "backend-alpha".into())
    );

    r.router.set_app("web", vec![beta]);
    assert_eq!(r.router.backends("web"), Some(vec![beta]));
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "backend-beta".into())
    );

    r.router.set_app("web", vec![]);
    assert_eq!(r.get(&host("web"), "/").await.status(), 503);

    r.router.remove_app("web");
    assert_eq!(r.router.backends("web"), None);
    assert_eq!(r.get(&host("web"), "/").await.status(), 404);

    r.router.replace(HashMap::from([
        ("web".to_owned(), vec![alpha]),
        ("other".to_owned(), vec![beta]),
    ]));
    assert_eq!(
        r.get_text(&host("web"), "/").await,
        (200, "backend-alpha".into())
    );
    assert_eq!(
        r.get_text(&host("other"), "/").await,
        (200, "backend-beta".into())
    );
    r.stop().await;
}
