//! raw-ceiling: the smallest HTTP/1.1 server that answers the benchmark, on the same runtime
//! (monoio, one thread, FusionDriver) as http-native. Whatever it reaches is the ceiling a
//! single-runtime-thread server can hope for on this machine. See README.md.

use std::cell::Cell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{ListenerOpts, TcpListener, TcpStream};
use monoio::{FusionDriver, FusionRuntime, LegacyDriver, RuntimeBuilder};

const READ_CHUNK: usize = 16 * 1024;
/// A client whose unparsed bytes grow past this is sending a head we will never finish.
const MAX_BUFFERED: usize = 64 * 1024;
const MAX_HEADERS: usize = 32;
const BODY: &[u8] = b"Hello, World!";

fn main() {
    let port = match std::env::var("PORT") {
        Ok(p) => p
            .parse::<u16>()
            .unwrap_or_else(|_| fail(format!("bad PORT {p:?}"))),
        Err(_) => 0,
    };
    let built = if std::env::var("HTTP_NATIVE_DRIVER").as_deref() == Ok("legacy") {
        RuntimeBuilder::<LegacyDriver>::new()
            .build()
            .map(FusionRuntime::from)
    } else {
        // Probes io_uring and falls back to epoll where the kernel or seccomp forbids it. The
        // ring is set up as the addon's (cooperative task running, one issuer); kernels before
        // 6.0 refuse those flags and get the plain ring.
        #[cfg(target_os = "linux")]
        let tuned = {
            let mut urb = io_uring::IoUring::builder();
            urb.setup_coop_taskrun().setup_single_issuer();
            RuntimeBuilder::<FusionDriver>::new()
                .uring_builder(urb)
                .build()
        };
        #[cfg(not(target_os = "linux"))]
        let tuned = RuntimeBuilder::<FusionDriver>::new().build();
        tuned.or_else(|_| RuntimeBuilder::<FusionDriver>::new().build())
    };
    let mut rt = built.unwrap_or_else(|e| fail(format!("runtime: {e}")));
    // Which driver FusionDriver settled on decides the numbers, so say it (on stderr: stdout
    // carries only the READY line).
    #[cfg(target_os = "linux")]
    eprintln!(
        "raw-ceiling: driver {}",
        match rt {
            FusionRuntime::Uring(_) => "io_uring",
            FusionRuntime::Legacy(_) => "epoll",
        }
    );
    rt.block_on(listen(port));
}

fn fail(msg: String) -> ! {
    eprintln!("raw-ceiling: {msg}");
    std::process::exit(1)
}

async fn listen(port: u16) {
    // reuse_port (monoio's default) would let a stale server share the port silently.
    let opts = ListenerOpts::new().reuse_port(false).backlog(1024);
    let listener = TcpListener::bind_with_config(("127.0.0.1", port), &opts)
        .unwrap_or_else(|e| fail(format!("bind: {e}")));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "READY {port}");
    let _ = stdout.flush();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Responses are written whole; Nagle would only delay them.
                let _ = stream.set_nodelay(true);
                monoio::spawn(serve(stream));
            }
            Err(e) => eprintln!("raw-ceiling: accept: {e}"),
        }
    }
}

async fn serve(mut stream: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut skip = 0;
    loop {
        buf.reserve(READ_CHUNK);
        let len = buf.len();
        // A plain Vec would be read into from index 0; slicing past `len` keeps what is already
        // buffered (the start of a partial or pipelined request).
        let (res, slice) = stream.read(buf.slice_mut(len..)).await;
        buf = slice.into_inner();
        if !matches!(res, Ok(n) if n > 0) {
            return;
        }
        let (consumed, close) = answer(&buf, &mut skip, &mut out, &date());
        buf.drain(..consumed);
        if !out.is_empty() {
            // One write per read: a pipelined batch goes back in one syscall (or one SQE).
            let (res, written) = stream.write_all(out).await;
            out = written;
            out.clear();
            if res.is_err() {
                return;
            }
        }
        if close || buf.len() > MAX_BUFFERED {
            return;
        }
    }
}

/// Answers every complete request in `buf` into `out`. Returns how many bytes were used and
/// whether the connection must close. `skip` carries body bytes still to discard across reads.
fn answer(buf: &[u8], skip: &mut usize, out: &mut Vec<u8>, date: &[u8; 29]) -> (usize, bool) {
    let mut pos = 0;
    loop {
        let n = (*skip).min(buf.len() - pos);
        pos += n;
        *skip -= n;
        if *skip > 0 || pos == buf.len() {
            return (pos, false);
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        pos += match req.parse(&buf[pos..]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return (pos, false),
            Err(_) => return (pos, true),
        };
        let http10 = req.version == Some(0);
        let (mut close, mut keep_alive) = (false, false);
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                match std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                {
                    Some(len) => *skip = len,
                    None => return (pos, true),
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Chunked bodies are out of scope; without them the stream cannot be framed.
                return (pos, true);
            } else if h.name.eq_ignore_ascii_case("connection") {
                close |= h.value.eq_ignore_ascii_case(b"close");
                keep_alive |= h.value.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        // HTTP/1.0 closes unless asked not to, and then expects the keep-alive echoed.
        close |= http10 && !keep_alive;
        let path = req.path.unwrap_or("").split('?').next();
        let found = req.method == Some("GET") && path == Some("/");
        out.extend_from_slice(if found {
            &b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n"
                [..]
        } else {
            &b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n"[..]
        });
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        } else if http10 {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n\r\n");
        if found {
            out.extend_from_slice(BODY);
        }
        if close {
            return (pos, true);
        }
    }
}

thread_local! {
    static DATE: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
}

/// The current IMF-fixdate, formatted again only when the second changes.
fn date() -> [u8; 29] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|cache| match cache.get() {
        (secs, text) if secs == now => text,
        _ => {
            let text = imf_fixdate(now);
            cache.set((now, text));
            text
        }
    })
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for Unix time `secs` (years 1970..=9999).
fn imf_fixdate(secs: u64) -> [u8; 29] {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days: years counted from March, so the leap day comes last.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 2 } else { mp - 10 } as usize;
    let year = era * 400 + yoe + u64::from(month < 2);
    let mut text = [0; 29];
    let _ = write!(
        &mut text[..],
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[month],
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            &imf_fixdate(4_107_542_399),
            b"Sun, 28 Feb 2100 23:59:59 GMT"
        );
    }

    #[test]
    fn answers_pipelined_and_partial_requests() {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut buf = [&req[..], &req[..], &req[..10]].concat();
        let (mut skip, mut out) = (0, Vec::new());
        let (used, close) = answer(&buf, &mut skip, &mut out, &imf_fixdate(0));
        assert_eq!((used, close), (2 * req.len(), false));
        assert_eq!(out.windows(13).filter(|w| *w == BODY).count(), 2);
        buf.drain(..used);
        buf.extend_from_slice(&req[10..]);
        buf.extend_from_slice(b"POST /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc");
        buf.extend_from_slice(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        out.clear();
        let (used, close) = answer(&buf, &mut skip, &mut out, &imf_fixdate(0));
        assert_eq!((used, close), (buf.len(), true));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("HTTP/1.1 ").count(), 3);
        assert!(
            text.contains("404 Not Found")
                && text
                    .ends_with("close\r\ndate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nHello, World!")
        );
    }
}
