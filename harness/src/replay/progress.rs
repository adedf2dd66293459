//! Progress on the terminal during a run, counted in steps: an indicatif bar
//! when stderr is a terminal; otherwise (a CI log) one plain line every
//! [`LINE_EVERY`] and one at the end, so the log stays readable; nothing at
//! all in quiet mode (the run then shows no progress).

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is written when stderr is not a terminal.
pub(crate) const LINE_EVERY: Duration = Duration::from_secs(10);

/// A run's progress display.
pub(crate) struct Progress {
    /// Counts the steps (drawn on a terminal, hidden otherwise).
    bar: ProgressBar,
    /// Writes the plain lines when stderr is not a terminal.
    ticker: Option<tokio::task::JoinHandle<()>>,
    label: String,
    started: Instant,
}

/// One plain progress line: `replay: 120/500 steps (24%), 31 s`.
pub(crate) fn line(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let percent = done.saturating_mul(100).checked_div(total).unwrap_or(100);
    format!(
        "{label}: {done}/{total} steps ({percent}%), {:.0} s",
        elapsed.as_secs_f64()
    )
}

fn write_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

impl Progress {
    /// Starts showing progress over `total` steps (needs a Tokio runtime
    /// when stderr is not a terminal).
    pub(crate) fn start(total: u64, label: &str) -> Self {
        let started = Instant::now();
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} steps",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(label.to_owned());
            return Self {
                bar,
                ticker: None,
                label: label.to_owned(),
                started,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let counter = bar.clone();
        let name = label.to_owned();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(LINE_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                write_line(&line(
                    &name,
                    counter.position(),
                    counter.length().unwrap_or(0),
                    started.elapsed(),
                ));
            }
        });
        Self {
            bar,
            ticker: Some(ticker),
            label: label.to_owned(),
            started,
        }
    }

    /// A callback that counts one step.
    pub(crate) fn step_counter(&self) -> Arc<dyn Fn() + Send + Sync> {
        let bar = self.bar.clone();
        Arc::new(move || bar.inc(1))
    }

    /// Stops showing progress (a last plain line when not on a terminal).
    pub(crate) fn finish(self) {
        self.bar.finish_and_clear();
        if let Some(ticker) = self.ticker {
            ticker.abort();
            write_line(&line(
                &self.label,
                self.bar.position(),
                self.bar.length().unwrap_or(0),
                self.started.elapsed(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_how_far_the_run_is() {
        assert_eq!(
            line("replay", 120, 500, Duration::from_millis(31_400)),
            "replay: 120/500 steps (24%), 31 s"
        );
        assert_eq!(
            line("conformance", 0, 0, Duration::ZERO),
            "conformance: 0/0 steps (100%), 0 s"
        );
    }

    #[tokio::test]
    async fn steps_are_counted_whatever_the_display() {
        let progress = Progress::start(3, "replay");
        let step = progress.step_counter();
        step();
        step();
        assert_eq!(progress.bar.position(), 2);
        progress.finish();
    }
}
