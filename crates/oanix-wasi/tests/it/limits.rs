//! Hard limits on untrusted guests: wall-clock timeouts, fuel, memory and
//! stack, and a thousand hostile runs that leave the host healthy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oanix_prims::MemFs;
use oanix_vfs::Namespace;
use oanix_wasi::{RunConfig, RunResult, RuntimeConfig, TrapKind, WasiRuntime};

use crate::guests::{guest, runtime};

fn ns() -> Namespace {
    Namespace::builder().mount("/tmp", MemFs::new()).build()
}

fn hostile(mode: &str, config: RunConfig) -> RunResult {
    let config = config.arg0("hostile.wasm").arg(mode);
    runtime()
        .run_bytes(&guest("hostile"), &ns(), &config)
        .unwrap()
}

fn trap_kind(r: &RunResult) -> Option<TrapKind> {
    r.trap.as_ref().map(|t| t.kind)
}

#[test]
fn an_endless_loop_is_stopped_by_the_timeout() {
    let r = hostile("spin", RunConfig::new().timeout(Duration::from_millis(200)));
    assert_eq!(trap_kind(&r), Some(TrapKind::Timeout), "{:?}", r.trap);
    assert_eq!(r.exit_code, None);
    assert!(r.duration >= Duration::from_millis(200));
    assert!(r.duration < Duration::from_secs(5), "{:?}", r.duration);
}

#[test]
fn an_endless_loop_is_stopped_by_its_stop_flag() {
    // With a timeout far away, and with none: the flag alone ends the run.
    for config in [
        RunConfig::new().timeout(Duration::from_secs(60)),
        RunConfig::new().no_timeout(),
    ] {
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let flag = Arc::clone(&flag);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                flag.store(true, Ordering::Relaxed);
            })
        };
        let r = hostile("spin", config.stop_flag(Arc::clone(&flag)));
        setter.join().unwrap();
        assert_eq!(trap_kind(&r), Some(TrapKind::Cancelled), "{:?}", r.trap);
        assert_eq!(r.exit_code, None);
        assert!(r.duration < Duration::from_secs(10), "{:?}", r.duration);
    }
    // A flag never set changes nothing.
    let r = hostile(
        "spin",
        RunConfig::new()
            .timeout(Duration::from_millis(100))
            .stop_flag(Arc::new(AtomicBool::new(false))),
    );
    assert_eq!(trap_kind(&r), Some(TrapKind::Timeout), "{:?}", r.trap);
}

#[test]
fn an_endless_loop_is_stopped_by_fuel() {
    let r = hostile("spin", RunConfig::new().fuel(5_000_000));
    assert_eq!(trap_kind(&r), Some(TrapKind::OutOfFuel), "{:?}", r.trap);
    assert_eq!(r.fuel_consumed, Some(5_000_000));
}

#[test]
fn a_sleeping_guest_is_stopped_by_the_timeout() {
    let r = hostile(
        "sleep",
        RunConfig::new().timeout(Duration::from_millis(100)),
    );
    assert_eq!(trap_kind(&r), Some(TrapKind::Timeout), "{:?}", r.trap);
    assert!(r.duration < Duration::from_secs(5));
}

#[test]
fn a_memory_bomb_is_refused() {
    let r = hostile("membomb", RunConfig::new().memory_limit(32 << 20));
    assert_eq!(trap_kind(&r), Some(TrapKind::MemoryLimit), "{:?}", r.trap);
}

#[test]
fn deep_recursion_traps_without_harming_the_host() {
    let r = hostile("recurse", RunConfig::new());
    assert_eq!(trap_kind(&r), Some(TrapKind::StackOverflow), "{:?}", r.trap);
    // The host carries on.
    let again = hostile("recurse", RunConfig::new());
    assert_eq!(trap_kind(&again), Some(TrapKind::StackOverflow));
}

#[test]
fn a_fuel_budget_needs_fuel_metering() {
    let rt =
        WasiRuntime::with_config(RuntimeConfig::new().fuel_metering(false).pooling(None)).unwrap();
    let err = rt
        .run_bytes(&guest("hostile"), &ns(), &RunConfig::new().fuel(10))
        .unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
    // Without a budget, the timeout still holds.
    let r = rt
        .run_bytes(
            &guest("hostile"),
            &ns(),
            &RunConfig::new()
                .arg("spin")
                .timeout(Duration::from_millis(50)),
        )
        .unwrap();
    assert_eq!(trap_kind(&r), Some(TrapKind::Timeout));
}

/// Hostile WebAssembly in text form, each ending in a trap.
const SPIN: &str = r#"(module (memory (export "memory") 1)
    (func (export "_start") (loop $l (br $l))))"#;
const GROW: &str = r#"(module (memory (export "memory") 1)
    (func (export "_start")
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
        unreachable))"#;
const RECURSE: &str = r#"(module (memory (export "memory") 1)
    (func $f (export "_start") (call $f)))"#;
const OOB: &str = r#"(module (memory (export "memory") 1)
    (func (export "_start") (drop (i32.load (i32.const 70000)))))"#;
const TABLE: &str = r#"(module (memory (export "memory") 1) (table 1 funcref)
    (func (export "_start")
        (loop $l (br_if $l (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))
        unreachable))"#;

#[test]
fn a_table_bomb_is_refused() {
    let wasm = wat::parse_str(TABLE).unwrap();
    let r = runtime()
        .run_bytes(&wasm, &ns(), &RunConfig::new().table_limit(5000))
        .unwrap();
    assert_eq!(trap_kind(&r), Some(TrapKind::MemoryLimit), "{:?}", r.trap);
}

#[test]
fn a_thousand_hostile_runs_leave_the_host_healthy() {
    let rt = runtime();
    let modules: Vec<_> = [SPIN, GROW, RECURSE, OOB]
        .iter()
        .map(|w| rt.load(&wat::parse_str(w).unwrap()).unwrap())
        .collect();
    let expected = [
        TrapKind::OutOfFuel,
        TrapKind::MemoryLimit,
        TrapKind::StackOverflow,
        TrapKind::Guest,
    ];
    let ns = ns();
    for i in 0..1000 {
        let which = i % modules.len();
        let mut config = RunConfig::new().fuel(200_000).memory_limit(4 << 20);
        if i % 100 == 0 {
            // Now and then, the wall clock instead of fuel.
            config = RunConfig::new()
                .timeout(Duration::from_millis(20))
                .memory_limit(4 << 20);
        }
        let r = rt.run(&modules[which], &ns, &config).unwrap();
        let kind = trap_kind(&r).unwrap_or_else(|| panic!("run {i} did not trap"));
        if i % 100 == 0 && which == 0 {
            assert_eq!(kind, TrapKind::Timeout, "run {i}");
        } else {
            assert_eq!(kind, expected[which], "run {i}: {:?}", r.trap);
        }
    }
    // A well-behaved guest still runs normally afterwards.
    let r = rt
        .run_bytes(
            &guest("conformance"),
            &Namespace::builder().mount("/tmp", MemFs::new()).build(),
            &RunConfig::new().arg0("conformance.wasm").arg("clocks"),
        )
        .unwrap();
    assert!(r.success(), "{:?}", r.trap);
}

#[test]
fn runs_on_many_threads_share_one_runtime() {
    let rt = runtime();
    let module = rt.load(&guest("conformance")).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let module = module.clone();
            s.spawn(move || {
                for i in 0..10 {
                    let ns = ns();
                    let r = rt
                        .run(
                            &module,
                            &ns,
                            &RunConfig::new().arg0("conformance.wasm").arg("files"),
                        )
                        .unwrap();
                    assert!(r.success(), "thread {t} run {i}: {:?}", r.trap);
                    // Each run saw its own namespace.
                    assert_eq!(
                        oanix_vfs::read_to_string(&ns, "/tmp/a.txt").unwrap().len(),
                        14
                    );
                }
            });
        }
    });
}
