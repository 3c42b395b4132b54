//! Reading what an echo upstream says it received.

use serde_json::Value;

/// The form in which the gateway compares header names for spoofing (SPEC 4.5):
/// lower case, with `_` read as `-`.
pub fn header_compare_form(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// An echo upstream's answer: `{"upstream", "method", "path", "query", "headers",
/// "body_bytes"}`, header names in lower case, repeated headers as arrays.
#[derive(Debug, Clone)]
pub struct Echo(pub Value);

impl Echo {
    /// Reads an answer that must come from an echo upstream (status 200, its JSON).
    pub async fn from_response(r: reqwest::Response) -> Echo {
        let status = r.status();
        let text = r.text().await.expect("the answer has a body");
        Echo::from_parts(status.as_u16(), &text)
    }

    /// As [`Echo::from_response`], for a raw response.
    pub fn from_raw(r: &crate::RawResponse) -> Echo {
        Echo::from_parts(r.status, &r.text())
    }

    fn from_parts(status: u16, text: &str) -> Echo {
        assert_eq!(status, 200, "expected the upstream's answer, got: {text}");
        let v: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("not an echo answer ({e}): {text}"));
        assert!(v["upstream"].is_string(), "not an echo answer: {text}");
        Echo(v)
    }

    /// The `--name` of the upstream that answered.
    pub fn upstream(&self) -> &str {
        self.0["upstream"].as_str().unwrap_or_default()
    }

    pub fn method(&self) -> &str {
        self.0["method"].as_str().unwrap_or_default()
    }

    /// The path the upstream received.
    pub fn path(&self) -> &str {
        self.0["path"].as_str().unwrap_or_default()
    }

    pub fn query(&self) -> Option<&str> {
        self.0["query"].as_str()
    }

    /// Every value received for header `name` (lower case); empty when absent.
    pub fn header(&self, name: &str) -> Vec<String> {
        match &self.0["headers"][name] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The names of every header received.
    pub fn header_names(&self) -> Vec<String> {
        self.0["headers"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every header received whose name reads as `name` once case and `_`/`-` are
    /// ignored, with its values: the spellings a spoofing client might try.
    pub fn headers_like(&self, name: &str) -> Vec<(String, Vec<String>)> {
        let want = header_compare_form(name);
        self.header_names()
            .into_iter()
            .filter(|k| header_compare_form(k) == want)
            .map(|k| {
                let values = self.header(&k);
                (k, values)
            })
            .collect()
    }
}
