//! The `eventyard` binary: see [`eventyard::cli`].

fn main() -> std::process::ExitCode {
    eventyard::cli::main(std::env::args_os())
}
