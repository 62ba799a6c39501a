//! The `csp` binary. Everything lives in `crates/cli` (`csp_cli`); this package exists so that
//! the end-to-end suites in `tests/` can run the real binary (`CARGO_BIN_EXE_csp`).

fn main() -> std::process::ExitCode {
    csp_cli::main()
}
