//! The diff between what should run and what runs, computed without touching the engine.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Desired, ReconcileOptions};
use crate::runtime::{Process, ProcessSpec, ProcessState};

/// Process types the reconcile loop never touches: one-off processes (`paas run`) and the
/// release phase run to their own end.
pub const ONE_OFF_TYPES: [&str; 2] = ["run", "release"];

/// The longest a crashed process waits before it is started again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A process that ran this long before crashing starts its backoff afresh.
const STABLE_RUN: Duration = Duration::from_secs(600);

/// How long a slot waits after its process crashed `restarts` times in a row: 1 s, 2 s, 4 s, ...
pub fn backoff(restarts: u32) -> Duration {
    Duration::from_secs(1u64 << restarts.min(16)).min(MAX_BACKOFF)
}

/// What [`reconcile_app`](super::reconcile_app) does, in this order: start `start`, remove
/// `remove`, wait for the new processes, then remove `retire` once they are up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Processes of the current release that fill their slot and are up or starting: untouched.
    pub keep: Vec<Process>,
    /// Slots of the current release with no live process.
    pub start: Vec<ProcessSpec>,
    /// Processes that serve nothing the desired state needs (crashed or stopped, duplicates of a
    /// kept process, scaled away in the current release): removed right away.
    pub remove: Vec<Process>,
    /// Live processes that must go (other releases, scaled away, restarted): removed only once
    /// the new ones are up and traffic has moved off them, so no request is dropped.
    pub retire: Vec<Process>,
}

/// Compares `running` (the app's processes, as listed) with `desired` (`None`: the app must run
/// nothing).
///
/// A crashed process of the current release keeps its slot (nothing is started for it) until
/// its [`backoff`] has passed since it ended, measured at `now`.
pub fn plan(
    desired: Option<&Desired>,
    running: &[Process],
    opts: &ReconcileOptions,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    let running: Vec<&Process> = running
        .iter()
        .filter(|p| !ONE_OFF_TYPES.contains(&p.process_type.as_str()))
        .collect();
    let Some(desired) = desired else {
        plan.remove = running.into_iter().cloned().collect();
        return plan;
    };

    let live = |p: &Process| matches!(p.state, ProcessState::Up | ProcessState::Starting);
    let wanted = |p: &Process| {
        desired
            .processes
            .get(&p.process_type)
            .is_some_and(|d| p.index >= 1 && p.index <= d.quantity)
    };

    // Current-release candidates per slot, best first: up before starting, then the oldest, so
    // the process the router already uses is the one kept.
    let mut slots: BTreeMap<(&str, u32), Vec<&Process>> = BTreeMap::new();
    // Restart counts carried over from crashed predecessors, per slot.
    let mut restarts: BTreeMap<(&str, u32), u32> = BTreeMap::new();
    let mut held = HashSet::new();
    let mut canary_kept: HashSet<u32> = HashSet::new();
    for p in running {
        let canary = desired
            .canary
            .as_ref()
            .filter(|c| c.release == p.release && c.release != desired.release);
        if desired.replace.contains(&p.id) && live(p) {
            // Restarted on request: replaced like an old release, new one first.
            plan.retire.push(p.clone());
        } else if let Some(c) = canary {
            let wanted = p.process_type == "web" && p.index >= 1 && p.index <= c.web.quantity;
            if live(p) && wanted && canary_kept.insert(p.index) {
                plan.keep.push(p.clone());
            } else if live(p) {
                plan.retire.push(p.clone());
            } else {
                plan.remove.push(p.clone());
            }
        } else if p.release != desired.release {
            if live(p) {
                plan.retire.push(p.clone());
            } else {
                plan.remove.push(p.clone());
            }
        } else if live(p) && wanted(p) {
            slots
                .entry((p.process_type.as_str(), p.index))
                .or_default()
                .push(p);
        } else if p.state == ProcessState::Crashed && wanted(p) {
            let slot = (p.process_type.as_str(), p.index);
            let (count, ended) = match p.exit {
                Some(exit) => {
                    let ran = (exit.finished_at - p.created_at)
                        .to_std()
                        .unwrap_or_default();
                    let count = if ran >= STABLE_RUN { 0 } else { p.restarts };
                    (count, exit.finished_at)
                }
                None => (p.restarts, p.created_at),
            };
            let waited = (now - ended).to_std().unwrap_or_default();
            if waited < backoff(count) && !held.contains(&slot) {
                held.insert(slot);
                plan.keep.push(p.clone());
            } else {
                plan.remove.push(p.clone());
                let next = restarts.entry(slot).or_default();
                *next = (*next).max(count + 1);
            }
        } else if live(p) {
            // Scaled away: traffic leaves it before it stops, like an old release.
            plan.retire.push(p.clone());
        } else {
            plan.remove.push(p.clone());
        }
    }
    let mut kept: HashSet<(String, u32)> = held
        .iter()
        .filter(|slot| !slots.contains_key(*slot))
        .map(|(t, i)| (t.to_string(), *i))
        .collect();
    // A live process fills the slot; a held crashed one is then just clutter.
    plan.keep.retain(|p| {
        let surplus = p.state == ProcessState::Crashed
            && slots.contains_key(&(p.process_type.as_str(), p.index));
        if surplus {
            plan.remove.push(p.clone());
        }
        !surplus
    });
    for candidates in slots.values_mut() {
        candidates.sort_by_key(|p| (p.state != ProcessState::Up, p.created_at, p.id.clone()));
        let (best, duplicates) = candidates.split_first().expect("slots are never empty");
        kept.insert((best.process_type.clone(), best.index));
        plan.keep.push((*best).clone());
        plan.remove.extend(duplicates.iter().map(|p| (*p).clone()));
    }

    for (process_type, wanted) in &desired.processes {
        for index in 1..=wanted.quantity {
            if !kept.contains(&(process_type.clone(), index)) {
                let mut spec = spec(desired, process_type, index, opts.port);
                spec.restarts = restarts
                    .get(&(process_type.as_str(), index))
                    .copied()
                    .unwrap_or(0);
                plan.start.push(spec);
            }
        }
    }
    if let Some(c) = desired
        .canary
        .as_ref()
        .filter(|c| c.release != desired.release)
    {
        for index in (1..=c.web.quantity).filter(|i| !canary_kept.contains(i)) {
            plan.start.push(canary_spec(desired, c, index, opts.port));
        }
    }
    plan
}

/// A web process of the canary release.
fn canary_spec(desired: &Desired, c: &super::CanaryRelease, index: u32, port: u16) -> ProcessSpec {
    let mut env = c.env.clone();
    env.insert("PORT".to_owned(), port.to_string());
    env.insert("DYNO".to_owned(), format!("web.{index}"));
    env.insert("PAAS_APP".to_owned(), desired.app.clone());
    env.insert("PAAS_RELEASE".to_owned(), format!("v{}", c.release));
    ProcessSpec {
        app: desired.app.clone(),
        release: c.release,
        process_type: "web".to_owned(),
        index,
        image: c.image.clone(),
        command: c.web.command.clone(),
        env,
        port: Some(port),
        restarts: 0,
        limits: c.web.limits,
    }
}

/// The process for one slot: the release's config plus what every process gets (Heroku's
/// `PORT` and `DYNO`), which config cannot override.
fn spec(desired: &Desired, process_type: &str, index: u32, port: u16) -> ProcessSpec {
    let mut env = desired.env.clone();
    env.insert("PORT".to_owned(), port.to_string());
    env.insert("DYNO".to_owned(), format!("{process_type}.{index}"));
    env.insert("PAAS_APP".to_owned(), desired.app.clone());
    env.insert("PAAS_RELEASE".to_owned(), format!("v{}", desired.release));
    ProcessSpec {
        app: desired.app.clone(),
        release: desired.release,
        process_type: process_type.to_owned(),
        index,
        image: desired.image.clone(),
        command: desired.processes[process_type].command.clone(),
        env,
        port: (process_type == "web").then_some(port),
        restarts: 0,
        limits: desired.processes[process_type].limits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::DesiredProcess;
    use chrono::{DateTime, Utc};

    fn desired(release: i64, formation: &[(&str, u32)]) -> Desired {
        Desired {
            app: "shop".into(),
            release,
            image: format!("paas/shop:v{release}"),
            env: BTreeMap::from([
                ("DATABASE_URL".into(), "x".into()),
                ("PORT".into(), "1".into()),
            ]),
            processes: formation
                .iter()
                .map(|(t, q)| {
                    let command = Some(format!("run-{t}"));
                    (
                        t.to_string(),
                        DesiredProcess {
                            quantity: *q,
                            command,
                            limits: Default::default(),
                            health: Default::default(),
                        },
                    )
                })
                .collect(),
            replace: Default::default(),
            canary: None,
        }
    }

    fn process(id: &str, release: i64, name: &str, state: ProcessState, created: i64) -> Process {
        let (process_type, index) = name.split_once('.').unwrap();
        Process {
            id: id.into(),
            app: "shop".into(),
            release,
            process_type: process_type.into(),
            index: index.parse().unwrap(),
            state,
            addr: None,
            command: None,
            created_at: DateTime::<Utc>::from_timestamp(created, 0).unwrap(),
            restarts: 0,
            exit: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(2_000_000_000, 0).unwrap()
    }

    fn ids(ps: &[Process]) -> Vec<&str> {
        let mut ids: Vec<&str> = ps.iter().map(|p| p.id.as_str()).collect();
        ids.sort();
        ids
    }

    fn slots(specs: &[ProcessSpec]) -> Vec<String> {
        specs
            .iter()
            .map(|s| format!("{}.{}", s.process_type, s.index))
            .collect()
    }

    const OPTS: ReconcileOptions = ReconcileOptions {
        port: 5000,
        boot_timeout: std::time::Duration::from_secs(30),
        stop_grace_secs: 10,
        drain: std::time::Duration::ZERO,
    };
    use ProcessState::{Crashed, Down, Starting, Up};

    #[test]
    fn nothing_running_starts_every_slot_with_its_environment() {
        let p = plan(
            Some(&desired(3, &[("web", 2), ("worker", 1)])),
            &[],
            &OPTS,
            now(),
        );
        assert_eq!(slots(&p.start), ["web.1", "web.2", "worker.1"]);
        assert!(p.keep.is_empty() && p.remove.is_empty() && p.retire.is_empty());

        let web2 = &p.start[1];
        assert_eq!(web2.env["DYNO"], "web.2");
        assert_eq!(
            web2.env["PORT"], "5000",
            "the platform's PORT wins over config"
        );
        assert_eq!(web2.env["PAAS_APP"], "shop");
        assert_eq!(web2.env["PAAS_RELEASE"], "v3");
        assert_eq!(web2.env["DATABASE_URL"], "x");
        assert_eq!((web2.image.as_str(), web2.release), ("paas/shop:v3", 3));
        assert_eq!(web2.command.as_deref(), Some("run-web"));
        assert_eq!(web2.port, Some(5000));

        let worker = &p.start[2];
        assert_eq!(worker.port, None, "only web listens for the router");
        assert_eq!(
            worker.env["PORT"], "5000",
            "every process sees PORT, as on Heroku"
        );
        assert_eq!(worker.env["DYNO"], "worker.1");
    }

    #[test]
    fn live_processes_of_the_release_are_adopted() {
        let running = [
            process("a", 3, "web.1", Up, 1),
            process("b", 3, "web.2", Starting, 2),
        ];
        let p = plan(Some(&desired(3, &[("web", 2)])), &running, &OPTS, now());
        assert_eq!(ids(&p.keep), ["a", "b"]);
        assert!(p.start.is_empty() && p.remove.is_empty() && p.retire.is_empty());
    }

    #[test]
    fn crashed_processes_are_replaced() {
        let running = [
            process("a", 3, "web.1", Crashed, 1),
            process("b", 3, "web.2", Down, 1),
        ];
        let p = plan(Some(&desired(3, &[("web", 2)])), &running, &OPTS, now());
        assert_eq!(slots(&p.start), ["web.1", "web.2"]);
        assert_eq!(ids(&p.remove), ["a", "b"]);
        assert!(p.keep.is_empty() && p.retire.is_empty());
    }

    #[test]
    fn a_new_release_retires_the_old_one_after_starting() {
        let running = [
            process("a", 2, "web.1", Up, 1),
            process("b", 2, "worker.1", Up, 1),
            process("c", 2, "web.2", Crashed, 1),
        ];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert_eq!(slots(&p.start), ["web.1"]);
        assert_eq!(ids(&p.retire), ["a", "b"]);
        assert_eq!(
            ids(&p.remove),
            ["c"],
            "a dead old process waits for nothing"
        );
    }

    #[test]
    fn scaling_down_removes_surplus_indexes_and_types() {
        let running = [
            process("a", 3, "web.1", Up, 1),
            process("b", 3, "web.2", Up, 1),
            process("c", 3, "clock.1", Up, 1),
        ];
        let p = plan(
            Some(&desired(3, &[("web", 1), ("worker", 0)])),
            &running,
            &OPTS,
            now(),
        );
        assert_eq!(ids(&p.keep), ["a"]);
        assert_eq!(ids(&p.retire), ["b", "c"]);
        assert!(p.start.is_empty() && p.remove.is_empty());
    }

    #[test]
    fn duplicates_keep_the_up_then_oldest_process() {
        let running = [
            process("new", 3, "web.1", Up, 20),
            process("starting", 3, "web.1", Starting, 5),
            process("old", 3, "web.1", Up, 10),
        ];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert_eq!(ids(&p.keep), ["old"]);
        assert_eq!(ids(&p.remove), ["new", "starting"]);
        assert!(p.start.is_empty());
    }

    #[test]
    fn no_desired_state_removes_everything() {
        let running = [
            process("a", 3, "web.1", Up, 1),
            process("b", 1, "worker.1", Crashed, 1),
        ];
        let p = plan(None, &running, &OPTS, now());
        assert_eq!(ids(&p.remove), ["a", "b"]);
        assert!(p.keep.is_empty() && p.start.is_empty() && p.retire.is_empty());
    }

    #[test]
    fn index_zero_is_never_a_slot() {
        let running = [process("a", 3, "web.0", Up, 1)];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert_eq!(ids(&p.retire), ["a"], "it serves until web.1 is up");
        assert_eq!(slots(&p.start), ["web.1"]);
    }

    fn crashed(id: &str, name: &str, restarts: u32, ran_secs: i64, ended_ago_secs: i64) -> Process {
        let ended = now() - chrono::Duration::seconds(ended_ago_secs);
        let mut p = process(
            id,
            3,
            name,
            Crashed,
            (ended - chrono::Duration::seconds(ran_secs)).timestamp(),
        );
        p.restarts = restarts;
        p.exit = Some(crate::runtime::Exit {
            code: 1,
            oom_killed: false,
            finished_at: ended,
        });
        p
    }

    #[test]
    fn one_off_processes_are_never_touched() {
        let running = [
            process("r", 2, "run.1", Up, 1),
            process("rel", 3, "release.1", Crashed, 1),
        ];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert!(
            p.remove.is_empty() && p.retire.is_empty() && p.keep.is_empty(),
            "{p:?}"
        );
        let p = plan(None, &running, &OPTS, now());
        assert!(p.remove.is_empty(), "{p:?}");
    }

    #[test]
    fn replaced_processes_are_retired_after_a_new_one_starts() {
        let running = [
            process("a", 3, "web.1", Up, 1),
            process("b", 3, "web.2", Up, 1),
        ];
        let mut d = desired(3, &[("web", 2)]);
        d.replace.insert("b".into());
        let p = plan(Some(&d), &running, &OPTS, now());
        assert_eq!(ids(&p.keep), ["a"]);
        assert_eq!(ids(&p.retire), ["b"]);
        assert_eq!(slots(&p.start), ["web.2"]);
    }

    #[test]
    fn crashed_processes_wait_out_their_backoff() {
        // Crashed 2 s ago after 3 restarts: backoff 8 s, so the slot is held.
        let running = [crashed("c", "web.1", 3, 5, 2)];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert_eq!(ids(&p.keep), ["c"]);
        assert!(p.start.is_empty() && p.remove.is_empty(), "{p:?}");
        // 10 s ago: past the backoff, restarted with the count raised.
        let running = [crashed("c", "web.1", 3, 5, 10)];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert_eq!(ids(&p.remove), ["c"]);
        assert_eq!(p.start.len(), 1);
        assert_eq!(p.start[0].restarts, 4);
        // A process that ran long before crashing starts over.
        let running = [crashed("c", "web.1", 7, 3600, 2)];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS, now());
        assert_eq!(p.start[0].restarts, 1);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(0).as_secs(), 1);
        assert_eq!(backoff(3).as_secs(), 8);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn a_canary_release_runs_beside_the_current_one() {
        let mut d = desired(3, &[("web", 2)]);
        d.canary = Some(crate::reconcile::CanaryRelease {
            release: 2,
            image: "paas/shop:v2".into(),
            env: BTreeMap::new(),
            web: DesiredProcess {
                quantity: 1,
                command: None,
                limits: Default::default(),
                health: Default::default(),
            },
        });
        let running = [
            process("a", 3, "web.1", Up, 1),
            process("b", 3, "web.2", Up, 1),
            process("c", 2, "web.1", Up, 1),
            process("d", 2, "web.2", Up, 1),
            process("e", 2, "worker.1", Up, 1),
        ];
        let p = plan(Some(&d), &running, &OPTS, now());
        assert_eq!(ids(&p.keep), ["a", "b", "c"]);
        assert_eq!(ids(&p.retire), ["d", "e"]);
        assert!(p.start.is_empty());
        let p = plan(Some(&d), &running[..2], &OPTS, now());
        assert_eq!(p.start.len(), 1);
        assert_eq!(
            (
                p.start[0].release,
                p.start[0].image.as_str(),
                p.start[0].env["PAAS_RELEASE"].as_str()
            ),
            (2, "paas/shop:v2", "v2")
        );
    }
}
