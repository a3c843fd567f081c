//! Progress reporting for long generation runs.

use indicatif::{ProgressBar, ProgressStyle};

/// Receives progress of named stages.
pub trait Progress {
    fn stage(&mut self, name: &str, total: u64);
    fn inc(&mut self, n: u64);
    fn finish(&mut self);
}

/// Reports nothing (tests, library use).
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&mut self, _: &str, _: u64) {}
    fn inc(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// A progress bar on stderr.
#[derive(Default)]
pub struct TermProgress {
    bar: Option<ProgressBar>,
}

impl TermProgress {
    pub fn new() -> Self {
        TermProgress { bar: None }
    }
}

impl Progress for TermProgress {
    fn stage(&mut self, name: &str, total: u64) {
        self.finish();
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:<32} [{bar:40}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(name.to_string());
        self.bar = Some(bar);
    }
    fn inc(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}
