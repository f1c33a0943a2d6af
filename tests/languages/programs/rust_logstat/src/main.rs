//! logstat: reads log lines on stdin, counts levels and extracts request timings.

mod report;

use std::io::Read;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use regex::Regex;

use report::{Report, Request};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Summarise a web server's log.
#[derive(Parser, Debug)]
#[command(name = "logstat", version, about)]
struct Cli {
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Report only requests slower than this many milliseconds.
    #[arg(long, default_value_t = 0)]
    slower_than: u32,
    /// Only paths matching this regular expression.
    #[arg(long)]
    path: Option<String>,
}

fn parse(text: &str, path_filter: Option<&Regex>, slower_than: u32) -> Result<Report> {
    let line_re = Regex::new(
        r"^(?P<ts>\d{4}-\d{2}-\d{2}T[\d:]+Z) (?P<level>[A-Z]+) (?P<msg>.*)$",
    )?;
    let request_re = Regex::new(r"(?P<method>GET|POST|PUT|DELETE) (?P<path>/\S*) (?P<status>\d{3}) (?P<ms>\d+)ms")?;
    let mut report = Report::default();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some(caps) = line_re.captures(line) else {
            bail!("line {} is not a log line: {line:?}", number + 1);
        };
        *report.levels.entry(caps["level"].to_string()).or_default() += 1;
        if let Some(req) = request_re.captures(&caps["msg"]) {
            let ms: u32 = req["ms"].parse().with_context(|| format!("line {}", number + 1))?;
            let path = req["path"].to_string();
            if ms < slower_than || path_filter.is_some_and(|re| !re.is_match(&path)) {
                continue;
            }
            report.requests.push(Request {
                method: req["method"].to_string(),
                path,
                status: req["status"].parse()?,
                ms,
            });
        }
    }
    Ok(report)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
    let filter = cli
        .path
        .as_deref()
        .map(Regex::new)
        .transpose()
        .context("--path is not a valid regular expression")?;
    let report = parse(&text, filter.as_ref(), cli.slower_than)?;
    match cli.format {
        Format::Json => println!("{}", serde_json::to_string(&report.summary())?),
        Format::Text => print!("{}", report.render()),
    }
    Ok(())
}
