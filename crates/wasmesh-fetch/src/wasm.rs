//! What makes bytes a module: Istio's rule (at least 8 bytes, `\0asm` magic) plus a walk over
//! the section headers so a truncated download is caught here rather than in the compiler.
//! Also unwraps the gzip and tar wrappers an HTTP url may serve, as Istio's fetcher does.

use flate2::read::GzDecoder;
use std::io::Read;

const MAGIC: &[u8; 4] = b"\0asm";

/// Checks that `bytes` look like a complete Wasm module; the error says why not.
pub fn check_module(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 {
        return Err(format!(
            "{} bytes is shorter than a Wasm header (8 bytes)",
            bytes.len()
        ));
    }
    if &bytes[..4] != MAGIC {
        return Err(format!(
            "does not start with the Wasm magic \\0asm (starts with {})",
            hex::encode(&bytes[..4])
        ));
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != 1 {
        return Err(format!(
            "Wasm binary version {version} is not 1 (components are not Proxy-Wasm plugins)"
        ));
    }
    let mut at = 8;
    let mut index = 0;
    while at < bytes.len() {
        let section_start = at;
        at += 1; // section id
        let (size, used) = read_leb_u32(&bytes[at..]).ok_or_else(|| {
            format!("truncated: section {index} at offset {section_start} has no complete size")
        })?;
        at += used;
        let remaining = bytes.len() - at;
        if size as usize > remaining {
            return Err(format!(
                "truncated: section {index} at offset {section_start} needs {size} bytes, {remaining} remain"
            ));
        }
        at += size as usize;
        index += 1;
    }
    Ok(())
}

fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// Unwraps gzip and tar layers until a Wasm module (or something else) remains.
/// A tar yields `plugin.wasm`, or else its only `.wasm` file. `limit` caps unpacked sizes.
pub(crate) fn unwrap_archive(bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, UnwrapError> {
    let mut current = bytes;
    // gzip inside tar inside gzip is as deep as anyone goes; stop there.
    for _ in 0..3 {
        if current.starts_with(&[0x1f, 0x8b]) {
            current = read_limited(GzDecoder::new(&current[..]), limit)?;
        } else if is_tar(&current) {
            current = wasm_from_tar(&current, limit)?;
        } else {
            break;
        }
    }
    Ok(current)
}

/// Why an archive could not be unwrapped.
#[derive(Debug)]
pub(crate) enum UnwrapError {
    TooLarge(u64),
    Invalid(String),
}

fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, UnwrapError> {
    let mut out = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| UnwrapError::Invalid(format!("gzip: {e}")))?;
    if out.len() as u64 > limit {
        return Err(UnwrapError::TooLarge(out.len() as u64));
    }
    Ok(out)
}

fn is_tar(bytes: &[u8]) -> bool {
    bytes.len() >= 512 && &bytes[257..262] == b"ustar"
}

/// Reads `plugin.wasm` (any directory) from a tar, or its only `.wasm` file.
pub(crate) fn wasm_from_tar(bytes: &[u8], limit: u64) -> Result<Vec<u8>, UnwrapError> {
    let mut archive = tar::Archive::new(bytes);
    let entries = archive
        .entries()
        .map_err(|e| UnwrapError::Invalid(format!("tar: {e}")))?;
    let mut wasm_files: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| UnwrapError::Invalid(format!("tar: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| UnwrapError::Invalid(format!("tar: {e}")))?
            .to_string_lossy()
            .into_owned();
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        if !name.ends_with(".wasm") {
            continue;
        }
        if entry.header().size().unwrap_or(0) > limit {
            return Err(UnwrapError::TooLarge(entry.header().size().unwrap_or(0)));
        }
        let content = read_limited(&mut entry, limit)?;
        if name == "plugin.wasm" {
            return Ok(content);
        }
        wasm_files.push((path, content));
    }
    match wasm_files.len() {
        1 => Ok(wasm_files.pop().map(|(_, c)| c).unwrap_or_default()),
        0 => Err(UnwrapError::Invalid("the tar holds no plugin.wasm".into())),
        _ => Err(UnwrapError::Invalid(format!(
            "the tar holds no plugin.wasm but several .wasm files: {}",
            wasm_files
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests;
