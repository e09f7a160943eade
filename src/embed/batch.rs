//! Concurrent queries share forward passes. A server thread that wants a query embedded queues
//! it; if no pass is running, that thread runs one over everything queued (its own query
//! included) and hands each waiter its vector; queries that arrive meanwhile wait and form the
//! next pass, led by one of their own threads. No thread of its own, no timer: a query alone
//! runs at once, and under load every pass carries what accumulated during the previous one
//! (text-embeddings-inference's queue, without its fixed batching thread).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::{EmbedError, Result};

/// Most sequences per shared pass: beyond this a pass gets long enough to hurt the latency of
/// the queries in it more than it saves.
const MAX_BATCH: usize = 32;

/// The queue of waiting sequences and the finished results.
#[derive(Default)]
pub(crate) struct Combiner {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    next: u64,
    queue: Vec<(u64, Vec<u32>)>,
    results: HashMap<u64, Result<Vec<f32>, String>>,
    running: bool,
}

impl Combiner {
    /// Runs `seq` through `pass` (sequences in, one vector each out), together with whatever
    /// other threads queue meanwhile.
    pub(crate) fn run(
        &self,
        seq: Vec<u32>,
        pass: impl Fn(&[&[u32]]) -> Result<Vec<Vec<f32>>>,
    ) -> Result<Vec<f32>> {
        let mut st = self.lock();
        let ticket = st.next;
        st.next += 1;
        st.queue.push((ticket, seq));
        loop {
            if let Some(r) = st.results.remove(&ticket) {
                return r.map_err(EmbedError::Invariant);
            }
            if !st.running && !st.queue.is_empty() {
                st.running = true;
                let take = st.queue.len().min(MAX_BATCH);
                let jobs: Vec<(u64, Vec<u32>)> = st.queue.drain(..take).collect();
                drop(st);
                let seqs: Vec<&[u32]> = jobs.iter().map(|(_, s)| s.as_slice()).collect();
                // A panic in the pass must not leave `running` set: every later query would
                // wait for ever.
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pass(&seqs)));
                st = self.lock();
                st.running = false;
                match out {
                    Ok(Ok(vectors)) if vectors.len() == jobs.len() => {
                        for ((t, _), v) in jobs.iter().zip(vectors) {
                            st.results.insert(*t, Ok(v));
                        }
                    }
                    other => {
                        let why = match other {
                            Ok(Err(e)) => crate::error::chain(&e),
                            Ok(Ok(_)) => "a shared pass returned the wrong count".to_string(),
                            Err(_) => "a shared embedding pass panicked".to_string(),
                        };
                        for (t, _) in &jobs {
                            st.results.insert(*t, Err(why.clone()));
                        }
                    }
                }
                self.done.notify_all();
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Eight threads at once: every one gets its own answer, and the passes were fewer than the
    /// queries (some were shared).
    #[test]
    fn concurrent_queries_share_passes_and_get_their_own_answers() {
        let c = Arc::new(Combiner::default());
        let passes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8u32)
            .map(|i| {
                let (c, passes) = (c.clone(), passes.clone());
                std::thread::spawn(move || {
                    c.run(vec![i; (i + 1) as usize], |batch| {
                        passes.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        Ok(batch
                            .iter()
                            .map(|s| vec![s[0] as f32, s.len() as f32])
                            .collect())
                    })
                    .unwrap()
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            assert_eq!(t.join().unwrap(), vec![i as f32, (i + 1) as f32]);
        }
        let n = passes.load(Ordering::SeqCst);
        assert!((1..8).contains(&n), "{n} passes for 8 concurrent queries");
    }

    #[test]
    fn a_failed_pass_fails_its_queries_and_the_next_one_runs() {
        let c = Combiner::default();
        let err = c
            .run(vec![1], |_| Err(EmbedError::Invariant("boom".into())))
            .unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        let panicked = c.run(vec![1], |_| panic!("bad pass")).unwrap_err();
        assert!(panicked.to_string().contains("panicked"), "{panicked}");
        assert_eq!(
            c.run(vec![7], |b| Ok(vec![vec![b[0][0] as f32]])).unwrap(),
            [7.0]
        );
    }
}
