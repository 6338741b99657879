//! Gives freed heap memory back to the OS when a burst of traffic is over. glibc's malloc
//! returns memory only from the top of each arena; after a burst, the buffers, batches and
//! responses it served leave free holes that keep the process's RSS at the burst's high-water
//! mark indefinitely. `malloc_trim` releases the free pages inside those holes.

use std::time::Duration;

use monoio::time::Instant;

/// Quiet this long after traffic before trimming: a short lull in a busy server is not the end
/// of a burst, and trimming memory it is about to reuse would cost page faults.
const QUIET: Duration = Duration::from_secs(2);

/// Decides, from the request count seen at each server tick, when a burst has ended.
#[derive(Default)]
pub struct IdleTrim {
    seen: u64,
    last_change: Option<Instant>,
    /// Requests served since the last trim: no point trimming a server that did nothing.
    dirty: bool,
}

impl IdleTrim {
    /// Returns whether to trim now.
    pub fn tick(&mut self, requests_total: u64, now: Instant) -> bool {
        if requests_total != self.seen {
            self.seen = requests_total;
            self.last_change = Some(now);
            self.dirty = true;
            return false;
        }
        let quiet = self
            .last_change
            .is_some_and(|t| now.saturating_duration_since(t) >= QUIET);
        if self.dirty && quiet {
            self.dirty = false;
            return true;
        }
        false
    }
}

/// Returns free heap pages to the OS (every arena, this thread's and JS's).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own, internally locked arenas;
    // it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_per_burst_after_a_quiet_spell() {
        let mut t = IdleTrim::default();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert!(
            !t.tick(0, at(0)),
            "a server that served nothing is left alone"
        );
        assert!(!t.tick(0, at(5000)));
        assert!(!t.tick(100, at(5100)));
        assert!(!t.tick(200, at(5200)), "busy");
        assert!(!t.tick(200, at(6000)), "a lull is not the end of a burst");
        assert!(
            t.tick(200, at(7200)),
            "quiet for 2 s after the last request"
        );
        assert!(!t.tick(200, at(9000)), "once per burst");
        assert!(!t.tick(201, at(9100)));
        assert!(t.tick(201, at(11_100)), "the next burst ends in its turn");
    }
}
