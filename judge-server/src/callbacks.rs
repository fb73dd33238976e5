//! Callbacks: when a submission names a `callback_url`, its result is sent there once it is
//! judged (native: POST of the result; Judge0 API: PUT of the submission's default fields).
//! Callbacks are rows in the store (attempts, next try, last error), so retries survive a
//! restart; after the last attempt a callback is a dead letter, kept for inspection.
//! With a secret configured, each body is signed with HMAC-SHA256:
//! - `X-Signature-256: sha256=<hex>` over the exact body;
//! - `X-Signature-Timestamp: <unix seconds>` of this attempt, and
//!   `X-Signature-256-Timestamped: sha256=<hex>` over `<timestamp>.<body>`, for receivers
//!   that want to refuse replays of old deliveries;
//! - `X-Judge-Signature` repeats `X-Signature-256` (the name of the first release).
//!
//! URLs that resolve to loopback, link-local (cloud metadata) or private addresses are
//! refused unless allowed, so a public server is never a proxy into its own network. The
//! check is made when the submission is accepted and again by the resolver of every
//! attempt, on the addresses the connection then uses (a name that later resolves to a
//! private address is refused too). Redirects are not followed.

use crate::store::Store;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// How callbacks are sent.
#[derive(Clone, Debug)]
pub struct Settings {
    /// HMAC-SHA256 key for the signature headers.
    pub secret: Option<String>,
    /// Attempts before a dead letter.
    pub max_tries: u32,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Allow loopback and private addresses (tests, private deployments).
    pub allow_private: bool,
}

/// Whether an address is anything but public unicast: loopback, private, link-local
/// (cloud metadata), shared (CGNAT), benchmarking, multicast, reserved, unspecified, and
/// the IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4), judged by
/// that address or refused outright.
fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0                                   // 0.0.0.0/8
                || a == 10                           // 10/8
                || a == 127                          // loopback
                || (a == 100 && (b & 0xc0) == 64)    // 100.64/10 shared
                || (a == 169 && b == 254)            // link-local, cloud metadata
                || (a == 172 && (b & 0xf0) == 16)    // 172.16/12
                || (a == 192 && b == 0 && c == 0)    // 192.0.0/24 protocol assignments
                || (a == 192 && b == 168)            // 192.168/16
                || (a == 198 && (b & 0xfe) == 18)    // 198.18/15 benchmarking
                || a >= 224 // multicast 224/4, reserved 240/4, broadcast
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private(IpAddr::V4(v4));
            }
            // ::a.b.c.d (deprecated IPv4-compatible), including :: and ::1.
            if s[..6] == [0; 6] {
                return true;
            }
            (s[0] == 0x64 && s[1] == 0xff9b)             // NAT64 64:ff9b::/96 (and /48)
                || s[0] == 0x2002                         // 6to4
                || (s[0] & 0xfe00) == 0xfc00              // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80              // link-local
                || (s[0] & 0xffc0) == 0xfec0              // site-local (deprecated)
                || (s[0] & 0xff00) == 0xff00              // multicast
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

/// Checks a callback URL before the submission is accepted.
pub fn check_url(url: &str, s: &Settings) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| "must be an http:// or https:// URL".to_string())?;
    let default_port = if url.starts_with("https://") { 443 } else { 80 };
    let hostport = rest.split('/').next().unwrap_or("");
    if hostport.is_empty() || hostport.contains('@') {
        return Err("has no host".into());
    }
    let with_port = if hostport.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    };
    resolve(&with_port, s.allow_private).map(|_| ())
}

/// Resolves `host:port`, refusing private addresses unless allowed (every address: a name
/// with one public and one private address is refused).
fn resolve(hostport: &str, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = hostport.to_socket_addrs().map_err(|e| format!("does not resolve: {e}"))?.collect();
    if addrs.is_empty() {
        return Err("does not resolve".into());
    }
    if !allow_private {
        if let Some(a) = addrs.iter().find(|a| private(a.ip())) {
            return Err(format!(
                "resolves to {} (loopback, private or link-local): refused (--callback-allow-private to allow)",
                a.ip()
            ));
        }
    }
    Ok(addrs)
}

/// The signature header's value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delay after failed attempt `n` (1-based): 0.2 s, 0.4 s, 0.8 s, ... up to 30 s, plus a
/// random 0-25 % so that callbacks that failed together (a receiver down) do not all come
/// back at the same instant.
pub fn backoff(n: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = (200u64 << n.saturating_sub(1).min(8)).min(30_000);
    // A fresh RandomState is seeded randomly: enough randomness for spreading retries.
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    Duration::from_millis(base + random % (base / 4 + 1))
}

/// One attempt. Redirects are not followed; any 2xx is success. Delivery is at least
/// once: a crash between a receiver's 2xx and the store's record of it sends again after
/// the restart, with the same `X-Callback-Id` (the submission's id), by which a receiver
/// drops repeats.
fn send(method: &str, url: &str, body: &str, id: &str, attempt: u32, s: &Settings) -> Result<(), String> {
    check_url(url, s)?;
    let allow_private = s.allow_private;
    let agent = ureq::AgentBuilder::new()
        .timeout(s.timeout)
        .redirects(0)
        .resolver(move |hostport: &str| {
            resolve(hostport, allow_private).map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))
        })
        .build();
    let mut req = agent
        .request(method, url)
        .set("Content-Type", "application/json")
        .set("X-Callback-Id", id)
        .set("X-Callback-Attempt", &attempt.to_string());
    if let Some(secret) = &s.secret {
        let signature = sign(secret, body.as_bytes());
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        req = req
            .set("X-Signature-256", &signature)
            .set("X-Judge-Signature", &signature)
            .set("X-Signature-Timestamp", &ts.to_string())
            .set("X-Signature-256-Timestamped", &sign(secret, format!("{ts}.{body}").as_bytes()));
    }
    match req.send_string(body) {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Attempts in flight at once: a slow receiver holds one of them, not the whole sender.
const PARALLEL: usize = 8;

/// Sends due callbacks forever, every 100 ms: each attempt on its own thread, at most
/// `PARALLEL` at once, never two for the same submission.
pub fn run(store: Store, s: Settings) {
    let in_flight = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::<String>::new()));
    loop {
        match store.due_callbacks() {
            Ok(due) => {
                for c in due {
                    {
                        let mut busy = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                        if busy.len() >= PARALLEL || !busy.insert(c.id.clone()) {
                            continue;
                        }
                    }
                    let (store, s, in_flight) = (store.clone(), s.clone(), std::sync::Arc::clone(&in_flight));
                    std::thread::spawn(move || {
                        attempt(&store, &s, &c);
                        in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&c.id);
                    });
                }
            }
            Err(e) => tracing::error!("reading due callbacks: {e:#}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One attempt and its outcome in the store.
fn attempt(store: &Store, s: &Settings, c: &crate::store::Callback) {
    let attempts = c.attempts + 1;
    let outcome = match send(&c.method, &c.url, &c.body, &c.id, attempts, s) {
        Ok(()) => store.callback_done(&c.id),
        Err(e) if attempts >= s.max_tries => {
            tracing::warn!(submission = %c.id, "callback dead after {attempts} attempts: {e}");
            store.callback_dead(&c.id, attempts, &e)
        }
        Err(e) => store.callback_retry(&c.id, attempts, &e, backoff(attempts)),
    };
    if let Err(e) = outcome {
        tracing::error!(submission = %c.id, "storing a callback's state: {e:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        let s = Settings { secret: None, max_tries: 3, timeout: Duration::from_secs(1), allow_private: false };
        for url in [
            "http://127.0.0.1:9/x",
            "http://10.1.2.3/x",
            "http://169.254.169.254/latest",
            "http://[::1]:80/",
            "http://192.168.0.1/",
            "http://0.1.2.3/",
            "http://198.18.0.1/",
            "http://224.0.0.1/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
        ] {
            assert!(check_url(url, &s).is_err(), "{url}");
        }
        assert!(check_url("ftp://example/x", &s).is_err());
        assert!(check_url("https://127.0.0.1/x", &s).is_err(), "https is checked the same way");
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!private(public.parse().unwrap()), "{public}");
        }
        let allowed = Settings { allow_private: true, ..s };
        assert!(check_url("http://127.0.0.1:9/x", &allowed).is_ok());
    }

    #[test]
    fn backoff_doubles_with_at_most_a_quarter_of_jitter() {
        for (n, base) in [(1, 200), (2, 400), (3, 800), (9, 30_000), (30, 30_000)] {
            let d = backoff(n).as_millis() as u64;
            assert!((base..=base + base / 4).contains(&d), "attempt {n}: {d} ms");
        }
    }

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
