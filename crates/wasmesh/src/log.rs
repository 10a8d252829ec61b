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
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match args.log_format {
        LogFormat::Text => builder
            .with_writer(|| IndentedStderr)
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .try_init(),
        LogFormat::Json => builder.with_writer(std::io::stderr).json().try_init(),
    };
}

/// stderr for the text log: the lines after the first of one event are indented, so a
/// multi-line message — a plugin's panic report, a pretty-printed value, a backtrace — reads
/// as one event, not as lines that look like events of their own. (The JSON log escapes
/// line feeds inside its strings.)
struct IndentedStderr;

impl std::io::Write for IndentedStderr {
    /// tracing-subscriber writes each event whole, in one call.
    fn write(&mut self, event: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(&indent_continuations(event))?;
        Ok(event.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `event` with every line but the first indented by four spaces.
fn indent_continuations(event: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let body = event.strip_suffix(b"\n").unwrap_or(event);
    if !body.contains(&b'\n') {
        return event.into();
    }
    let mut out = Vec::with_capacity(event.len() + 64);
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\n    ");
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(&event[body.len()..]);
    out.into()
}

/// Colour codes only for a person at a terminal who has not asked for none: NO_COLOR set to
/// anything but the empty string turns them off (the NO_COLOR convention).
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}
