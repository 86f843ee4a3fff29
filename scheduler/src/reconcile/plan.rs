//! The diff between what should run and what runs, computed without touching the engine.

use std::collections::{BTreeMap, HashSet};

use super::{Desired, ReconcileOptions};
use crate::runtime::{Process, ProcessSpec, ProcessState};

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
    /// Live processes of other releases: removed only once the new ones are up, so the app
    /// never runs nothing while it is being replaced.
    pub retire: Vec<Process>,
}

/// Compares `running` (the app's processes, as listed) with `desired` (`None`: the app must run
/// nothing).
pub fn plan(desired: Option<&Desired>, running: &[Process], opts: &ReconcileOptions) -> Plan {
    let mut plan = Plan::default();
    let Some(desired) = desired else {
        plan.remove = running.to_vec();
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
    for p in running {
        if p.release != desired.release {
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
        } else {
            plan.remove.push(p.clone());
        }
    }
    let mut kept = HashSet::new();
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
                plan.start
                    .push(spec(desired, process_type, index, opts.port));
            }
        }
    }
    plan
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
                        },
                    )
                })
                .collect(),
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
        }
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
    };
    use ProcessState::{Crashed, Down, Starting, Up};

    #[test]
    fn nothing_running_starts_every_slot_with_its_environment() {
        let p = plan(Some(&desired(3, &[("web", 2), ("worker", 1)])), &[], &OPTS);
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
        let p = plan(Some(&desired(3, &[("web", 2)])), &running, &OPTS);
        assert_eq!(ids(&p.keep), ["a", "b"]);
        assert!(p.start.is_empty() && p.remove.is_empty() && p.retire.is_empty());
    }

    #[test]
    fn crashed_processes_are_replaced() {
        let running = [
            process("a", 3, "web.1", Crashed, 1),
            process("b", 3, "web.2", Down, 1),
        ];
        let p = plan(Some(&desired(3, &[("web", 2)])), &running, &OPTS);
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
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS);
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
        );
        assert_eq!(ids(&p.keep), ["a"]);
        assert_eq!(ids(&p.remove), ["b", "c"]);
        assert!(p.start.is_empty() && p.retire.is_empty());
    }

    #[test]
    fn duplicates_keep_the_up_then_oldest_process() {
        let running = [
            process("new", 3, "web.1", Up, 20),
            process("starting", 3, "web.1", Starting, 5),
            process("old", 3, "web.1", Up, 10),
        ];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS);
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
        let p = plan(None, &running, &OPTS);
        assert_eq!(ids(&p.remove), ["a", "b"]);
        assert!(p.keep.is_empty() && p.start.is_empty() && p.retire.is_empty());
    }

    #[test]
    fn index_zero_is_never_a_slot() {
        let running = [process("a", 3, "web.0", Up, 1)];
        let p = plan(Some(&desired(3, &[("web", 1)])), &running, &OPTS);
        assert_eq!(ids(&p.remove), ["a"]);
        assert_eq!(slots(&p.start), ["web.1"]);
    }
}
