//! The log of the long-running commands (`proxy`, `demo`) on stderr: text for people,
//! coloured only on a terminal, or one JSON object per line for machines.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

#[cfg(test)]
mod tests;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event for people; coloured when stderr is a terminal and NO_COLOR is
    /// not set.
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for log collectors.
    Json,
}

/// The logging flags shared by the commands that log.
#[derive(clap::Args)]
pub struct LogArgs {
    /// How log lines on stderr are written. Which lines: the RUST_LOG variable, a
    /// comma-separated list of LEVEL or TARGET=LEVEL, like `warn,wasmesh_proxy=debug`.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Installs the log subscriber: RUST_LOG's filter, else `default_filter`.
pub fn init(args: &LogArgs, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Colour codes only for a person at a terminal who has not asked for none: NO_COLOR set to
/// anything but the empty string turns them off (the NO_COLOR convention).
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}
