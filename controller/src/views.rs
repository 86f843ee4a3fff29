//! Store rows to the API's wire types.

use paas_api as api;
use uuid::Uuid;

use crate::state::Settings;
use crate::store::{AppRow, BuildRow, CollaboratorRow, FormationRow, ReleaseRow, UserRow};

/// Ids are written by this process as UUIDs; an unparsable one means a hand-edited database.
pub fn uid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or(Uuid::nil())
}

pub fn app_ref(app: &AppRow) -> api::AppRef {
    api::AppRef {
        id: uid(&app.id),
        name: app.name.clone(),
    }
}

pub fn account(u: &UserRow) -> api::Account {
    api::Account {
        id: uid(&u.id),
        name: u.name.clone(),
        admin: u.admin,
        created_at: u.created_at,
    }
}

pub fn app(settings: &Settings, a: &AppRow, current: Option<&ReleaseRow>) -> api::App {
    api::App {
        id: uid(&a.id),
        name: a.name.clone(),
        owner: api::UserRef {
            id: uid(&a.owner_id),
            name: a.owner_name.clone(),
        },
        web_url: settings.web_url(&a.name),
        git_url: settings.git_url(&a.name),
        created_at: a.created_at,
        updated_at: a.updated_at,
        released_at: current.map(|r| r.created_at),
        current_release: current.map(|r| r.version),
        maintenance: a.maintenance,
    }
}

fn status<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .or_else(|_| serde_json::from_value(serde_json::Value::String("failed".into())))
        .expect("`failed` is a status of builds and releases")
}

pub fn release(app: &AppRow, r: &ReleaseRow, current_version: Option<i64>) -> api::Release {
    api::Release {
        id: uid(&r.id),
        app: app_ref(app),
        version: r.version,
        description: r.description.clone(),
        status: status(&r.status),
        current: current_version == Some(r.version),
        slug: r.build_id.as_deref().map(|b| api::IdRef { id: uid(b) }),
        user: api::UserRef {
            id: uid(&r.user_id),
            name: r.user_name.clone(),
        },
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

pub fn build(app: &AppRow, b: &BuildRow, release: Option<&ReleaseRow>) -> api::Build {
    api::Build {
        id: uid(&b.id),
        app: app_ref(app),
        status: status(&b.status),
        source_blob: api::SourceBlob {
            version: b.commit_sha.clone(),
        },
        release: release.map(|r| api::ReleaseRef {
            id: uid(&r.id),
            version: r.version,
        }),
        user: api::UserRef {
            id: uid(&b.user_id),
            name: b.user_name.clone(),
        },
        image: b.image.clone(),
        process_types: b.process_types(),
        created_at: b.created_at,
        updated_at: b.updated_at,
    }
}

pub fn formation(app: &AppRow, f: &FormationRow, command: Option<String>) -> api::Formation {
    api::Formation {
        id: uid(&f.id),
        app: app_ref(app),
        process_type: f.process_type.clone(),
        quantity: f.quantity,
        command,
        size: "standard".to_string(),
        created_at: f.created_at,
        updated_at: f.updated_at,
    }
}

pub fn collaborator(app: &AppRow, c: &CollaboratorRow) -> api::Collaborator {
    api::Collaborator {
        id: uid(&c.id),
        app: app_ref(app),
        user: api::UserRef {
            id: uid(&c.user_id),
            name: c.user_name.clone(),
        },
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}
