//! Project chores, run as `cargo xtask <chore>`.
//!
//! - `fixtures`: rewrites `events/fixtures/*.bin` from the samples in `csp_events::fixtures`.
//!   Deliberate on purpose: a shape change shows up in review as changed golden files, next to
//!   the `events/CHANGELOG.md` line that explains it. Tests only ever read these files.

use std::process::ExitCode;

fn main() -> ExitCode {
    let chore = std::env::args().nth(1);
    match chore.as_deref() {
        Some("fixtures") => match csp_events::fixtures::write_all() {
            Ok(paths) => {
                for p in paths {
                    println!("wrote {}", p.display());
                }
                println!("now add a line to events/CHANGELOG.md if a shape changed");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xtask fixtures: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cargo xtask fixtures");
            ExitCode::from(2)
        }
    }
}
