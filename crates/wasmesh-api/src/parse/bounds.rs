//! The bounds a file and a document must keep before they are deserialised: a file's
//! size and a document's nesting depth.
//!
//! Depth is the reason this module exists. The YAML parser keeps a possible key for every
//! open flow collection and looks at all of them for each token, so `[[[[…` costs time
//! quadratic in its depth (a 100 000-deep document took half a second, a 4 MiB one would
//! take minutes), and it reads the whole document before serde's own recursion limit is
//! checked. So depth is counted first, on the parser's events, stopping as soon as the
//! limit is passed: the parser never gets deeper than [`MAX_DEPTH`] + 1.
//!
//! For YAML the events come from libyaml itself (the parser that `serde_yaml_ng` drives),
//! so the count is the structure that would be deserialised, not a guess at it; for JSON
//! a scan of brackets outside strings is exact.

use super::Format;
use std::mem::MaybeUninit;

/// The largest file read, in bytes.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// The deepest nesting of mappings and sequences in a document. wasmesh's own kinds need
/// about ten levels; the rest is for plugin configurations.
pub const MAX_DEPTH: usize = 64;

/// The 1-based line (of `text`) where a document first nests deeper than `limit`, or
/// `None` when it stays within it. Broken text is not judged here: the typed read reports
/// its errors.
pub(super) fn too_deep(text: &str, format: Format, limit: usize) -> Option<usize> {
    match format {
        Format::Yaml => yaml_too_deep(text, limit),
        Format::Json => json_too_deep(text, limit),
    }
}

fn json_too_deep(text: &str, limit: usize) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if byte == b'\n' {
            line += 1;
        }
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn yaml_too_deep(text: &str, limit: usize) -> Option<usize> {
    let mut parser = Parser::new(text);
    let mut depth = 0usize;
    loop {
        let (kind, line) = parser.next()?;
        match kind {
            unsafe_libyaml::YAML_SEQUENCE_START_EVENT | unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
            }
            unsafe_libyaml::YAML_SEQUENCE_END_EVENT | unsafe_libyaml::YAML_MAPPING_END_EVENT => {
                depth = depth.saturating_sub(1);
            }
            // After the end (or an error) libyaml answers with no event.
            unsafe_libyaml::YAML_STREAM_END_EVENT | unsafe_libyaml::YAML_NO_EVENT => return None,
            _ => {}
        }
    }
}

/// libyaml's event parser over a borrowed text. The parser points at itself (its read
/// handler's data) and at the text, so it lives in a box that never moves and is deleted
/// before the borrow ends.
struct Parser<'a> {
    raw: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    _text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let mut raw = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        let parser = raw.as_mut_ptr();
        // SAFETY: `parser` points at memory of the right size that initialize fills; the
        // text outlives the parser (`_text` holds the borrow) and is not moved.
        unsafe {
            if unsafe_libyaml::yaml_parser_initialize(parser).fail {
                panic!("libyaml could not allocate a parser");
            }
            unsafe_libyaml::yaml_parser_set_encoding(parser, unsafe_libyaml::YAML_UTF8_ENCODING);
            unsafe_libyaml::yaml_parser_set_input_string(parser, text.as_ptr(), text.len() as u64);
        }
        Parser { raw, _text: text }
    }

    /// The next event's type and 1-based line; `None` on a syntax error.
    fn next(&mut self) -> Option<(unsafe_libyaml::yaml_event_type_t, usize)> {
        let parser = self.raw.as_mut_ptr();
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new`; the event is read only when parse
        // succeeded (it is then initialised) and is deleted right after.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(parser, event.as_mut_ptr()).fail {
                return None;
            }
            let event = event.as_mut_ptr();
            let found = ((*event).type_, (*event).start_mark.line as usize + 1);
            unsafe_libyaml::yaml_event_delete(event);
            Some(found)
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, deleted once.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.raw.as_mut_ptr()) }
    }
}
