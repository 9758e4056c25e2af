//! `eventyard validate` and `eventyard run`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::Fatal;
use crate::model::{Compiled, Dur, Problem, Severity, Topology, compile};
use crate::router::run::{self, Clock, RunOptions};

/// `validate` arguments.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The topology file.
    file: PathBuf,
}

/// How `run` prints its numbers.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum StatsFormat {
    Table,
    Json,
}

/// `run` arguments.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The topology file.
    file: PathBuf,
    /// Play this scenario (its actions and assertions).
    #[arg(long)]
    scenario: Option<String>,
    /// Virtual time: as fast as the CPU allows, deterministic.
    #[arg(long = "virtual")]
    virtual_time: bool,
    /// Real time at this speed (simulated seconds per second).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run length (e.g. 90s, 2m); default: the scenario's, else 60s.
    #[arg(long, value_parser = Dur::parse)]
    duration: Option<Dur>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    stats: StatsFormat,
    /// Write per-event traces (JSON Lines) here.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Trace one event in N (with --trace).
    #[arg(long, default_value_t = 1)]
    trace_every: u64,
    /// Most events traced (with --trace).
    #[arg(long, default_value_t = 10_000)]
    trace_limit: u64,
    /// Write assertion results as JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

fn load(file: &Path) -> Result<Topology, Fatal> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Fatal::usage(format!("cannot read {}: {e}", file.display())))?;
    Topology::from_json(&text).map_err(|e| Fatal::usage(format!("{}: {e}", file.display())))
}

fn print_problems(file: &Path, problems: &[Problem]) {
    for p in problems {
        eprintln!("{}: {p}", file.display());
    }
}

fn compile_file(file: &Path) -> Result<Result<Compiled, Vec<Problem>>, Fatal> {
    let topology = load(file)?;
    Ok(compile(&topology, file.parent()))
}

/// Prints every problem; exit 2 on errors.
pub fn validate(args: &ValidateArgs) -> Result<u8, Fatal> {
    match compile_file(&args.file)? {
        Ok(compiled) => {
            print_problems(&args.file, &compiled.warnings);
            println!(
                "{}: ok ({} nodes, {} warnings)",
                args.file.display(),
                compiled.nodes.len(),
                compiled.warnings.len()
            );
            Ok(0)
        }
        Err(problems) => {
            print_problems(&args.file, &problems);
            let errors = problems
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            println!("{}: {errors} errors", args.file.display());
            Ok(2)
        }
    }
}

/// Runs a topology; exit 1 when an assertion fails.
pub fn run(args: &RunArgs) -> Result<u8, Fatal> {
    let compiled = match compile_file(&args.file)? {
        Ok(c) => c,
        Err(problems) => {
            print_problems(&args.file, &problems);
            return Err(Fatal::usage(format!(
                "{} has errors; fix them first (eventyard validate)",
                args.file.display()
            )));
        }
    };
    let mut trace_file = match &args.trace {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
            Fatal::usage(format!("cannot write {}: {e}", path.display()))
        })?)),
        None => None,
    };
    let options = RunOptions {
        scenario: args.scenario.clone(),
        clock: if args.virtual_time {
            Clock::Virtual
        } else {
            Clock::Real { speed: args.speed }
        },
        seed: args.seed,
        duration: args.duration,
        trace_every: if args.trace.is_some() {
            args.trace_every
        } else {
            0
        },
        trace_limit: args.trace_limit,
        progress: !args.quiet,
    };
    let report = run::run(
        Arc::new(compiled),
        &options,
        trace_file.as_mut().map(|w| w as &mut dyn Write),
    )
    .map_err(Fatal::usage)?;
    if let Some(mut w) = trace_file {
        w.flush()
            .map_err(|e| Fatal::usage(format!("cannot write the trace: {e}")))?;
    }
    match args.stats {
        StatsFormat::Table => print!("{}", run::table(&report)),
        StatsFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("\"{e}\""))
        ),
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, run::junit(&report))
            .map_err(|e| Fatal::usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(if report.passed() { 0 } else { 1 })
}
