//! The `portcullis` binary: the command line only wires.

fn main() -> std::process::ExitCode {
    portcullis::cli::main()
}
