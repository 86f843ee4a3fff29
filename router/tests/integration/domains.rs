//! Custom domains: exact names and wildcards, the most specific winning.

use crate::support::{backend, raw, route, start_router};

#[tokio::test]
async fn custom_domains_route_exact_then_app_then_longest_wildcard() {
    let r = start_router().await;
    let mut shop = route(&[backend("backend-shop").await]);
    shop.domains = vec!["www.example.com".into(), "*.example.com".into()];
    let mut api = route(&[backend("backend-api").await]);
    api.domains = vec!["*.api.example.com".into(), "Status.Example.com.".into()];
    assert!(r.router.set_route("shop", shop).is_empty());
    assert!(r.router.set_route("api", api).is_empty());

    for (host, expected) in [
        ("www.example.com", "backend-shop"),
        ("WWW.EXAMPLE.COM:8080", "backend-shop"),
        ("anything.example.com", "backend-shop"),
        ("deep.er.example.com.", "backend-shop"),
        ("api.example.com", "backend-shop"),
        ("v1.api.example.com", "backend-api"),
        ("status.example.com", "backend-api"),
        ("shop.paas.test", "backend-shop"),
        ("api.paas.test", "backend-api"),
    ] {
        assert_eq!(
            r.get_text(host, "/").await,
            (200, expected.to_owned()),
            "Host: {host}"
        );
    }
    for host in [
        "example.com",
        "www.example.org",
        "example.com.evil.org",
        "x.paas.test",
    ] {
        let response = raw(r.addr, &format!("GET / HTTP/1.1\r\nHost: {host}")).await;
        assert_eq!(response.status, 404, "{host}");
        assert!(response.body.contains("No app is configured"), "{host}");
        assert!(response.header("x-backend").is_none(), "{host}");
    }
    r.stop().await;
}

#[tokio::test]
async fn a_contested_domain_stays_with_one_app_and_the_other_is_told() {
    let r = start_router().await;
    let mut a = route(&[backend("backend-a").await]);
    a.domains = vec!["www.example.com".into()];
    let mut b = route(&[backend("backend-b").await]);
    b.domains = vec!["www.example.com".into(), "b.paas.test".into()];
    let problems = r.router.replace_routes(
        [("a".to_owned(), a), ("b".to_owned(), b)]
            .into_iter()
            .collect(),
    );
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(
        text[0].contains("www.example.com") && text[0].contains("already served by app a"),
        "{text:?}"
    );
    assert!(text[1].contains("b.paas.test"), "{text:?}");
    assert_eq!(
        r.get_text("www.example.com", "/").await,
        (200, "backend-a".into())
    );
    assert_eq!(
        r.get_text("b.paas.test", "/").await,
        (200, "backend-b".into())
    );
    r.stop().await;
}
