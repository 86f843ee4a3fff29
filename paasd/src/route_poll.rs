//! A router on its own follows the controller's route table by long polling; while the
//! controller cannot be reached it keeps serving the last table it got.

use std::sync::Arc;

use crate::controller_client::{Backoff, ControllerClient, FeedError};
use crate::route_table::Applier;

pub fn spawn(
    client: ControllerClient,
    router: Arc<paas_router::Router>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut applier = Applier::new(router);
        let mut version: Option<u64> = None;
        let mut backoff = Backoff::new();
        // The problem last logged: each is said once, not on every retry.
        let mut failing: Option<String> = None;
        loop {
            match client.routes(version).await {
                Ok(table) => {
                    backoff.reset();
                    if failing.take().is_some() || version.is_none() {
                        tracing::info!(
                            controller = %client.url(),
                            version = table.version,
                            apps = table.apps.len(),
                            "route table received from the controller"
                        );
                    }
                    if version != Some(table.version) {
                        tracing::debug!(
                            version = table.version,
                            apps = table.apps.len(),
                            "route table applied"
                        );
                        applier.apply(&table);
                        version = Some(table.version);
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    if failing.as_deref() != Some(&text) {
                        match &e {
                            FeedError::TokenRejected(_) => {
                                tracing::error!(controller = %client.url(), "{text}")
                            }
                            _ => tracing::warn!(
                                controller = %client.url(),
                                error = %text,
                                serving = ?version,
                                "cannot get the route table; serving the last one received"
                            ),
                        }
                        failing = Some(text);
                    }
                    backoff.wait().await;
                }
            }
        }
    })
}
