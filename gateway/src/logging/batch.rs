//! A log destination for the server that batches lines: see [`Batch`].

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::MakeWriter;

/// How long lines gather before they are written together.
const GATHER: Duration = Duration::from_millis(20);
/// Pending bytes that make the writer start at once instead of gathering on.
const WRITE_AT: usize = 64 * 1024;
/// Pending bytes at which a logging thread waits for the writer.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// A log destination shared by every thread. Each log line is appended to one
/// buffer under a short lock; a writer thread writes the buffer out in one call
/// after [`GATHER`], or as soon as it holds [`WRITE_AT`] bytes. A logging thread
/// wakes the writer only for the first line after a write, so under load the
/// writer runs about 50 times a second whatever the request rate, where a channel
/// per line would wake it, and switch threads, for every request.
#[derive(Clone)]
pub struct Batch(Arc<Shared>);

struct Shared {
    state: Mutex<State>,
    /// Signals the writer: the first line arrived, `WRITE_AT` was reached, or closing.
    wake: Condvar,
    /// Signals logging threads that wait for room.
    room: Condvar,
}

struct State {
    pending: Vec<u8>,
    closed: bool,
    /// The writer has written the last line and stopped.
    done: bool,
}

/// Ends the writer thread when dropped, after it has written every pending line.
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Batch {
    /// Starts the writer thread for `out`.
    pub fn start<W: Write + Send + 'static>(out: W) -> io::Result<(Batch, Guard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: Vec::with_capacity(WRITE_AT),
                closed: false,
                done: false,
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
        });
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("portcullis-log".into())
            .spawn(move || writer.run(out))?;
        let guard = Guard {
            shared: shared.clone(),
            thread: Some(thread),
        };
        Ok((Batch(shared), guard))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The writer thread: waits for a first line, lets more gather, writes them all.
    fn run<W: Write>(&self, mut out: W) {
        let mut writing = Vec::with_capacity(WRITE_AT);
        let mut state = self.lock();
        loop {
            while state.pending.is_empty() && !state.closed {
                state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            let until = Instant::now() + GATHER;
            while !state.closed && state.pending.len() < WRITE_AT {
                let Some(left) = until.checked_duration_since(Instant::now()) else {
                    break;
                };
                state = self
                    .wake
                    .wait_timeout(state, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }

            std::mem::swap(&mut state.pending, &mut writing);
            let closed = state.closed;
            drop(state);
            self.room.notify_all();
            // A failed write (stderr closed) cannot be logged anywhere; the lines are dropped
            // rather than blocking every request.
            let _ = out.write_all(&writing).and_then(|()| out.flush());
            writing.clear();
            // A burst may have grown the buffer; don't keep megabytes for it.
            if writing.capacity() > 4 * WRITE_AT {
                writing.shrink_to(WRITE_AT);
            }
            // After `closed` no line is appended, so the swap took the last of them.
            if closed {
                self.lock().done = true;
                self.room.notify_all();
                return;
            }
            state = self.lock();
        }
    }
}

impl Write for &Batch {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let shared = &self.0;
        let mut state = shared.lock();
        while state.pending.len() >= MAX_PENDING && !state.closed {
            state = shared.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.closed {
            // Shutting down: the writer is gone or going, so write directly.
            drop(state);
            return io::stderr().write_all(line).map(|()| line.len());
        }
        let before = state.pending.len();
        state.pending.extend_from_slice(line);
        let after = state.pending.len();
        drop(state);
        if before == 0 || (before < WRITE_AT && after >= WRITE_AT) {
            shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batch {
    type Writer = &'a Batch;

    fn make_writer(&'a self) -> &'a Batch {
        self
    }
}

/// How long exiting waits for the last lines to be written. A stderr that nobody
/// reads (a full pipe) must not keep a stopping gateway alive.
const EXIT_WAIT: Duration = Duration::from_secs(2);

impl Drop for Guard {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.wake.notify_one();
        self.shared.room.notify_all();
        let until = Instant::now() + EXIT_WAIT;
        while !state.done {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                // Give up on the writer; the thread ends with the process.
                return;
            };
            state = self
                .shared
                .room
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(state);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that records each call, shared with the test.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_in_order_and_in_few_writes() {
        let sink = Sink::default();
        let (batch, guard) = Batch::start(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let batch = batch.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        (&batch)
                            .write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);

        let writes = sink.0.lock().unwrap();
        let text = String::from_utf8(writes.concat()).unwrap();
        assert_eq!(text.lines().count(), 20_000);
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(
                mine,
                (0..5000).collect::<Vec<_>>(),
                "thread {t}'s lines in order"
            );
        }
        assert!(
            writes.len() < 2000,
            "{} writes for 20,000 lines",
            writes.len()
        );
    }

    #[test]
    fn a_line_is_written_soon_without_more_lines_after_it() {
        let sink = Sink::default();
        let (batch, _guard) = Batch::start(sink.clone()).unwrap();
        (&batch).write_all(b"only line\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while sink.0.lock().unwrap().is_empty() {
            assert!(
                Instant::now() < deadline,
                "the line was not written within 2 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.0.lock().unwrap().concat(), b"only line\n");
    }

    /// A `Write` that never returns, like a pipe nobody reads.
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            loop {
                std::thread::park();
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_destination_delays_exit_by_at_most_the_exit_wait() {
        let (batch, guard) = Batch::start(Stuck).unwrap();
        (&batch).write_all(b"never written\n").unwrap();
        std::thread::sleep(GATHER * 3);
        let started = Instant::now();
        drop(guard);
        let took = started.elapsed();
        assert!(
            took >= EXIT_WAIT && took < EXIT_WAIT * 2,
            "exit waited {took:?}"
        );
    }

    #[test]
    fn dropping_the_guard_writes_every_pending_line() {
        let sink = Sink::default();
        let (batch, guard) = Batch::start(sink.clone()).unwrap();
        (&batch).write_all(b"first\n").unwrap();
        (&batch).write_all(b"last\n").unwrap();
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().concat(), b"first\nlast\n");
    }
}
