use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Report {
    pub levels: BTreeMap<String, u32>,
    pub requests: Vec<Request>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub ms: u32,
}

#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub levels: &'a BTreeMap<String, u32>,
    pub requests: usize,
    pub errors: usize,
    pub slowest: Option<&'a Request>,
    pub mean_ms: f64,
}

impl Report {
    pub fn summary(&self) -> Summary<'_> {
        let total: u64 = self.requests.iter().map(|r| u64::from(r.ms)).sum();
        Summary {
            levels: &self.levels,
            requests: self.requests.len(),
            errors: self.requests.iter().filter(|r| r.status >= 500).count(),
            slowest: self.requests.iter().max_by_key(|r| r.ms),
            mean_ms: if self.requests.is_empty() {
                0.0
            } else {
                total as f64 / self.requests.len() as f64
            },
        }
    }

    pub fn render(&self) -> String {
        let summary = self.summary();
        let mut out = String::new();
        for (level, count) in summary.levels {
            out.push_str(&format!("{level}: {count}\n"));
        }
        out.push_str(&format!(
            "requests: {} (5xx: {}), mean {:.1} ms\n",
            summary.requests, summary.errors, summary.mean_ms
        ));
        if let Some(slow) = summary.slowest {
            out.push_str(&format!("slowest: {} {} {} ms\n", slow.method, slow.path, slow.ms));
        }
        out
    }
}
