fn main() -> std::process::ExitCode {
    watchfloor::cli::main()
}
