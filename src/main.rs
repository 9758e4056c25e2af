//! The `eventyard` binary: see [`eventyard::cli`].

/// mimalloc: the router allocates and frees message bodies on different threads (bodies
/// are prepared on worker threads, freed by the engine), where it is much faster than
/// the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    eventyard::cli::main(std::env::args_os())
}
