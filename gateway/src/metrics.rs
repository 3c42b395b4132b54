//! Prometheus metrics, served as text on a listener of their own (never on the
//! public one): requests by tenant and status, sign-in results, codes sent by
//! provider, and the latency of proxied requests.
//!
//! Counting costs a map lookup and an atomic add per request; rendering happens
//! only when scraped.

use crate::tenancy::TenantName;
use async_trait::async_trait;
use dashmap::DashMap;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    requests: DashMap<(TenantName, u16), AtomicU64>,
    unknown_host: AtomicU64,
    sign_ins: DashMap<&'static str, AtomicU64>,
    codes_sent: DashMap<&'static str, AtomicU64>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::default)
}

fn bump<K: std::hash::Hash + Eq>(map: &DashMap<K, AtomicU64>, key: K) {
    if let Some(c) = map.get(&key) {
        c.fetch_add(1, Ordering::Relaxed);
        return;
    }
    map.entry(key).or_default().fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    pub fn request(&self, tenant: Option<&TenantName>, status: u16) {
        match tenant {
            Some(t) => bump(&self.requests, (t.clone(), status)),
            None => {
                self.unknown_host.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn sign_in(&self, result: &'static str) {
        bump(&self.sign_ins, result);
    }

    pub fn code_sent(&self, provider: &'static str) {
        bump(&self.codes_sent, provider);
    }

    pub fn proxied(&self, took: Duration) {
        // One count in the first bucket that holds it; `render` adds them up, so a
        // request costs one shared-counter update instead of up to twelve.
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| secs <= *bound) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str("# HELP portcullis_requests_total Requests answered, by tenant and status.\n");
        out.push_str("# TYPE portcullis_requests_total counter\n");
        let mut rows: Vec<_> = self
            .requests
            .iter()
            .map(|e| (e.key().clone(), e.value().load(Ordering::Relaxed)))
            .collect();
        rows.sort_by(|a, b| (a.0 .0.as_str(), a.0 .1).cmp(&(b.0 .0.as_str(), b.0 .1)));
        for ((tenant, status), n) in rows {
            let _ = writeln!(
                out,
                "portcullis_requests_total{{tenant=\"{}\",status=\"{status}\"}} {n}",
                esc(tenant.as_str())
            );
        }
        let _ = writeln!(
            out,
            "portcullis_requests_total{{tenant=\"\",status=\"421\"}} {}",
            self.unknown_host.load(Ordering::Relaxed)
        );
        for (name, help, map) in [
            (
                "portcullis_sign_ins_total",
                "Sign-in attempts, by result.",
                &self.sign_ins,
            ),
            (
                "portcullis_codes_sent_total",
                "Second-factor codes sent, by provider.",
                &self.codes_sent,
            ),
        ] {
            let label = if name.contains("codes") {
                "provider"
            } else {
                "result"
            };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let mut rows: Vec<_> = map
                .iter()
                .map(|e| (*e.key(), e.value().load(Ordering::Relaxed)))
                .collect();
            rows.sort();
            for (k, n) in rows {
                let _ = writeln!(out, "{name}{{{label}=\"{k}\"}} {n}");
            }
        }
        out.push_str("# HELP portcullis_proxied_seconds Time to answer a proxied request.\n");
        out.push_str("# TYPE portcullis_proxied_seconds histogram\n");
        let mut n = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            n += self.latency_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "portcullis_proxied_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "portcullis_proxied_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "portcullis_proxied_seconds_sum {sum}\nportcullis_proxied_seconds_count {count}"
        );
        out
    }
}

/// The metrics endpoint: `GET /metrics` on its own listener.
pub struct Endpoint;

#[async_trait]
impl ServeHttp for Endpoint {
    async fn response(&self, s: &mut ServerSession) -> http::Response<Vec<u8>> {
        let (status, body) = if s.req_header().uri.path() == "/metrics" {
            (200, global().render().into_bytes())
        } else {
            (404, b"not found; metrics are at /metrics\n".to_vec())
        };
        http::Response::builder()
            .status(status)
            .header("content-type", "text/plain; version=0.0.4")
            .header("content-length", body.len())
            .body(body)
            .expect("a response from fixed parts is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_the_histogram_render_as_prometheus_text() {
        let m = Metrics::default();
        let acme = TenantName::parse("acme").unwrap();
        m.request(Some(&acme), 200);
        m.request(Some(&acme), 200);
        m.request(None, 421);
        m.sign_in("success");
        m.code_sent("email");
        m.proxied(Duration::from_millis(3));
        let text = m.render();
        assert!(
            text.contains("portcullis_requests_total{tenant=\"acme\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("portcullis_requests_total{tenant=\"\",status=\"421\"} 1\n"));
        assert!(text.contains("portcullis_sign_ins_total{result=\"success\"} 1\n"));
        assert!(text.contains("portcullis_codes_sent_total{provider=\"email\"} 1\n"));
        assert!(text.contains("portcullis_proxied_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("portcullis_proxied_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("portcullis_proxied_seconds_count 1\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.proxied(Duration::from_millis(1));
        m.proxied(Duration::from_millis(3));
        m.proxied(Duration::from_millis(3));
        m.proxied(Duration::from_secs(1000));
        let text = m.render();
        let bucket = |le: &str| {
            let line = format!("portcullis_proxied_seconds_bucket{{le=\"{le}\"}} ");
            let at = text
                .find(&line)
                .unwrap_or_else(|| panic!("no {le} bucket in {text}"));
            let rest = &text[at + line.len()..];
            rest[..rest.find('\n').unwrap()].parse::<u64>().unwrap()
        };
        assert_eq!(bucket("0.001"), 1);
        assert_eq!(bucket("0.0025"), 1);
        assert_eq!(bucket("0.005"), 3);
        let last = BUCKETS[BUCKETS.len() - 1].to_string();
        assert_eq!(bucket(&last), 3, "the 1000 s request is beyond every bound");
        assert_eq!(bucket("+Inf"), 4);
        assert!(text.contains("portcullis_proxied_seconds_count 4\n"));
    }
}
