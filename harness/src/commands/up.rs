//! `harness up`: the local stack until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;

use super::{CommandError, build_functions, stack_options};
use crate::cli::StackArgs;
use crate::stack::LocalStack;

/// Starts the stack, prints its endpoints as one JSON line, waits for a signal, stops it.
pub(super) async fn run(args: &StackArgs) -> Result<ExitCode, CommandError> {
    let options = stack_options(args)?;
    if !args.no_build {
        build_functions(&options.template, &options.functions_dir, false)?;
    }
    let stack = LocalStack::start(options).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", stack.endpoints())?;
        stdout.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("stopping the local stack");
    stack.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn wait_for_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}
