//! `harness chaos --sessions N` / `--find-max`.

use std::path::Path;
use std::process::ExitCode;

use super::CommandError;
use crate::chaos::ChaosOptions;
use crate::cli::ChaosArgs;

/// Runs the load with correctness.
pub(super) async fn run(
    _args: &ChaosArgs,
    _options: &ChaosOptions,
    _dir: &Path,
    _out: &mut impl std::io::Write,
) -> Result<ExitCode, CommandError> {
    Err(CommandError::Usage("not yet".into()))
}
