//! A small SMTP server on 127.0.0.1:0 that keeps every mail it receives, so
//! tests can read the mail the service sends and follow its links. It speaks
//! just enough SMTP (RFC 5321) for a well-behaved client: EHLO/HELO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT; no TLS, no authentication.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    fn parts(&self) -> (Vec<(String, String)>, String) {
        let text = self.data.replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line.trim_start());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let encoding = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
            .map(|(_, v)| v.to_ascii_lowercase());
        let body = match encoding.as_deref() {
            Some("quoted-printable") => decode_quoted_printable(body),
            Some("base64") => {
                use base64::Engine;
                let compact: String = body.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default()
            }
            _ => body.to_owned(),
        };
        (headers, body)
    }

    /// A header's value (unfolded), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.parts()
            .0
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The decoded body text, `\n` line ends.
    pub fn body(&self) -> String {
        self.parts().1.replace("\r\n", "\n")
    }

    /// The first `http…` link in the body that contains `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        self.body()
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(needle))
            .map(str::to_owned)
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The running sink. Stops when dropped.
pub struct MailSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MailSink {
    /// Listens on 127.0.0.1:0.
    ///
    /// # Panics
    /// If no port can be bound.
    pub fn start() -> MailSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the SMTP sink");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the sink's address");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let mails = mails.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("smtp-sink".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                let mails = mails.clone();
                                std::thread::spawn(move || {
                                    let _ = serve(stream, &mails);
                                });
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(10)),
                        }
                    }
                })
                .expect("spawning the SMTP sink")
        };
        MailSink {
            addr,
            mails,
            stop,
            thread: Some(thread),
        }
    }

    /// `smtp://127.0.0.1:<port>`, for the service's `--smtp-url`.
    pub fn smtp_url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every mail received so far, oldest first.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The mails to `recipient`, waiting up to 10 s until there are at least
    /// `count`.
    ///
    /// # Panics
    /// When fewer arrive in time.
    pub fn wait_for(&self, recipient: &str, count: usize) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<ReceivedMail> = self
                .mails()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(recipient)))
                .collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} mails to {recipient} arrived",
                found.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn angle_address(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => argument[start + 1..end].to_owned(),
        _ => argument
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn serve(stream: TcpStream, mails: &Mutex<Vec<ReceivedMail>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 coffer-test-sink ESMTP\r\n")?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            writer.write_all(b"250-coffer-test-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with("HELO") {
            writer.write_all(b"250 coffer-test-sink\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle_address(&command["MAIL FROM:".len()..]);
            to.clear();
            writer.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(angle_address(&command["RCPT TO:".len()..]));
            writer.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            writer.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            if let Ok(mut mails) = mails.lock() {
                mails.push(ReceivedMail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
            }
            writer.write_all(b"250 OK: queued\r\n")?;
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            writer.write_all(b"250 OK\r\n")?;
        } else if upper == "NOOP" {
            writer.write_all(b"250 OK\r\n")?;
        } else if upper == "QUIT" {
            writer.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"502 Command not implemented\r\n")?;
        }
    }
}
