//! At most a few password hashes at once. Every sign-in hashes (argon2id, about 19 MiB and a core
//! for tens of milliseconds, even for a name that does not exist), so unbounded concurrent sign-ins
//! were an anonymous way to exhaust memory: more hashes than cores finish no sooner and only add
//! memory. A hash waits briefly for a free slot; after that the caller is told to come back.
//! Each slot keeps argon2's working memory and reuses it, so what hashing holds is the slots'
//! memory and no more, however many sign-ins come and go.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::HashMemory;

/// The slots for password hashes, and what they have seen (for /metrics).
pub struct PasswordHashing {
    slots: Arc<Semaphore>,
    /// Working memory of the slots not in use (at most one per slot).
    memory: Arc<Mutex<Vec<HashMemory>>>,
    limit: usize,
    wait: Duration,
    in_progress: Arc<AtomicU64>,
    in_progress_max: Arc<AtomicU64>,
    refused: AtomicU64,
}

/// Why no hash was computed.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Every slot stayed taken for the whole wait.
    Busy,
    /// The hashing task panicked.
    Failed(String),
}

impl PasswordHashing {
    pub fn new(limit: usize, wait: Duration) -> PasswordHashing {
        PasswordHashing {
            slots: Arc::new(Semaphore::new(limit)),
            memory: Arc::default(),
            limit,
            wait,
            in_progress: Arc::default(),
            in_progress_max: Arc::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// Runs `work` (verifying or hashing passwords, in the slot's working memory) on the blocking
    /// pool once a slot is free, waiting at most the configured time for one. The slot is held
    /// until the work ends, even if the caller stops waiting for it.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, Unavailable> {
        let acquired = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await;
        let Ok(Ok(slot)) = acquired else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Unavailable::Busy);
        };
        let in_progress = self.in_progress.clone();
        let in_progress_max = self.in_progress_max.clone();
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            // Counted where the hash actually runs, so the gauge shows real concurrency.
            let now = in_progress.fetch_add(1, Ordering::SeqCst) + 1;
            in_progress_max.fetch_max(now, Ordering::SeqCst);
            let _done = Decrement(&in_progress);
            let taken = pool.lock().ok().and_then(|mut free| free.pop());
            let mut memory = taken.unwrap_or_default();
            let result = work(&mut memory);
            if let Ok(mut free) = pool.lock() {
                free.push(memory);
            }
            result
        })
        .await
        .map_err(|e| Unavailable::Failed(e.to_string()))
    }

    /// Prometheus text: the limit, hashes running now and at most so far, and refusals.
    pub fn render(&self, out: &mut String) {
        for (name, kind, help, value) in [
            (
                "tavla_password_hash_limit",
                "gauge",
                "Password hashes this instance computes at once (password_hash_concurrency).",
                self.limit as u64,
            ),
            (
                "tavla_password_hashes_in_progress",
                "gauge",
                "Password hashes being computed now.",
                self.in_progress.load(Ordering::SeqCst),
            ),
            (
                "tavla_password_hashes_in_progress_max",
                "gauge",
                "The most password hashes computed at once since start.",
                self.in_progress_max.load(Ordering::SeqCst),
            ),
            (
                "tavla_password_hashes_refused_total",
                "counter",
                "Sign-ins and password changes answered 503 because every hash slot stayed busy.",
                self.refused.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
}

/// Lowers the in-progress count when the work ends, also by a panic.
struct Decrement<'a>(&'a AtomicU64);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_waits_for_a_slot_and_then_gives_up() {
        let hashing = Arc::new(PasswordHashing::new(1, Duration::from_millis(50)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = {
            let hashing = hashing.clone();
            tokio::spawn(async move { hashing.run(move |_| hold.recv().is_ok()).await })
        };
        // Wait until the first work holds the only slot.
        while hashing.in_progress.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hashing.run(|_| ()).await, Err(Unavailable::Busy));
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap(), Ok(true));
        assert_eq!(hashing.run(|_| 7).await, Ok(7));
        assert_eq!(
            hashing.memory.lock().unwrap().len(),
            1,
            "one slot, one memory, reused"
        );
        let mut text = String::new();
        hashing.render(&mut text);
        assert!(
            text.contains("tavla_password_hashes_in_progress_max 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tavla_password_hashes_refused_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tavla_password_hashes_in_progress 0\n"),
            "{text}"
        );
    }
}
