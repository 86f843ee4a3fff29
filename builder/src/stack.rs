//! Stacks: the images buildpack builds run on (build stack) and their apps run on (run stack).
//! `deploy/stacks/make.sh` (run by `paasd stack build`) makes them from Debian packages; the
//! builder only checks that they are there, since nothing can be pulled.

use bollard::Docker;

use crate::buildpack::BuildpackError;

/// The two images of a stack, by name (`paas/stack-build:bookworm`, `paas/stack-run:bookworm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub build_image: String,
    pub run_image: String,
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            build_image: "paas/stack-build:bookworm".into(),
            run_image: "paas/stack-run:bookworm".into(),
        }
    }
}

/// The stack's images as the engine has them now.
#[derive(Debug, Clone)]
pub struct StackImages {
    pub build_id: String,
    pub run_id: String,
    /// The user the run stack's processes run as (its `USER`), `app` unless a stack says otherwise.
    pub run_user: String,
}

impl Stack {
    /// Finds both images; a missing one is an error that says how to make it.
    pub async fn resolve(&self, docker: &Docker) -> Result<StackImages, BuildpackError> {
        let (build_id, _) = image(docker, &self.build_image).await?;
        let (run_id, user) = image(docker, &self.run_image).await?;
        Ok(StackImages {
            build_id,
            run_id,
            run_user: user
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "app".into()),
        })
    }
}

async fn image(docker: &Docker, name: &str) -> Result<(String, Option<String>), BuildpackError> {
    match docker.inspect_image(name).await {
        Ok(image) => Ok((
            image.id.unwrap_or_else(|| name.to_string()),
            image.config.and_then(|c| c.user),
        )),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(BuildpackError::StackMissing {
            image: name.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}
