//! Test-only crash points. Crash safety is tested by running `hardmatch apply` as a real child
//! process and killing it with SIGKILL at a named point (between a PATCH's answer and its journal
//! line, halfway through a journal line, between writing the new workbook and renaming it…).
//! `HARDMATCH_TEST_CRASH_AT=<point>[:<n>]` makes the process kill itself the n-th time (default
//! 1st) it reaches `<point>`. Nothing else reads the variable; unset, every check is one atomic
//! load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the crash point.
pub const ENV: &str = "HARDMATCH_TEST_CRASH_AT";

struct Armed {
    point: String,
    nth: u32,
    seen: AtomicU32,
}

fn armed_point() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var(ENV).ok()?;
            let (point, nth) = match v.split_once(':') {
                Some((p, n)) => (p.to_string(), n.trim().parse().unwrap_or(1)),
                None => (v, 1),
            };
            Some(Armed {
                point: point.trim().to_string(),
                nth: nth.max(1),
                seen: AtomicU32::new(0),
            })
        })
        .as_ref()
}

/// True the n-th time `name` is reached, when the variable names it.
pub fn point(name: &str) -> bool {
    match armed_point() {
        Some(a) if a.point == name => a.seen.fetch_add(1, Ordering::SeqCst) + 1 == a.nth,
        _ => false,
    }
}

/// Kills the process at `name` if the variable says so.
pub fn at(name: &str) {
    if point(name) {
        die();
    }
}

/// SIGKILL to itself: no destructor, no flush, no unwinding, exactly as `kill -9`.
pub fn die() -> ! {
    eprintln!("hardmatch: test crash point reached; killing this process");
    #[cfg(unix)]
    // SAFETY: raise() with a valid signal number has no memory-safety preconditions.
    unsafe {
        libc::raise(libc::SIGKILL);
    }
    std::process::abort()
}
