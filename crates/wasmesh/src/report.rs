//! How the command reports a failure on stderr: the error and its causes on one line,
//! each said once.

#[cfg(test)]
mod tests;

/// `error: ...` with each cause of `err` appended after `: `, skipping a cause whose text
/// its parent already holds. Many errors put their source's text in their own message
/// (so that a log line that prints only the message is complete) and also return it as
/// `source()`; walking the chain would otherwise say the same cause twice.
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut parent = text.clone();
    let mut cause = err.source();
    while let Some(e) = cause {
        let own = e.to_string();
        if !parent.contains(&own) {
            text.push_str(": ");
            text.push_str(&own);
        }
        parent = own;
        cause = e.source();
    }
    text
}
