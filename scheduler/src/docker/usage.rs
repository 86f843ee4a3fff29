//! A process's memory and CPU use, from the engine's stats.

use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;

use super::{engine, DockerRuntime};
use crate::runtime::{Process, Usage};
use crate::RuntimeError;

pub(super) async fn usage(rt: &DockerRuntime, process: &Process) -> Result<Usage, RuntimeError> {
    // Not streamed: the engine takes two samples a second apart, which gives the CPU delta.
    let options = StatsOptionsBuilder::new().stream(false).build();
    let stats = rt
        .docker
        .stats(&process.id, Some(options))
        .next()
        .await
        .ok_or_else(|| RuntimeError::Engine(format!("no stats for {}", process.name())))?
        .map_err(engine)?;
    let memory = stats.memory_stats.unwrap_or_default();
    // Page cache is reclaimable; cgroup v1 reports it as `cache`, v2 as `inactive_file`.
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| s.get("cache").or_else(|| s.get("inactive_file")).copied())
        .unwrap_or(0);
    let memory_bytes = memory.usage.unwrap_or(0).saturating_sub(cache);
    let (cpu, pre) = (
        stats.cpu_stats.unwrap_or_default(),
        stats.precpu_stats.unwrap_or_default(),
    );
    let total = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = total(&cpu).saturating_sub(total(&pre)) as f64;
    let system_delta = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = f64::from(cpu.online_cpus.unwrap_or(1).max(1));
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    };
    Ok(Usage {
        memory_bytes,
        cpu_percent,
    })
}
