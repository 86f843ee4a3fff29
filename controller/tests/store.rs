//! Every store function against both backends: SQLite (the default) and a throwaway Postgres.
//! sqlx checks column types only when a row is decoded, so a query a test never runs on
//! Postgres could still disagree with the Postgres schema; hence one pass over everything.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use paas_controller::store::{NewRelease, ProcessSettingsRow, Store, StoreError};
use paas_testkit::Postgres;

#[tokio::test]
async fn every_query_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("paas.db").display());
    exercise(&Store::connect(&url).await.unwrap()).await;
    // Reopening runs the migrations again: they are already applied.
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);
}

#[tokio::test]
async fn every_query_on_postgres() {
    let pg = Postgres::start().expect("a throwaway Postgres for this test");
    pg.create_db("paas").unwrap();
    let url = pg.url("paas");
    exercise(&Store::connect(&url).await.unwrap()).await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);
}

/// What SQLite's single writer gives for free, Postgres (read committed) gets from locks.
#[tokio::test]
async fn concurrent_writes_on_postgres() {
    let pg = Postgres::start().expect("a throwaway Postgres for this test");
    pg.create_db("paas").unwrap();
    let store = Store::connect(&pg.url("paas")).await.unwrap();

    let users = futures(8, |i| {
        let store = store.clone();
        async move { store.create_user(&format!("u{i}"), "h", true).await }
    })
    .await;
    let admins = users.iter().filter(|u| u.as_ref().unwrap().admin).count();
    assert_eq!(admins, 1, "exactly one first user: {users:?}");

    let owner = users[0].as_ref().unwrap().id.clone();
    let app = store.create_app("busy", &owner).await.unwrap();
    let releases = futures(8, |i| {
        let (store, app_id, owner) = (store.clone(), app.id.clone(), owner.clone());
        async move {
            let patch = BTreeMap::from([(format!("K{i}"), Some("v".to_string()))]);
            store
                .change_config(&app_id, &patch, format!("set K{i}"), &owner)
                .await
        }
    })
    .await;
    let mut versions: Vec<i64> = releases
        .iter()
        .map(|r| r.as_ref().unwrap().version)
        .collect();
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn unreachable_and_unsupported_urls_are_refused() {
    let url = "postgres://paas:secret@127.0.0.1:1/paas";
    let err = Store::connect(url)
        .await
        .err()
        .expect("nothing listens on port 1");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{msg}");
    assert!(
        msg.contains("postgres://paas:***@127.0.0.1:1/paas"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");

    let err = Store::connect("mysql://localhost/paas")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err}");
}

async fn futures<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn exercise(s: &Store) {
    let started = Utc::now() - Duration::seconds(5);

    // users: the first is admin, names are unique.
    let alice = s.create_user("alice", "hash-a", true).await.unwrap();
    assert!(alice.admin);
    let bob = s.create_user("bob", "hash-b", true).await.unwrap();
    assert!(!bob.admin);
    assert!(matches!(
        s.create_user("alice", "x", true).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.count_users().await.unwrap(), 2);
    let found = s.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(found.id, alice.id);
    assert!(found.admin);
    assert!(found.created_at > started);
    assert_eq!(s.user_by_id(&bob.id).await.unwrap().unwrap().name, "bob");
    assert!(s.user_by_name("carol").await.unwrap().is_none());
    let names: Vec<String> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // apps and collaborators.
    let app = s.create_app("web-app", &alice.id).await.unwrap();
    assert_eq!(app.owner_name, "alice");
    assert!(!app.maintenance);
    assert_eq!((app.canary_release, app.canary_weight), (None, 0));
    assert_eq!(app.router_settings, "{}");
    assert!(matches!(
        s.create_app("web-app", &bob.id).await,
        Err(StoreError::Conflict(_))
    ));
    s.create_app("another", &alice.id).await.unwrap();
    let all: Vec<String> = s
        .list_apps(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(all, ["another", "web-app"]);
    assert!(s.list_apps(Some(&bob.id)).await.unwrap().is_empty());
    assert!(!s.is_collaborator(&app.id, &bob.id).await.unwrap());
    let collab = s.add_collaborator(&app.id, &bob.id, "bob").await.unwrap();
    assert!(matches!(
        s.add_collaborator(&app.id, &bob.id, "bob").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.is_collaborator(&app.id, &bob.id).await.unwrap());
    let listed = s.list_collaborators(&app.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].user_name.as_str()),
        (collab.id.as_str(), "bob")
    );
    let bobs: Vec<String> = s
        .list_apps(Some(&bob.id))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(bobs, ["web-app"]);
    assert!(s.remove_collaborator(&app.id, &bob.id).await.unwrap());
    assert!(!s.remove_collaborator(&app.id, &bob.id).await.unwrap());
    s.touch_app(&app.id).await.unwrap();
    assert!(s.app_by_name("web-app").await.unwrap().unwrap().updated_at >= app.updated_at);

    // config and releases: v1 config only, v2 a build, v3 config on that build, v4 rollback.
    let set = BTreeMap::from([
        ("A".to_string(), Some("1".to_string())),
        ("B".to_string(), Some("2".to_string())),
    ]);
    let v1 = s
        .change_config(&app.id, &set, "Set A, B".into(), &alice.id)
        .await
        .unwrap();
    assert_eq!(
        (v1.version, v1.build_id.as_deref(), v1.status.as_str()),
        (1, None, "pending")
    );
    assert_eq!(v1.user_name, "alice");
    s.set_release_status(&v1.id, "succeeded").await.unwrap();
    let config = s.config_vars(&app.id).await.unwrap();
    assert_eq!(
        config,
        BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())])
    );

    let build = s.create_build(&app.id, &alice.id, "abc123").await.unwrap();
    assert_eq!(
        (build.status.as_str(), build.commit_sha.as_deref()),
        ("pending", Some("abc123"))
    );
    let types = BTreeMap::from([("web".to_string(), "./server".to_string())]);
    s.finish_build(&build.id, true, Some("img:1"), &types, "built")
        .await
        .unwrap();
    let build = s.build_by_id(&build.id).await.unwrap().unwrap();
    assert_eq!(
        (build.status.as_str(), build.image.as_deref()),
        ("succeeded", Some("img:1"))
    );
    assert_eq!(build.process_types(), types);
    assert_eq!(
        (build.output.as_str(), build.user_name.as_str()),
        ("built", "alice")
    );
    let failed = s.create_build(&app.id, &alice.id, "def456").await.unwrap();
    s.finish_build(&failed.id, false, None, &BTreeMap::new(), "boom")
        .await
        .unwrap();
    let statuses: Vec<String> = s
        .list_builds(&app.id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.status)
        .collect();
    assert_eq!(statuses, ["succeeded", "failed"]);

    let new = NewRelease {
        build_id: Some(&build.id),
        description: "Deploy".into(),
        user_id: &alice.id,
    };
    let v2 = s.release_build(&app.id, new).await.unwrap();
    assert_eq!(
        (v2.version, v2.build_id.as_deref()),
        (2, Some(build.id.as_str()))
    );
    assert_eq!(v2.config(), config);
    assert_eq!(
        s.current_release(&app.id).await.unwrap().unwrap().version,
        1,
        "v2 pending"
    );
    s.set_release_status(&v2.id, "succeeded").await.unwrap();
    assert_eq!(s.current_release(&app.id).await.unwrap().unwrap().id, v2.id);

    let unset = BTreeMap::from([("B".to_string(), None)]);
    let v3 = s
        .change_config(&app.id, &unset, "Unset B".into(), &alice.id)
        .await
        .unwrap();
    assert_eq!(
        (v3.version, v3.build_id.as_deref()),
        (3, Some(build.id.as_str()))
    );
    assert_eq!(v3.config(), BTreeMap::from([("A".into(), "1".into())]));
    s.set_release_status(&v3.id, "failed").await.unwrap();
    assert_eq!(
        s.current_release(&app.id).await.unwrap().unwrap().version,
        2,
        "v3 failed"
    );

    let target = s.release_by_version(&app.id, 1).await.unwrap().unwrap();
    let v4 = s.rollback(&app.id, &target, &bob.id).await.unwrap();
    assert_eq!(
        (v4.version, v4.description.as_str(), v4.user_name.as_str()),
        (4, "Rollback to v1", "bob")
    );
    assert_eq!(s.config_vars(&app.id).await.unwrap(), config);
    assert!(s.release_by_version(&app.id, 9).await.unwrap().is_none());
    assert_eq!(
        s.release_by_id(&app.id, &v3.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "failed"
    );
    let versions: Vec<i64> = s
        .list_releases(&app.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    s.forget_build_image(&build.id).await.unwrap();
    assert!(s
        .build_by_id(&build.id)
        .await
        .unwrap()
        .unwrap()
        .image
        .is_none());

    // formation: new types start at web=1, others 0; later additions never reset quantities.
    s.add_process_types(&app.id, &["worker".into(), "web".into()])
        .await
        .unwrap();
    let quantities = |rows: Vec<paas_controller::store::FormationRow>| {
        rows.into_iter()
            .map(|f| (f.process_type, f.quantity))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        quantities(s.formation(&app.id).await.unwrap()),
        [("web".to_string(), 1), ("worker".to_string(), 0)]
    );
    s.set_quantities(&app.id, &[("web".into(), 3), ("clock".into(), 1)])
        .await
        .unwrap();
    s.add_process_types(&app.id, &["web".into()]).await.unwrap();
    assert_eq!(
        quantities(s.formation(&app.id).await.unwrap()),
        [
            ("clock".to_string(), 1),
            ("web".to_string(), 3),
            ("worker".to_string(), 0)
        ]
    );

    // process settings.
    assert!(s.process_settings(&app.id).await.unwrap().is_empty());
    let mut web = ProcessSettingsRow::defaults("web");
    web.memory_bytes = Some(512 * 1024 * 1024);
    web.health_path = Some("/health".into());
    let worker = ProcessSettingsRow {
        nano_cpus: Some(500_000_000),
        ..ProcessSettingsRow::defaults("worker")
    };
    s.set_process_settings(&app.id, &[worker.clone(), web.clone()])
        .await
        .unwrap();
    web.health_attempts = 7;
    s.set_process_settings(&app.id, &[web.clone()])
        .await
        .unwrap();
    assert_eq!(s.process_settings(&app.id).await.unwrap(), [web, worker]);

    // log drains.
    s.add_drain(&app.id, "syslog://logs.example:514")
        .await
        .unwrap();
    s.add_drain(&app.id, "https://logs.example/in")
        .await
        .unwrap();
    assert!(matches!(
        s.add_drain(&app.id, "https://logs.example/in").await,
        Err(StoreError::Conflict(_))
    ));
    let drains = s.drains(&app.id).await.unwrap();
    assert_eq!(drains.len(), 2);
    assert_eq!(drains[0].app_name, "web-app");
    assert_eq!(s.all_drains().await.unwrap().len(), 2);
    assert!(s
        .remove_drain(&app.id, "https://logs.example/in")
        .await
        .unwrap());
    assert!(s.remove_drain(&app.id, &drains[0].id).await.unwrap());
    assert!(!s.remove_drain(&app.id, &drains[0].id).await.unwrap());

    // routing: domains, certificates, canary, router settings, maintenance.
    s.add_domain(&app.id, "www.example.com").await.unwrap();
    s.add_domain(&app.id, "api.example.com").await.unwrap();
    assert!(matches!(
        s.add_domain(&app.id, "www.example.com").await,
        Err(StoreError::Conflict(_))
    ));
    let hosts: Vec<String> = s
        .domains(&app.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.hostname)
        .collect();
    assert_eq!(hosts, ["api.example.com", "www.example.com"]);
    assert_eq!(s.all_domains().await.unwrap().len(), 2);
    assert!(s.remove_domain(&app.id, "api.example.com").await.unwrap());
    assert!(!s.remove_domain(&app.id, "api.example.com").await.unwrap());

    let not_after = Utc::now() + Duration::days(90);
    let names = ["www.example.com".to_string()];
    let cert = s
        .add_certificate(&app.id, "CERT", "KEY", &names, not_after)
        .await
        .unwrap();
    let certs = s.certificates(&app.id).await.unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].names(), names);
    assert_eq!(
        (certs[0].cert_pem.as_str(), certs[0].key_pem.as_str()),
        ("CERT", "KEY")
    );
    // Postgres keeps microseconds.
    assert!((certs[0].not_after - not_after).abs() < Duration::milliseconds(1));
    assert_eq!(s.all_certificates().await.unwrap().len(), 1);
    assert!(s.remove_certificate(&app.id, &cert.id).await.unwrap());
    assert!(s.certificates(&app.id).await.unwrap().is_empty());

    s.set_canary(&app.id, Some((2, 25))).await.unwrap();
    s.set_router_settings(&app.id, r#"{"timeout_secs":5}"#)
        .await
        .unwrap();
    s.set_maintenance(&app.id, true).await.unwrap();
    let a = s.app_by_name("web-app").await.unwrap().unwrap();
    assert_eq!(
        (a.canary_release, a.canary_weight, a.maintenance),
        (Some(2), 25, true)
    );
    assert_eq!(a.router_settings, r#"{"timeout_secs":5}"#);
    s.set_canary(&app.id, None).await.unwrap();
    s.set_maintenance(&app.id, false).await.unwrap();
    let a = s.app_by_name("web-app").await.unwrap().unwrap();
    assert_eq!(
        (a.canary_release, a.canary_weight, a.maintenance),
        (None, 0, false)
    );

    // deleting the app takes its releases, builds, config and the rest with it.
    s.delete_app(&app.id).await.unwrap();
    assert!(s.app_by_name("web-app").await.unwrap().is_none());
    assert!(s.list_releases(&app.id).await.unwrap().is_empty());
    assert!(s.list_builds(&app.id).await.unwrap().is_empty());
    assert!(s.config_vars(&app.id).await.unwrap().is_empty());
    assert!(s.formation(&app.id).await.unwrap().is_empty());
    assert!(s.domains(&app.id).await.unwrap().is_empty());
    assert_eq!(s.list_apps(None).await.unwrap().len(), 1);
}
