//! `bench-tool`: the parts of `bench/run` that a shell and wrk do badly.
//!
//! - `seed-sessions`: writes signed-in sessions straight into a SQLite store, and
//!   their cookie values to a file (for the memory measurement);
//! - `storm-mix`: a constant-rate signed-in load, with latency counted from the
//!   moment each request was due so a stall is not hidden by the requests it
//!   delayed, while real sign-ins (or login-page fetches) run in every other phase;
//! - `touch-sessions`: one signed-in request per seeded session;
//! - `startup`: time from spawning `portcullis serve` to its first answered request.
//!
//! Every loop is bounded in count and time, and every address is the caller's own.

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::{Parser, Subcommand};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(about = "Helpers for bench/run")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Inserts COUNT signed-in sessions of one user into a SQLite store.
    SeedSessions {
        /// The SQLite file (migrated, with the user in it).
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// Where the cookie values go, one per line.
        #[arg(long)]
        cookies: PathBuf,
    },
    /// Sends one signed-in GET per cookie in FILE (so each session is loaded into the
    /// gateway's memory) and prints how many were answered with 2xx.
    TouchSessions {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        host: String,
        #[arg(long, default_value = "/")]
        path: String,
        /// Session cookie values, one per line.
        #[arg(long)]
        cookies: PathBuf,
        #[arg(long, default_value_t = 8)]
        connections: usize,
    },
    /// Prints COUNT distinct loopback ports that were free a moment ago.
    FreePorts {
        #[arg(default_value_t = 1)]
        count: usize,
    },
    /// Constant-rate signed-in requests while sign-ins run in every other PHASE
    /// seconds; prints the latency of requests due in calm and in storm phases
    /// apart. Interleaving short phases makes other load on the machine fall on
    /// both alike.
    StormMix {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        host: String,
        #[arg(long, default_value = "/")]
        path: String,
        /// The signed-in `Cookie` header value.
        #[arg(long)]
        cookie: String,
        /// Signed-in requests per second, all connections together.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 8)]
        connections: u32,
        /// Users to sign in as, in turn (`name:password`).
        #[arg(long = "user", required = true)]
        users: Vec<String>,
        /// Sign-ins started per second during a storm phase.
        #[arg(long, default_value_t = 10.0)]
        storm_rate: f64,
        /// Seconds, calm and storm phases together.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Seconds per phase.
        #[arg(long, default_value_t = 2.0)]
        phase: f64,
        /// Fetch the login page only, without posting it: the sign-in's page work
        /// without its password hash, to tell the two apart.
        #[arg(long)]
        pages_only: bool,
    },
    /// Starts `BIN serve --config CONFIG` RUNS times and times the first answer.
    Startup {
        #[arg(long)]
        bin: PathBuf,
        #[arg(long)]
        config: PathBuf,
        /// The gateway's listener.
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        host: String,
        #[arg(long, default_value = "/")]
        path: String,
        #[arg(long)]
        cookie: Option<String>,
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// The gateway's log, appended to.
        #[arg(long)]
        log: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::SeedSessions {
            db,
            tenant,
            username,
            count,
            cookies,
        } => seed_sessions(&db, &tenant, &username, count, &cookies),
        Cmd::TouchSessions {
            addr,
            host,
            path,
            cookies,
            connections,
        } => touch_sessions(addr, &host, &path, &cookies, connections),
        Cmd::StormMix {
            addr,
            host,
            path,
            cookie,
            rate,
            connections,
            users,
            storm_rate,
            duration,
            phase,
            pages_only,
        } => {
            let request = get_request(&host, &path, Some(&cookie), true);
            let mix = Mix {
                rate,
                connections,
                storm_rate,
                duration: Duration::from_secs(duration),
                phase: Duration::from_secs_f64(phase),
                pages_only,
            };
            storm_mix(addr, &host, request, &users, &mix)
        }
        Cmd::FreePorts { count } => {
            // Held together so that they differ; released on return.
            let held: Vec<std::net::TcpListener> = (0..count)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
                .collect::<std::io::Result<_>>()?;
            let ports: Vec<String> = held
                .iter()
                .map(|l| l.local_addr().map(|a| a.port().to_string()))
                .collect::<std::io::Result<_>>()?;
            println!("{}", ports.join(" "));
            Ok(())
        }
        Cmd::Startup {
            bin,
            config,
            addr,
            host,
            path,
            cookie,
            runs,
            log,
        } => {
            let request = get_request(&host, &path, cookie.as_deref(), false);
            startup(&bin, &config, addr, &request, runs, &log)
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// seed-sessions

fn seed_sessions(
    db: &std::path::Path,
    tenant: &str,
    username: &str,
    count: usize,
    cookies: &std::path::Path,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let values = rt.block_on(insert_sessions(db, tenant, username, count))?;
    let mut out = String::with_capacity(values.len() * 44);
    for v in &values {
        out.push_str(v);
        out.push('\n');
    }
    std::fs::write(cookies, out).with_context(|| format!("writing {}", cookies.display()))?;
    eprintln!(
        "seeded {count} sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Rows as the gateway writes them: keyed by the hex SHA-256 of the 32 raw id
/// bytes, whose base64url form (no padding) is the cookie value.
async fn insert_sessions(
    db: &std::path::Path,
    tenant: &str,
    username: &str,
    count: usize,
) -> Result<Vec<String>> {
    use sqlx::{Connection, Row};
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let user =
        sqlx::query("SELECT id, security_stamp FROM users WHERE tenant = $1 AND username = $2")
            .bind(tenant)
            .bind(username)
            .fetch_optional(&mut conn)
            .await?
            .ok_or_else(|| anyhow!("no user {username} in tenant {tenant}"))?;
    let user_id: i64 = user.try_get("id")?;
    let stamp: String = user.try_get("security_stamp")?;
    let now = unix_now();
    let mut values = Vec::with_capacity(count);
    let mut tx = conn.begin().await?;
    let mut rng = rand::rngs::OsRng;
    for _ in 0..count {
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        sqlx::query(
            "INSERT INTO sessions (id_hash, tenant, user_id, stage, methods, security_stamp, \
             return_to, created_at, last_seen, expires_at) \
             VALUES ($1, $2, $3, 'signed_in', 'pwd', $4, '/', $5, $5, $6)",
        )
        .bind(hex::encode(Sha256::digest(id)))
        .bind(tenant)
        .bind(user_id)
        .bind(&stamp)
        .bind(now)
        .bind(now + 12 * 3600)
        .execute(&mut *tx)
        .await?;
        values.push(URL_SAFE_NO_PAD.encode(id));
    }
    tx.commit().await?;
    Ok(values)
}

// ---------------------------------------------------------------------------
// A small blocking HTTP/1.1 client: enough for the gateway's answers, which
// always carry Content-Length.

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.lines().skip(1).filter_map(move |l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn get_request(host: &str, path: &str, cookie: Option<&str>, keep_alive: bool) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n");
    if let Some(c) = cookie {
        r.push_str(&format!("Cookie: {c}\r\n"));
    }
    if !keep_alive {
        r.push_str("Connection: close\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// Reads one response from `s`; `buf` keeps bytes past its end.
fn read_response(s: &mut impl Read, buf: &mut Vec<u8>) -> Result<Response> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed before the response head");
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line"))?;
    let mut r = Response {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = r
        .headers("content-length")
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("response without Content-Length"))?;
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed inside the body");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    r.body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Ok(r)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a new connection.
fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    s.write_all(request)?;
    read_response(&mut s, &mut Vec::new())
}

// ---------------------------------------------------------------------------
// touch-sessions

fn touch_sessions(
    addr: SocketAddr,
    host: &str,
    path: &str,
    cookies: &std::path::Path,
    connections: usize,
) -> Result<()> {
    let text = std::fs::read_to_string(cookies)
        .with_context(|| format!("reading {}", cookies.display()))?;
    let values: Vec<String> = text.lines().map(str::to_owned).collect();
    let started = Instant::now();
    let per = values.len().div_ceil(connections.max(1)).max(1);
    let handles: Vec<_> = values
        .chunks(per)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            let (host, path) = (host.to_owned(), path.to_owned());
            std::thread::spawn(move || -> Result<(u64, u64)> {
                let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                let mut buf = Vec::new();
                let (mut ok, mut other) = (0, 0);
                for c in chunk {
                    let cookie = format!("portcullis_session={c}");
                    s.write_all(&get_request(&host, &path, Some(&cookie), true))?;
                    match read_response(&mut s, &mut buf)?.status {
                        200..=299 => ok += 1,
                        _ => other += 1,
                    }
                }
                Ok((ok, other))
            })
        })
        .collect();
    let (mut ok, mut other) = (0, 0);
    for h in handles {
        let (o, n) = h
            .join()
            .map_err(|_| anyhow!("a client thread panicked"))??;
        ok += o;
        other += n;
    }
    println!(
        "{{\"requests\":{},\"ok\":{ok},\"non_2xx\":{other},\"seconds\":{:.1}}}",
        ok + other,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// paced load

#[derive(Default)]
struct PacedResult {
    latencies_us: Vec<u32>,
    /// When each request of `latencies_us` was due, after the first one of all.
    due_us: Vec<u64>,
    errors: u64,
    non_2xx: u64,
}

/// One connection of a paced load: sends `request` every `interval` from `first`
/// until `end`. A request's latency runs from when it was due if the connection
/// was still busy with an earlier one then (the wait is the server's fault), and
/// from when it was sent otherwise (the wait was this client's timer).
fn paced_connection(
    addr: SocketAddr,
    request: &[u8],
    first: Instant,
    interval: Duration,
    end: Instant,
    origin: Instant,
) -> PacedResult {
    let mut out = PacedResult::default();
    let mut conn: Option<(TcpStream, Vec<u8>)> = None;
    let mut due = first;
    let mut free_at = Instant::now();
    while due < end && out.errors < 1000 {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let sent = Instant::now();
        let from = if free_at > due { due } else { sent };
        if conn.is_none() {
            conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .and_then(|s| {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(Duration::from_secs(5)))?;
                    Ok(s)
                })
                .ok()
                .map(|s| (s, Vec::new()));
        }
        let result = match conn.as_mut() {
            None => Err(anyhow!("cannot connect")),
            Some((s, buf)) => s
                .write_all(request)
                .map_err(anyhow::Error::from)
                .and_then(|_| read_response(s, buf)),
        };
        free_at = Instant::now();
        match result {
            Ok(r) => {
                if !(200..300).contains(&r.status) {
                    out.non_2xx += 1;
                }
                let us = free_at.duration_since(from).as_micros();
                out.latencies_us.push(us.min(u128::from(u32::MAX)) as u32);
                out.due_us
                    .push(due.duration_since(origin).as_micros() as u64);
            }
            Err(_) => {
                out.errors += 1;
                conn = None;
            }
        }
        due += interval;
    }
    out
}

// ---------------------------------------------------------------------------
// sign-ins

/// GETs the login page, as a browser does before signing in.
fn login_page(addr: SocketAddr, host: &str) -> Result<Response> {
    let page = exchange(
        addr,
        &get_request(host, "/.portcullis/login", None, false),
        Duration::from_secs(20),
    )?;
    if page.status != 200 {
        bail!("the login page answered {}", page.status);
    }
    Ok(page)
}

fn sign_in(addr: SocketAddr, host: &str, username: &str, password: &str) -> Result<()> {
    let timeout = Duration::from_secs(20);
    let page = login_page(addr, host)?;
    let csrf_cookie = page
        .headers("set-cookie")
        .filter_map(|c| c.split(';').next())
        .find(|c| c.trim_start().starts_with("portcullis_csrf="))
        .ok_or_else(|| anyhow!("no CSRF cookie on the login page"))?
        .to_owned();
    let html = String::from_utf8_lossy(&page.body);
    let field = form_field(&html, "csrf").ok_or_else(|| anyhow!("no csrf field"))?;
    let body = form_urlencode(&[
        ("csrf", &field),
        ("username", username),
        ("password", password),
        ("return", "/"),
    ]);
    let post = format!(
        "POST /.portcullis/login HTTP/1.1\r\nHost: {host}\r\nCookie: {csrf_cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let r = exchange(addr, post.as_bytes(), timeout)?;
    let has_session = r
        .headers("set-cookie")
        .any(|c| c.starts_with("portcullis_session="));
    if r.status != 303 || !has_session {
        bail!("sign-in answered {}", r.status);
    }
    Ok(())
}

/// The value of `<input … name="NAME" … value="…">`.
fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let tag_start = html[..html.find(&marker)?].rfind('<')?;
    let tag = &html[tag_start..];
    let tag = &tag[..tag.find('>')?];
    let v = tag.split("value=\"").nth(1)?;
    Some(v[..v.find('"')?].to_owned())
}

fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------------------
// storm-mix

struct Mix {
    rate: u32,
    connections: u32,
    storm_rate: f64,
    duration: Duration,
    phase: Duration,
    pages_only: bool,
}

/// Requests due this soon after a phase starts are left out: a sign-in begun at
/// the end of a storm phase may still be running.
const PHASE_GUARD: Duration = Duration::from_millis(250);

fn storm_mix(
    addr: SocketAddr,
    host: &str,
    request: Vec<u8>,
    users: &[String],
    mix: &Mix,
) -> Result<()> {
    let users: Vec<(String, String)> = users
        .iter()
        .map(|u| {
            u.split_once(':')
                .map(|(n, p)| (n.to_owned(), p.to_owned()))
                .ok_or_else(|| anyhow!("--user takes name:password"))
        })
        .collect::<Result<_>>()?;
    let interval = Duration::from_secs_f64(f64::from(mix.connections) / f64::from(mix.rate.max(1)));
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + mix.duration;
    let phase_of =
        |since_start: Duration| (since_start.as_secs_f64() / mix.phase.as_secs_f64()) as u64;

    // The signed-in load, throughout.
    let load: Vec<_> = (0..mix.connections)
        .map(|i| {
            let request = request.clone();
            let offset = interval.mul_f64(f64::from(i) / f64::from(mix.connections));
            std::thread::spawn(move || {
                paced_connection(addr, &request, start + offset, interval, end, start)
            })
        })
        .collect();

    // Sign-ins, in odd phases only.
    let every = Duration::from_secs_f64(1.0 / mix.storm_rate.max(0.1));
    let (tx, rx) = std::sync::mpsc::channel::<(bool, Duration)>();
    let mut started = 0usize;
    for i in 0.. {
        let due = start + every.mul_f64(i as f64);
        if due >= end {
            break;
        }
        if phase_of(due - start) % 2 == 0 {
            continue;
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let (name, password) = users[started % users.len()].clone();
        started += 1;
        let (host, tx, pages_only) = (host.to_owned(), tx.clone(), mix.pages_only);
        std::thread::spawn(move || {
            lowest_priority();
            let t = Instant::now();
            let ok = if pages_only {
                login_page(addr, &host).is_ok()
            } else {
                sign_in(addr, &host, &name, &password).is_ok()
            };
            let _ = tx.send((ok, t.elapsed()));
        });
    }
    drop(tx);

    // Each request counts for the phase it was due in.
    let (mut calm, mut storm) = (Vec::new(), Vec::new());
    let (mut errors, mut non_2xx) = (0, 0);
    for h in load {
        let r = h.join().map_err(|_| anyhow!("a client thread panicked"))?;
        errors += r.errors;
        non_2xx += r.non_2xx;
        for (lat, due) in r.latencies_us.into_iter().zip(r.due_us) {
            let due = Duration::from_micros(due);
            if due.as_secs_f64() % mix.phase.as_secs_f64() < PHASE_GUARD.as_secs_f64() {
                continue;
            }
            match phase_of(due) % 2 {
                0 => calm.push(lat),
                _ => storm.push(lat),
            }
        }
    }
    let mut signins: Vec<Duration> = Vec::new();
    let mut failed = 0;
    while let Ok((ok, d)) = rx.recv_timeout(Duration::from_secs(30)) {
        if ok {
            signins.push(d);
        } else {
            failed += 1;
        }
    }
    signins.sort_unstable();
    let storm_secs = mix.duration.as_secs_f64() / 2.0;
    let c = Percentiles::of(&mut calm);
    let s = Percentiles::of(&mut storm);
    let median_signin = signins
        .get(signins.len() / 2)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    println!(
        "{{\"calm\":{},\"storm\":{},\"p99_ratio\":{:.2},\"signins\":{{\"started\":{started},\"succeeded\":{},\"failed\":{failed},\"per_storm_second\":{:.2},\"p50_ms\":{:.1}}},\"errors\":{errors},\"non_2xx\":{non_2xx}}}",
        c.json(),
        s.json(),
        if c.p99 > 0.0 { s.p99 / c.p99 } else { 0.0 },
        signins.len(),
        signins.len() as f64 / storm_secs,
        median_signin,
    );
    Ok(())
}

/// Gives the calling thread the lowest CPU priority. The sign-in clients stand for
/// browsers on other machines: their own work (threads, parsing pages) must not
/// compete with the gateway on this machine's cores, and the signed-in load must
/// not wait behind it.
fn lowest_priority() {
    // SAFETY: setpriority only reads its integer arguments; on Linux, PRIO_PROCESS
    // with `who = 0` changes the nice value of the calling thread alone.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// Latency percentiles in milliseconds.
struct Percentiles {
    n: usize,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Percentiles {
    fn of(us: &mut [u32]) -> Percentiles {
        us.sort_unstable();
        let at = |p: f64| -> f64 {
            if us.is_empty() {
                return 0.0;
            }
            let i = ((p / 100.0) * (us.len() as f64 - 1.0)).round() as usize;
            f64::from(us[i]) / 1000.0
        };
        Percentiles {
            n: us.len(),
            p50: at(50.0),
            p99: at(99.0),
            p999: at(99.9),
            max: us.last().map(|v| f64::from(*v) / 1000.0).unwrap_or(0.0),
        }
    }

    fn json(&self) -> String {
        format!(
            "{{\"requests\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
            self.n, self.p50, self.p99, self.p999, self.max
        )
    }
}

// ---------------------------------------------------------------------------
// startup

/// Spawns the gateway, polls every millisecond until `request` gets a 2xx answer,
/// and stops it with SIGINT; prints each time and the min and median.
fn startup(
    bin: &std::path::Path,
    config: &std::path::Path,
    addr: SocketAddr,
    request: &[u8],
    runs: usize,
    log: &std::path::Path,
) -> Result<()> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let t0 = Instant::now();
        let mut child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let answered = loop {
            if t0.elapsed() > Duration::from_secs(10) {
                break None;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let _ = status;
                break None;
            }
            match exchange(addr, request, Duration::from_millis(500)) {
                Ok(r) if (200..300).contains(&r.status) => break Some(t0.elapsed()),
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let stopped = Instant::now();
        while child.try_wait()?.is_none() {
            if stopped.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let Some(t) = answered else {
            bail!(
                "the gateway did not answer within 10 s; see {}",
                log.display()
            );
        };
        times.push(t.as_secs_f64() * 1000.0);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let runs_json: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    println!(
        "{{\"runs_ms\":[{}],\"min_ms\":{:.1},\"median_ms\":{:.1}}}",
        runs_json.join(","),
        sorted[0],
        sorted[sorted.len() / 2]
    );
    Ok(())
}
