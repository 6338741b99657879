//! `app.inject()`: requests JS wrote as HTTP/1.1 bytes, each served over an in-memory connection
//! (`pipe.rs`) by the same `conn::serve` that serves sockets, so an injected request goes through
//! the real parser, router, cache, guards, files and response writer, with no socket and no
//! port. The answer's bytes go back to JS as the connection writes them, under a credit window
//! (a streamed answer JS reads slowly stops the connection, and through it the handler, as a
//! slow client would). JS parses them (js/inject.js).
//!
//! Jobs cross from the JS thread in an `Inbox`; each is then a task on the server thread. A
//! `Control` shared with JS carries its credit and its close (JS has the whole answer, or its
//! reader went away: the in-memory connection is dropped, which the connection sees as a client
//! gone).

#[cfg(feature = "addon")]
pub mod napi;

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use crate::ctx::ConnCtx;
use crate::peer::Peer;
use crate::pipe::{self, ClientEnd};
use crate::unwind::spawn_contained;

/// Answer bytes handed to JS and not yet credited back before the task stops reading: what an
/// unread streamed answer holds in JS memory (plus at most one pipe's worth, `PIPE_CAPACITY`,
/// taken in the read that used the window up).
pub const INJECT_WINDOW: usize = 64 * 1024;

/// What JS hears of one injected request.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Bytes of the answer, as the connection wrote them.
    Data(Vec<u8>),
    /// The connection is over (its server end closed, the server shut down, or the task never
    /// ran): nothing follows. JS decides whether the answer it has is complete.
    End,
}

/// What JS and the server thread share about one injected request.
pub struct Control {
    state: Mutex<ControlState>,
}

struct ControlState {
    /// Bytes JS may still be handed before it credits some back.
    window: usize,
    /// JS is done with the connection.
    closed: bool,
    waker: Option<Waker>,
}

impl Default for Control {
    fn default() -> Control {
        Control {
            state: Mutex::new(ControlState {
                window: INJECT_WINDOW,
                closed: false,
                waker: None,
            }),
        }
    }
}

impl Control {
    /// JS consumed `n` bytes of what it was handed.
    pub fn credit(&self, n: usize) {
        self.with_state(|s| s.window = s.window.saturating_add(n).min(INJECT_WINDOW));
    }

    /// JS is done: the task drops the connection (a client gone, if it was still answering).
    pub fn close(&self) {
        self.with_state(|s| s.closed = true);
    }

    fn with_state(&self, f: impl FnOnce(&mut ControlState)) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut state);
            state.waker.take()
        };
        // Woken outside the lock, as the mailbox does: a cross-thread wake takes the runtime's
        // own locks.
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn spend(&self, n: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.window = state.window.saturating_sub(n);
    }

    /// Waits until JS may be handed more; `false` once JS closed.
    async fn until_window(&self) -> bool {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.closed {
                return Poll::Ready(false);
            }
            if state.window > 0 {
                return Poll::Ready(true);
            }
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Waits until JS closed.
    async fn until_closed(&self) {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.closed {
                return Poll::Ready(());
            }
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// One injected request: its bytes, the client's address as JS gave it, and where its answer
/// goes. However it is dropped (answered, never run because the server closed, a contained
/// panic), JS hears `End` exactly once.
pub struct Job {
    pub request: Vec<u8>,
    pub ip: String,
    pub control: Arc<Control>,
    to_js: Box<dyn Fn(Event) + Send>,
    ended: bool,
}

impl Job {
    pub fn new(
        request: Vec<u8>,
        ip: String,
        control: Arc<Control>,
        to_js: Box<dyn Fn(Event) + Send>,
    ) -> Job {
        Job {
            request,
            ip,
            control,
            to_js,
            ended: false,
        }
    }

    fn send(&self, bytes: Vec<u8>) {
        self.control.spend(bytes.len());
        (self.to_js)(Event::Data(bytes));
    }

    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            (self.to_js)(Event::End);
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.end();
    }
}

/// Jobs posted by the JS thread, taken by the server thread's inject task.
#[derive(Default)]
pub struct Inbox {
    state: Mutex<InboxState>,
}

#[derive(Default)]
struct InboxState {
    jobs: Vec<Job>,
    /// The server is shutting down: no job is taken any more.
    closed: bool,
    waker: Option<Waker>,
}

impl Inbox {
    /// Hands `job` to the server thread; once the server is closing, the job is dropped at once
    /// (JS hears `End` with nothing before it).
    pub fn post(&self, job: Job) {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.closed {
                None
            } else {
                state.jobs.push(job);
                state.waker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Refuses jobs from now on and drops those waiting (outside the lock: each tells JS).
    pub fn close(&self) {
        let waiting = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.closed = true;
            std::mem::take(&mut state.jobs)
        };
        drop(waiting);
    }

    async fn receive(&self) -> Vec<Job> {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.jobs.is_empty() {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(std::mem::take(&mut state.jobs))
        })
        .await
    }
}

/// The server thread's inject task: each job its own task, until the server shuts down.
pub async fn serve_inbox(inbox: Arc<Inbox>, ctx: Rc<ConnCtx>) {
    let key = ctx.life.key();
    loop {
        let jobs = monoio::select! {
            jobs = inbox.receive() => jobs,
            _ = ctx.life.until_shutdown(key) => break,
        };
        for job in jobs {
            spawn_contained(&ctx.bridge, serve(job, ctx.clone()));
        }
    }
    // Injects already running finish as connections do at shutdown; later ones get `End`.
    inbox.close();
}

/// One injected request over an in-memory connection.
async fn serve(mut job: Job, ctx: Rc<ConnCtx>) {
    let (server, client) = pipe::pair();
    let peer = Peer {
        ip: std::mem::take(&mut job.ip),
        ..Peer::default()
    };
    let request = std::mem::take(&mut job.request);
    let serving = crate::protocol::http1(server, peer, ctx);
    let upload = async {
        // Fails only once the connection is gone (it answered without reading the whole body,
        // say a 413): the answer side sees that end.
        let _ = client.write_all(&request).await;
    };
    let answer = forward(&client, &mut job);
    let mut serving = std::pin::pin!(serving);
    let mut upload = std::pin::pin!(upload);
    let mut answer = std::pin::pin!(answer);
    let (mut open, mut uploading) = (true, true);
    loop {
        monoio::select! {
            _ = &mut serving, if open => open = false,
            _ = &mut upload, if uploading => uploading = false,
            _ = &mut answer => break,
        }
    }
    // Dropped in reverse order of declaration: the connection (a client gone if it still owed
    // an answer), then the client end, then the job (a parameter), which tells JS the end.
}

/// Hands JS what the connection writes, as its window allows, until the connection ends or JS
/// closes.
async fn forward(client: &ClientEnd, job: &mut Job) {
    let mut buf = Vec::new();
    loop {
        if !job.control.until_window().await {
            return;
        }
        let more = monoio::select! {
            more = client.read_into(&mut buf) => more,
            _ = job.control.until_closed() => return,
        };
        if !buf.is_empty() {
            job.send(std::mem::take(&mut buf));
        }
        if !more {
            job.end();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn job(control: &Arc<Control>) -> (Job, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let to_js = Box::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        });
        (
            Job::new(
                b"GET / HTTP/1.1\r\n\r\n".to_vec(),
                "127.0.0.1".into(),
                control.clone(),
                to_js,
            ),
            rx,
        )
    }

    /// Lets every other task on this thread run until it waits: the runtime parks (and the
    /// sleep can end) only once no task is runnable, whatever the sleep's length.
    async fn settle() {
        monoio::time::sleep(std::time::Duration::from_millis(1)).await;
    }

    fn run(fut: impl std::future::Future<Output = ()>) {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
            .block_on(fut);
    }

    #[test]
    fn a_job_dropped_unrun_tells_js_the_end_once() {
        let control = Arc::new(Control::default());
        let (job, rx) = job(&control);
        let inbox = Inbox::default();
        inbox.post(job);
        inbox.close();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![Event::End]);
        // After close, a posted job is refused at once.
        let (job, rx) = self::job(&control);
        inbox.post(job);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![Event::End]);
    }

    fn handed(rx: &mpsc::Receiver<Event>) -> (usize, bool) {
        let (mut bytes, mut ended) = (0, false);
        for e in rx.try_iter() {
            match e {
                Event::Data(d) => bytes += d.len(),
                Event::End => ended = true,
            }
        }
        (bytes, ended)
    }

    /// A server end writing `len` bytes, then closing: whether it wrote them all.
    fn writer(server: pipe::ServerEnd, len: usize) -> monoio::task::JoinHandle<bool> {
        monoio::spawn(async move {
            use monoio::io::AsyncWriteRentExt;
            let mut server = server;
            let (res, _) = server.write_all(vec![7u8; len]).await;
            res.is_ok()
        })
    }

    #[test]
    fn the_answer_goes_to_js_within_its_window() {
        run(async {
            let control = Arc::new(Control::default());
            let (mut job, rx) = job(&control);
            let (server, client) = pipe::pair();
            let len = INJECT_WINDOW + pipe::PIPE_CAPACITY + 10;
            let writer = writer(server, len);
            let forwarding = monoio::spawn(async move {
                forward(&client, &mut job).await;
                job
            });
            // Until JS credits, no more than the window (plus one read) is handed over: once
            // every task on this one thread waits, nothing more comes.
            settle().await;
            let (first, ended) = handed(&rx);
            assert!(
                (INJECT_WINDOW..=INJECT_WINDOW + pipe::PIPE_CAPACITY).contains(&first),
                "{first}"
            );
            assert!(!ended);
            // Credit for what JS read lets the rest through, then the end.
            let (mut total, mut ended) = (first, false);
            while !ended {
                control.credit(INJECT_WINDOW);
                settle().await;
                let (more, end) = handed(&rx);
                assert!(more > 0 || end);
                (total, ended) = (total + more, end);
            }
            assert!(writer.await);
            drop(forwarding.await);
            assert_eq!(total, len);
        });
    }

    #[test]
    fn js_closing_drops_the_connection() {
        run(async {
            let control = Arc::new(Control::default());
            let (mut job, rx) = job(&control);
            let (server, client) = pipe::pair();
            let writer = writer(server, 4 * INJECT_WINDOW);
            let forwarding = monoio::spawn(async move {
                forward(&client, &mut job).await;
                job
            });
            settle().await;
            control.close();
            drop(forwarding.await);
            // The server end saw its client go, and JS heard the end once.
            assert!(!writer.await);
            let (_, ended) = handed(&rx);
            assert!(ended);
        });
    }
}
