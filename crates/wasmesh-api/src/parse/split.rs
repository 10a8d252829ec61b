//! Cutting a file's text into documents, keeping each one's byte range and first line.

use super::Format;
use serde::de::IgnoredAny;
use std::ops::Range;

/// One document's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Range in the file, from the start of its `---` line (if any) to the next one.
    pub span: Range<usize>,
    /// The text to parse: the span with its `---` marker blanked out, so that lines and
    /// columns stay those of the file.
    pub text: String,
    /// 1-based line of the file where `text` starts.
    pub first_line: usize,
    /// 1-based line of the first line with content.
    pub content_line: usize,
}

pub(crate) fn split(text: &str, format: Format) -> Vec<Chunk> {
    match format {
        Format::Yaml => split_yaml(text),
        Format::Json => split_json(text),
    }
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

fn split_yaml(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if index > 0 && (is_marker(line, "---") || is_marker(line, "...")) {
            chunks.push(make_chunk(text, start..offset, start_line));
            start = offset;
            start_line = index + 1;
        }
        offset += line.len();
    }
    chunks.push(make_chunk(text, start..text.len(), start_line));
    chunks.into_iter().filter(|c| has_yaml_content(&c.text)).collect()
}

fn make_chunk(text: &str, span: Range<usize>, first_line: usize) -> Chunk {
    let mut body = text[span.clone()].to_string();
    for marker in ["---", "..."] {
        if is_marker(&body, marker) {
            body.replace_range(0..3, "   ");
        }
    }
    let content_line = first_line + body.lines().position(|l| !is_blank_yaml_line(l)).unwrap_or(0);
    Chunk {
        span,
        text: body,
        first_line,
        content_line,
    }
}

fn is_blank_yaml_line(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t.starts_with('%')
}

fn has_yaml_content(text: &str) -> bool {
    text.lines().any(|l| !is_blank_yaml_line(l))
}

/// JSON files hold one or more values one after the other.
fn split_json(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<IgnoredAny>();
    let mut start = 0;
    loop {
        match stream.next() {
            Some(Ok(_)) => {
                let end = stream.byte_offset();
                chunks.push(json_chunk(text, start..end));
                start = end;
            }
            Some(Err(_)) => {
                // The rest is one broken document; parsing it again reports the error.
                chunks.push(json_chunk(text, start..text.len()));
                break;
            }
            None => break,
        }
    }
    chunks
}

fn json_chunk(text: &str, span: Range<usize>) -> Chunk {
    let first_line = 1 + text[..span.start].matches('\n').count();
    let body = &text[span.clone()];
    let skipped = body.len() - body.trim_start().len();
    let content_line = first_line + body[..skipped].matches('\n').count();
    Chunk {
        span,
        text: body.to_string(),
        first_line,
        content_line,
    }
}
