//! The command line: `eventyard match` and `eventyard explain`.
//!
//! This is a stable contract other tools call:
//! - `match --pattern P [EVENTS]` prints matching event lines unchanged (like grep);
//!   `--count` prints only the count, `--invert-match` the non-matching lines.
//! - `match --rules RULES [EVENTS]` prints, per event line, a JSON array of the names of
//!   the matching rules, sorted.
//! - `--sns-policy P --scope attributes|body` does the same for an SNS filter policy.
//! - An invalid pattern prints `error: invalid pattern <name>: <path>: <reason>` on
//!   stderr and exits 2 with nothing on stdout. A malformed event line is reported with
//!   its line number and skipped; the exit status is then 1.
//! - `explain` exits 0 when the pattern matches, 1 when it does not, 2 on an invalid
//!   pattern or event.
//! - `validate FILE` prints every problem of a topology (`error: PATH: MESSAGE`) and
//!   exits 2 when there is an error, 0 otherwise.
//! - `run FILE [--scenario S] [--virtual] ...` runs a topology, prints a summary and
//!   exits 1 when an assertion fails, 2 when the file cannot be run.

mod topology;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::pattern::json::{self, Json};
use crate::pattern::sns::{FilterPolicy, Scope};
use crate::pattern::{Limits, Matcher, Pattern, PatternError, explain};

/// Eventyard: design, run and export event-driven systems.
///
/// Without a subcommand, opens the designer on FILE (or on the bundled e-commerce
/// example).
#[derive(Parser, Debug)]
#[command(
    name = "eventyard",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    open: OpenArgs,
}

/// Arguments of the designer (no subcommand).
#[derive(Args, Debug, Default)]
struct OpenArgs {
    /// The design to open (default: the bundled e-commerce example).
    file: Option<PathBuf>,
    /// Render the window once it settles, save it as a PNG here and exit.
    #[arg(long, value_name = "PATH")]
    screenshot: Option<PathBuf>,
    /// Start in the light theme (this run only).
    #[arg(long)]
    light: bool,
    /// Select this box at start (a node id, or `bus/rule`, `topic/subscription`).
    #[arg(long, value_name = "KEY")]
    select: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Filter JSON Lines events through a pattern, a rule set or an SNS filter policy.
    Match(MatchArgs),
    /// Explain, field by field, why a pattern does or does not match one event.
    Explain(ExplainArgs),
    /// Check a topology file and print every problem (exit 2 on errors).
    Validate(topology::ValidateArgs),
    /// Run a topology headless (optionally a scenario) and print what happened.
    Run(topology::RunArgs),
}

#[derive(Args, Debug)]
#[group(id = "source", required = true, multiple = false)]
struct SourceArgs {
    /// An EventBridge pattern: inline JSON or @FILE.
    #[arg(long, group = "source")]
    pattern: Option<String>,
    /// Rules: a JSON object {name: pattern} or an array [{"name", "pattern"}]; inline or @FILE.
    #[arg(long, group = "source")]
    rules: Option<String>,
    /// An SNS subscription filter policy: inline JSON or @FILE.
    #[arg(long = "sns-policy", group = "source")]
    sns_policy: Option<String>,
}

/// Pattern limits (EventBridge's quotas by default).
#[derive(Args, Debug, Clone, Copy)]
struct LimitArgs {
    /// Longest pattern accepted, in characters.
    #[arg(long, default_value_t = 2048)]
    max_pattern_chars: usize,
    /// Most sub-patterns an `$or` may expand into.
    #[arg(long, default_value_t = 1000)]
    max_combinations: usize,
}

impl From<LimitArgs> for Limits {
    fn from(l: LimitArgs) -> Limits {
        Limits {
            max_pattern_chars: l.max_pattern_chars,
            max_combinations: l.max_combinations,
            ..Limits::default()
        }
    }
}

#[derive(Args, Debug)]
struct MatchArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// Filter policy scope (with --sns-policy).
    #[arg(long, value_enum, default_value_t = ScopeArg::Attributes)]
    scope: ScopeArg,
    /// Print only the number of matching events.
    #[arg(long, short = 'c')]
    count: bool,
    /// Print the events that do not match.
    #[arg(long = "invert-match", short = 'v')]
    invert_match: bool,
    /// JSON Lines file of events (standard input when absent).
    events: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    #[command(flatten)]
    limits: LimitArgs,
    /// An EventBridge pattern: inline JSON or @FILE.
    #[arg(
        long,
        required_unless_present = "sns_policy",
        conflicts_with = "sns_policy"
    )]
    pattern: Option<String>,
    /// An SNS subscription filter policy: inline JSON or @FILE.
    #[arg(long = "sns-policy")]
    sns_policy: Option<String>,
    /// Filter policy scope (with --sns-policy).
    #[arg(long, value_enum, default_value_t = ScopeArg::Attributes)]
    scope: ScopeArg,
    /// The event (or message attributes / body): inline JSON or @FILE.
    #[arg(long)]
    event: String,
    /// Print the explanation as JSON.
    #[arg(long)]
    json: bool,
    /// The rule name to show.
    #[arg(long, default_value = "pattern")]
    name: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScopeArg {
    /// Message attributes (each event line is an SNS `MessageAttributes` object).
    Attributes,
    /// The message body (each line is the body JSON).
    Body,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Scope {
        match s {
            ScopeArg::Attributes => Scope::MessageAttributes,
            ScopeArg::Body => Scope::MessageBody,
        }
    }
}

/// A failure that ends the command with a message and an exit status.
pub(crate) struct Fatal {
    message: String,
    status: u8,
}

impl Fatal {
    pub(crate) fn usage(message: impl Into<String>) -> Fatal {
        Fatal {
            message: message.into(),
            status: 2,
        }
    }

    fn invalid_pattern(name: &str, e: &PatternError) -> Fatal {
        let place = if e.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.path)
        };
        Fatal::usage(format!("invalid pattern {name}: {place}{}", e.reason))
    }
}

/// Runs the command line; returns the process exit status.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        None => {
            // `eventyard frobnicate` is a mistyped subcommand far more often than a
            // design to open: a path that does not exist is a usage error.
            if let Some(file) = &cli.open.file
                && !file.exists()
            {
                eprintln!(
                    "error: no such file or subcommand: {} (see eventyard --help)",
                    file.display()
                );
                return ExitCode::from(2);
            }
            return open_designer(cli.open);
        }
        Some(Command::Match(args)) => run_match(&args),
        Some(Command::Explain(args)) => run_explain(&args),
        Some(Command::Validate(args)) => topology::validate(&args),
        Some(Command::Run(args)) => topology::run(&args),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(fatal) => {
            eprintln!("error: {}", fatal.message);
            ExitCode::from(fatal.status)
        }
    }
}

/// Opens the designer window (or explains that this build has none).
#[cfg(feature = "gui")]
fn open_designer(args: OpenArgs) -> ExitCode {
    crate::app::run(crate::app::Options {
        file: args.file,
        screenshot: args.screenshot,
        data_dir: None,
        light: args.light,
        select: args.select,
    })
}

/// Opens the designer window (or explains that this build has none).
#[cfg(not(feature = "gui"))]
fn open_designer(_args: OpenArgs) -> ExitCode {
    eprintln!(
        "error: this eventyard was built without the designer (feature `gui`); \
         use a subcommand: match, explain, validate, run (see --help)"
    );
    ExitCode::from(2)
}

/// Reads an inline value or `@file`.
fn inline_or_file(arg: &str) -> Result<(String, String), Fatal> {
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map(|text| (text, path.to_string()))
            .map_err(|e| Fatal::usage(format!("cannot read {path}: {e}"))),
        None => Ok((arg.to_string(), "pattern".to_string())),
    }
}

/// What `match` filters with.
enum Filter {
    One(Matcher),
    Rules(Matcher),
    Policy(FilterPolicy),
}

fn build_filter(args: &MatchArgs) -> Result<Filter, Fatal> {
    let source = &args.source;
    if let Some(p) = &source.pattern {
        let (text, name) = inline_or_file(p)?;
        let mut m = Matcher::with_limits(args.limits.into());
        m.add_rule(&name, &text)
            .map_err(|e| Fatal::invalid_pattern(&name, &e))?;
        return Ok(Filter::One(m));
    }
    if let Some(p) = &source.sns_policy {
        let (text, name) = inline_or_file(p)?;
        let policy = FilterPolicy::parse(&text, args.scope.into())
            .map_err(|e| Fatal::invalid_pattern(&name, &e))?;
        return Ok(Filter::Policy(policy));
    }
    let Some(r) = &source.rules else {
        return Err(Fatal::usage(
            "one of --pattern, --rules or --sns-policy is required",
        ));
    };
    let (text, _) = inline_or_file(r)?;
    Ok(Filter::Rules(load_rules(&text, args.limits.into())?))
}

/// Loads `{name: pattern}` or `[{"name": ..., "pattern": ...}]`.
pub fn load_rules_text(text: &str) -> Result<Vec<(String, String)>, String> {
    let doc = json::parse(text, 512).map_err(|e| format!("rules are not valid JSON: {e}"))?;
    let mut rules = Vec::new();
    match doc {
        Json::Object(fields) => {
            for (name, pattern) in fields {
                rules.push((name, pattern.to_compact()));
            }
        }
        Json::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                let Json::Object(fields) = item else {
                    return Err(format!(
                        "rules[{i}]: expected an object with \"name\" and \"pattern\""
                    ));
                };
                let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
                let Some(Json::String(name)) = get("name") else {
                    return Err(format!("rules[{i}]: \"name\" must be a string"));
                };
                let Some(pattern) = get("pattern") else {
                    return Err(format!("rules[{i}]: \"pattern\" is missing"));
                };
                rules.push((name.clone(), pattern.to_compact()));
            }
        }
        other => {
            return Err(format!(
                "rules must be an object or an array, not {}",
                other.type_name()
            ));
        }
    }
    Ok(rules)
}

fn load_rules(text: &str, limits: Limits) -> Result<Matcher, Fatal> {
    let rules = load_rules_text(text).map_err(Fatal::usage)?;
    let mut m = Matcher::with_limits(limits);
    for (name, pattern) in rules {
        if m.pattern(&name).is_some() {
            return Err(Fatal::usage(format!(
                "invalid pattern {name}: the rule name is used twice"
            )));
        }
        m.add_rule(&name, &pattern)
            .map_err(|e| Fatal::invalid_pattern(&name, &e))?;
    }
    Ok(m)
}

fn open_events(path: Option<&PathBuf>) -> Result<Box<dyn BufRead>, Fatal> {
    match path {
        Some(p) => File::open(p)
            .map(|f| Box::new(BufReader::with_capacity(1 << 16, f)) as Box<dyn BufRead>)
            .map_err(|e| Fatal::usage(format!("cannot read {}: {e}", p.display()))),
        None => Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin()))),
    }
}

fn run_match(args: &MatchArgs) -> Result<u8, Fatal> {
    let filter = build_filter(args)?;
    let mut input = open_events(args.events.as_ref())?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = Vec::new();
    let mut number = 0usize;
    let mut count = 0u64;
    let mut status = 0u8;
    let mut names: Vec<&str> = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(Fatal {
                    message: format!("reading events: {e}"),
                    status: 1,
                });
            }
        }
        number += 1;
        // The line is printed as read (a `\r` before the newline included); the event
        // is the line without its line ending.
        let printed = line.strip_suffix(b"\n").unwrap_or(&line);
        let event = trim_line(&line);
        if event.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let outcome = match &filter {
            Filter::One(m) | Filter::Rules(m) => m.matches(event).map(|n| {
                names = n;
                !names.is_empty()
            }),
            Filter::Policy(p) => p.matches(event),
        };
        let matched = match outcome {
            Ok(matched) => matched,
            Err(e) => {
                eprintln!("error: line {number}, column {}: {}", e.column, e.message);
                status = 1;
                continue;
            }
        };
        let written = if let Filter::Rules(_) = filter {
            count += u64::from(matched);
            if args.count {
                Ok(())
            } else {
                writeln!(out, "{}", serde_json::to_string(&names).unwrap_or_default())
            }
        } else if matched != args.invert_match {
            count += 1;
            if args.count {
                Ok(())
            } else {
                out.write_all(printed).and_then(|()| out.write_all(b"\n"))
            }
        } else {
            Ok(())
        };
        if let Err(e) = written {
            return finish_output(e, status);
        }
    }
    if args.count
        && let Err(e) = writeln!(out, "{count}")
    {
        return finish_output(e, status);
    }
    if let Err(e) = out.flush() {
        return finish_output(e, status);
    }
    Ok(status)
}

/// A closed pipe (`| head`) ends output quietly; other write errors are failures.
fn finish_output(e: io::Error, status: u8) -> Result<u8, Fatal> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(status)
    } else {
        Err(Fatal {
            message: format!("writing output: {e}"),
            status: 1,
        })
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

fn run_explain(args: &ExplainArgs) -> Result<u8, Fatal> {
    let (event, _) = match args.event.strip_prefix('@') {
        Some(_) => inline_or_file(&args.event)?,
        None => (args.event.clone(), String::new()),
    };
    let explanation = if let Some(policy) = &args.sns_policy {
        let (text, name) = inline_or_file(policy)?;
        let policy = FilterPolicy::parse(&text, args.scope.into())
            .map_err(|e| Fatal::invalid_pattern(&name, &e))?;
        policy.explain(event.trim().as_bytes())
    } else {
        let (text, name) = inline_or_file(args.pattern.as_deref().unwrap_or_default())?;
        let pattern = Pattern::parse_with(&text, &args.limits.into())
            .map_err(|e| Fatal::invalid_pattern(&name, &e))?;
        explain(&pattern, event.trim().as_bytes())
    };
    let explanation = explanation.map_err(|e| Fatal::usage(format!("invalid event: {e}")))?;
    let text = if args.json {
        let json = explanation.to_json(&args.name);
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    } else {
        explanation.to_text(&args.name)
    };
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        finish_output(e, 0)?;
    }
    Ok(if explanation.matched { 0 } else { 1 })
}
