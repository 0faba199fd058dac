//! A TCP load balancer on 127.0.0.1:0 in front of service replicas, as a
//! deployment puts one in front of them: each new connection goes to the
//! next replica in turn, and to the one after it when that one refuses.
//! It counts the connections each replica took, so a test can tell that
//! both served.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Stops accepting when dropped (open connections end with their peers).
pub struct Balancer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub addr: SocketAddr,
    served: Arc<Vec<AtomicUsize>>,
    stopping: Arc<AtomicBool>,
}

impl Balancer {
    /// Starts balancing over `backends`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub fn start(backends: Vec<SocketAddr>) -> Balancer {
        assert!(!backends.is_empty(), "a balancer needs a backend");
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the balancer");
        let addr = listener.local_addr().expect("balancer address");
        let served: Arc<Vec<AtomicUsize>> =
            Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let stopping = Arc::new(AtomicBool::new(false));
        let (served_in, stopping_in) = (served.clone(), stopping.clone());
        thread::Builder::new()
            .name("test-balancer".into())
            .spawn(move || {
                let mut next = 0usize;
                for client in listener.incoming() {
                    if stopping_in.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    // Try each backend once, starting with the next in turn.
                    let picked = (0..backends.len()).find_map(|i| {
                        let n = (next + i) % backends.len();
                        TcpStream::connect_timeout(&backends[n], Duration::from_secs(2))
                            .ok()
                            .map(|s| (n, s))
                    });
                    next = (next + 1) % backends.len();
                    let Some((n, upstream)) = picked else {
                        // Nobody answers: the client sees the connection close.
                        continue;
                    };
                    served_in[n].fetch_add(1, Ordering::SeqCst);
                    let _ = pipe_both_ways(client, upstream);
                }
            })
            .expect("spawning the balancer");
        Balancer {
            url: format!("http://{addr}"),
            addr,
            served,
            stopping,
        }
    }

    /// Connections each backend took so far, in the order given.
    pub fn served(&self) -> Vec<usize> {
        self.served.iter().map(|n| n.load(Ordering::SeqCst)).collect()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn pipe_both_ways(client: TcpStream, upstream: TcpStream) -> io::Result<()> {
    let (client_in, upstream_in) = (client.try_clone()?, upstream.try_clone()?);
    thread::spawn(move || copy_then_close(client_in, upstream));
    thread::spawn(move || copy_then_close(upstream_in, client));
    Ok(())
}

/// Copies until `from` ends or fails, then closes both directions of `to`
/// (a replica that dies mid-request closes the client's connection too).
fn copy_then_close(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
