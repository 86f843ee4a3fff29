//! Resources as the API would send them, for unit tests of the human output.

use chrono::{DateTime, TimeZone, Utc};
use paas_api::{App, Dyno, Formation, Release};
use serde_json::json;

const ID: &str = "00000000-0000-0000-0000-000000000001";

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, minute, 0).unwrap()
}

pub fn app(name: &str, current_release: Option<i64>) -> App {
    serde_json::from_value(json!({
        "id": ID, "name": name, "owner": {"id": ID, "name": "admin"},
        "web_url": format!("http://{name}.localhost/"),
        "git_url": format!("http://127.0.0.1:7000/{name}.git"),
        "created_at": at(0), "updated_at": at(0), "released_at": null,
        "current_release": current_release,
    }))
    .unwrap()
}

pub fn formation(process_type: &str, quantity: i64) -> Formation {
    serde_json::from_value(json!({
        "id": ID, "app": {"id": ID, "name": "hello"}, "type": process_type, "quantity": quantity,
        "command": null, "size": "standard", "created_at": at(0), "updated_at": at(0),
    }))
    .unwrap()
}

pub fn release(version: i64, description: &str, status: &str, current: bool) -> Release {
    serde_json::from_value(json!({
        "id": ID, "app": {"id": ID, "name": "hello"}, "version": version,
        "description": description, "status": status, "current": current, "slug": null,
        "user": {"id": ID, "name": "admin"}, "created_at": at(version as u32), "updated_at": at(0),
    }))
    .unwrap()
}

pub fn dyno(name: &str, state: &str, release: i64) -> Dyno {
    let process_type = name.split('.').next().unwrap();
    serde_json::from_value(json!({
        "id": name, "app": {"id": ID, "name": "hello"}, "name": name, "type": process_type,
        "state": state, "command": null, "release": {"id": ID, "version": release},
        "size": "standard", "created_at": at(1), "updated_at": at(1),
    }))
    .unwrap()
}
