//! How the router reaches an app: custom domains (`/apps/{app}/domains`), TLS certificates
//! (`/apps/{app}/sni-endpoints`, as Heroku calls them) and maintenance mode (`PATCH /apps/{app}`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use paas_api::{App, AppUpdate, Domain, DomainCreate, SniEndpoint, SniEndpointCreate};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::routes::apps::app_view;
use crate::state::AppState;
use crate::store::{AppRow, CertificateRow, DomainRow};
use crate::views;

fn default_host(state: &AppState, app: &AppRow) -> String {
    format!("{}.{}", app.name, state.settings.domain)
}

fn domain_view(state: &AppState, app: &AppRow, d: &DomainRow) -> Domain {
    Domain {
        id: views::uid(&d.id),
        hostname: d.hostname.clone(),
        kind: "custom".into(),
        cname: Some(default_host(state, app)),
        created_at: d.created_at,
        updated_at: d.created_at,
    }
}

/// Routes change as soon as the table is republished.
async fn republish(state: &AppState) -> ApiResult<()> {
    Ok(state.deployer.publish_routes().await?)
}

pub async fn list_domains(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<Domain>>> {
    let app = state.app_for(&user, &name).await?;
    let mut out = vec![Domain {
        id: uuid::Uuid::nil(),
        hostname: default_host(&state, &app),
        kind: "default".into(),
        cname: None,
        created_at: app.created_at,
        updated_at: app.created_at,
    }];
    for d in state.store.domains(&app.id).await? {
        out.push(domain_view(&state, &app, &d));
    }
    Ok(ApiJson(out))
}

pub async fn create_domain(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<DomainCreate>,
) -> ApiResult<(StatusCode, ApiJson<Domain>)> {
    let app = state.app_for(&user, &name).await?;
    let hostname = paas_router::validate_domain(&state.settings.domain, req.hostname.trim())
        .map_err(|e| {
            ApiError::invalid(format!(
                "{e}; use a name like www.example.com or *.example.com"
            ))
        })?;
    let row = state
        .store
        .add_domain(&app.id, &hostname)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => ApiError::conflict(format!(
                "domain {hostname} is already used by an app; remove it there first"
            )),
            other => other.into(),
        })?;
    republish(&state).await?;
    state.platform_event(
        &app.name,
        format!("Domain {hostname} added by {}", user.name),
    );
    Ok((
        StatusCode::CREATED,
        ApiJson(domain_view(&state, &app, &row)),
    ))
}

pub async fn delete_domain(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, hostname)): Path<(String, String)>,
) -> ApiResult<ApiJson<Domain>> {
    let app = state.app_for(&user, &name).await?;
    let hostname = hostname.to_ascii_lowercase();
    let row = state
        .store
        .domains(&app.id)
        .await?
        .into_iter()
        .find(|d| d.hostname == hostname)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no domain {hostname} on {name}; `paas domains` lists them"
            ))
        })?;
    state.store.remove_domain(&app.id, &hostname).await?;
    republish(&state).await?;
    state.platform_event(
        &app.name,
        format!("Domain {hostname} removed by {}", user.name),
    );
    Ok(ApiJson(domain_view(&state, &app, &row)))
}

pub async fn update_app(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<AppUpdate>,
) -> ApiResult<ApiJson<App>> {
    let app = state.app_for(&user, &name).await?;
    if let Some(on) = req.maintenance {
        state.store.set_maintenance(&app.id, on).await?;
        republish(&state).await?;
        let what = if on { "on" } else { "off" };
        state.platform_event(
            &app.name,
            format!("Maintenance mode {what} by {}", user.name),
        );
    }
    let app = state.app_for(&user, &name).await?;
    Ok(ApiJson(app_view(&state, &app).await?))
}

fn endpoint_view(c: &CertificateRow) -> SniEndpoint {
    SniEndpoint {
        id: views::uid(&c.id),
        domains: c.names(),
        expires_at: c.not_after,
        created_at: c.created_at,
        updated_at: c.created_at,
    }
}

pub async fn list_sni_endpoints(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Vec<SniEndpoint>>> {
    let app = state.app_for(&user, &name).await?;
    let certs = state.store.certificates(&app.id).await?;
    Ok(ApiJson(certs.iter().map(endpoint_view).collect()))
}

/// The certificate must match its key, be valid now, and cover at least one of the app's
/// hostnames (its custom domains, or APP.DOMAIN).
pub async fn create_sni_endpoint(
    State(state): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<SniEndpointCreate>,
) -> ApiResult<(StatusCode, ApiJson<SniEndpoint>)> {
    let app = state.app_for(&user, &name).await?;
    let info = paas_router::validate_certificate(&req.certificate_chain, &req.private_key, &[])
        .map_err(|e| ApiError::invalid(format!("certificate refused: {e}")))?;
    let mut hosts: Vec<String> = state
        .store
        .domains(&app.id)
        .await?
        .into_iter()
        .map(|d| d.hostname)
        .collect();
    hosts.push(default_host(&state, &app));
    let covered = hosts.iter().any(|h| match h.strip_prefix("*.") {
        Some(parent) => info
            .names
            .iter()
            .any(|n| n == h || n.ends_with(&format!(".{parent}"))),
        None => info.covers(h),
    });
    if !covered {
        return Err(ApiError::invalid(format!(
            "the certificate covers {}, none of the app's hostnames ({}); add the domain first with `paas domains:add`",
            info.names.join(", "),
            hosts.join(", ")
        )));
    }
    let not_after: DateTime<Utc> = info.not_after.into();
    let row = state
        .store
        .add_certificate(
            &app.id,
            &req.certificate_chain,
            &req.private_key,
            &info.names,
            not_after,
        )
        .await?;
    republish(&state).await?;
    state.platform_event(
        &app.name,
        format!(
            "Certificate for {} added by {}",
            info.names.join(", "),
            user.name
        ),
    );
    Ok((StatusCode::CREATED, ApiJson(endpoint_view(&row))))
}

pub async fn delete_sni_endpoint(
    State(state): State<AppState>,
    user: AuthUser,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<ApiJson<SniEndpoint>> {
    let app = state.app_for(&user, &name).await?;
    let row = state
        .store
        .certificates(&app.id)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no certificate {id} on {name}; `paas certs` lists them"
            ))
        })?;
    state.store.remove_certificate(&app.id, &id).await?;
    republish(&state).await?;
    state.platform_event(
        &app.name,
        format!(
            "Certificate for {} removed by {}",
            row.names().join(", "),
            user.name
        ),
    );
    Ok(ApiJson(endpoint_view(&row)))
}
