//! One acceptor for the I/O threads of one `listen({ ioThreads, balance: 'acceptor' })`: the
//! first server binds and accepts, and hands each connection to the thread with the fewest open
//! (the others bind nothing and take connections from their `Inbox`). The alternative to every
//! thread accepting on its own SO_REUSEPORT socket, where the kernel picks by a hash of the
//! addresses and ports and knows nothing of load; the bench (`bench/cores.js`) measures both.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Poll, Waker};

use crate::stats::{get, Stats};

/// The threads of one listen().
#[derive(Default)]
pub struct Acceptor {
    /// Every thread, the accepting one first.
    members: Mutex<Vec<Weak<Inbox>>>,
    /// Where the accepting thread listens, for the others' `port`/`host`.
    pub addr: Mutex<Option<SocketAddr>>,
    /// Turns among threads equally loaded, so ties do not all go to the first.
    turn: AtomicUsize,
}

/// Connections handed to one thread, and what says how loaded it is.
pub struct Inbox {
    state: Mutex<InboxState>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct InboxState {
    sockets: Vec<(std::net::TcpStream, SocketAddr)>,
    waker: Option<Waker>,
    /// The thread stopped taking connections: what is handed to it now is closed.
    closed: bool,
}

impl Acceptor {
    /// The acceptor shared under `name` in this process.
    pub fn named(name: &str) -> Arc<Acceptor> {
        crate::shared::shared_default(Some(name))
    }

    /// Adds a thread; the first to join accepts for all.
    pub fn join(&self, stats: Arc<Stats>) -> (Arc<Inbox>, bool) {
        let inbox = Arc::new(Inbox {
            state: Mutex::default(),
            stats,
        });
        let mut members = self.lock();
        members.retain(|m| m.strong_count() > 0);
        let accepts = members.is_empty();
        members.push(Arc::downgrade(&inbox));
        (inbox, accepts)
    }

    /// The thread with the fewest connections, open or waiting in its inbox (the accepting
    /// thread's own go through its inbox too, so a burst it takes counts against it at once).
    pub fn pick(&self) -> Option<Arc<Inbox>> {
        let members: Vec<Arc<Inbox>> = self.lock().iter().filter_map(Weak::upgrade).collect();
        let n = members.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &members[(start + i) % n])
            .filter(|m| !m.is_closed())
            .min_by_key(|m| m.load())
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Inbox>>> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inbox {
    fn load(&self) -> u64 {
        let waiting = self.lock().sockets.len() as u64;
        get(&self.stats.connections_open) + waiting
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Hands a connection over; a closed inbox drops (closes) it.
    pub fn push(&self, socket: std::net::TcpStream, peer: SocketAddr) {
        let waker = {
            let mut state = self.lock();
            if state.closed {
                return;
            }
            state.sockets.push((socket, peer));
            state.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Waits for connections handed over.
    pub async fn receive(&self) -> Vec<(std::net::TcpStream, SocketAddr)> {
        poll_fn(|cx| {
            let mut state = self.lock();
            if state.sockets.is_empty() {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(std::mem::take(&mut state.sockets))
        })
        .await
    }

    /// No more connections: those waiting are closed with it.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.sockets.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn picked(acceptor: &Acceptor, inboxes: &[Arc<Inbox>]) -> usize {
        let m = acceptor.pick().expect("a thread");
        inboxes.iter().position(|i| Arc::ptr_eq(i, &m)).unwrap()
    }

    #[test]
    fn the_least_loaded_thread_gets_the_connection() {
        let acceptor = Acceptor::default();
        let stats: Vec<Arc<Stats>> = (0..3).map(|_| Arc::new(Stats::default())).collect();
        let joined: Vec<(Arc<Inbox>, bool)> =
            stats.iter().map(|s| acceptor.join(s.clone())).collect();
        assert!(
            joined[0].1 && !joined[1].1 && !joined[2].1,
            "the first accepts"
        );
        let inboxes: Vec<Arc<Inbox>> = joined.into_iter().map(|(i, _)| i).collect();
        stats[0].connections_open.store(5, Relaxed);
        stats[1].connections_open.store(2, Relaxed);
        stats[2].connections_open.store(7, Relaxed);
        assert_eq!(picked(&acceptor, &inboxes), 1);
        stats[0].connections_open.store(0, Relaxed);
        assert_eq!(picked(&acceptor, &inboxes), 0);
        // A closed thread gets nothing, whatever its load.
        stats[0].connections_open.store(9, Relaxed);
        inboxes[1].close();
        stats[1].connections_open.store(0, Relaxed);
        assert_eq!(picked(&acceptor, &inboxes), 2);
    }

    #[test]
    fn connections_waiting_in_an_inbox_count_as_load() {
        let acceptor = Acceptor::default();
        let inboxes: Vec<Arc<Inbox>> = (0..2)
            .map(|_| acceptor.join(Arc::new(Stats::default())).0)
            .collect();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut counts = [0; 2];
        let mut clients = Vec::new();
        for _ in 0..10 {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            let (socket, peer) = listener.accept().unwrap();
            let i = picked(&acceptor, &inboxes);
            inboxes[i].push(socket, peer);
            counts[i] += 1;
        }
        assert_eq!(counts, [5, 5]);
    }
}
