//! The engine images builds produce: one tag per build, `paas-app/APP:BUILD`.
//!
//! Images are removed by untagging, never by id: identical builds (the same source on a warm
//! build cache, another installation sharing the engine) share an image id, and the engine
//! deletes an image only when its last tag goes.

use bollard::Docker;

/// The tag of a build's image.
pub fn tag(app: &str, build_id: &str) -> String {
    let short: String = build_id.chars().filter(|c| *c != '-').take(12).collect();
    format!("{}:{short}", repository(app))
}

/// The image repository of an app's builds (`paas-app/APP`).
pub fn repository(app: &str) -> String {
    format!("paas-app/{app}")
}

/// Where buildpack builds keep an app's cache between builds.
pub fn cache_dir(data_dir: &std::path::Path, app: &str) -> std::path::PathBuf {
    data_dir.join("cache").join(app)
}

/// Removes a build's tag; `Ok(true)` when it is gone (or was already), `Ok(false)` when the
/// engine keeps it because a container still uses the image.
pub async fn remove(
    docker: &Docker,
    app: &str,
    build_id: &str,
) -> Result<bool, bollard::errors::Error> {
    let tag = tag(app, build_id);
    match docker
        .remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_name_the_app_and_build() {
        assert_eq!(
            super::tag("shop", "64039b93-8d52-4e64-90f5-117dd0ee0ee8"),
            "paas-app/shop:64039b938d52"
        );
    }
}
