//! Progress bars on stderr for pre-flight and execution: rows done of total, rate, ETA, and the
//! time spent waiting on throttling. Hidden when stderr is not a terminal, or with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// Where the bars go (or nowhere).
#[derive(Clone, Debug)]
pub struct Bars {
    shown: bool,
}

impl Bars {
    /// Bars on stderr when `shown`; the caller decides (terminal and not `--quiet`).
    pub fn new(shown: bool) -> Bars {
        Bars { shown }
    }

    pub fn hidden() -> Bars {
        Bars { shown: false }
    }

    fn bar(&self, total: u64, prefix: &'static str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if self.shown {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {human_pos}/{human_len} rows · {per_sec} · ETA {eta} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(prefix);
        if self.shown {
            bar.enable_steady_tick(Duration::from_millis(250));
        }
        bar
    }

    /// The pre-flight bar: target users read.
    pub fn preflight(&self, total: u64) -> ProgressBar {
        self.bar(total, "pre-flight")
    }

    /// The execution bar: rows settled.
    pub fn execute(&self, total: u64) -> ProgressBar {
        self.bar(total, "applying")
    }
}

/// The bar's message: how long requests waited on throttling so far.
pub fn throttle_message(waited: Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!("· waited {:.0} s on throttling", waited.as_secs_f64())
    }
}
