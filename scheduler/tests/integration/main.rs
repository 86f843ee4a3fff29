//! Against the real Docker engine at `DOCKER_HOST` (default `unix:///var/run/docker.sock`), with
//! the `paas/busybox` image (made from the host's busybox-static when missing).

mod harness;
mod reconcile;
mod runtime;
