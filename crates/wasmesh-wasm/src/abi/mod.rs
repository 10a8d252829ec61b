//! The Proxy-Wasm ABI hostcalls, grouped like the spec. Each shim checks its arguments,
//! reads guest memory (bounds-checked: a bad pointer or length gets
//! `InvalidMemoryAccess`), acts on the effective context's data, copies results back into
//! memory the guest allocates (`proxy_on_memory_allocate` or `malloc`), and returns a
//! [`Status`]. Only a trap inside the guest's allocator traps.

pub mod attributes;
pub(crate) mod buffers;
mod calls;
pub(crate) mod foreign;
pub(crate) mod general;
pub(crate) mod grpc;
pub(crate) mod headers;
pub(crate) mod http_call;
pub(crate) mod memory;
pub(crate) mod metrics;
pub(crate) mod properties;
pub(crate) mod shared;
mod signature;
pub(crate) mod wasi;

mod status;

pub use status::Status;

use wasmtime::Linker;

use crate::state::VmState;

/// Adds every hostcall (module `env`) and the WASI preview1 subset to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    general::add_to_linker(linker)?;
    headers::add_to_linker(linker)?;
    buffers::add_to_linker(linker)?;
    http_call::add_to_linker(linker)?;
    grpc::add_to_linker(linker)?;
    metrics::add_to_linker(linker)?;
    shared::add_to_linker(linker)?;
    properties::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    Ok(())
}

/// The serialisation of header maps the spec uses: a u32 count, then each pair's key and
/// value sizes (u32 each), then each key and value followed by a NUL byte. Little-endian.
pub mod pairs {
    use bytes::Bytes;

    use crate::HeaderMap;

    /// Serialises `map`.
    pub fn serialize(map: &HeaderMap) -> Vec<u8> {
        let pairs = map.pairs();
        let size = 4 + pairs
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len() + 2)
            .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend_from_slice(k);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    /// Parses a serialised map; `None` when the bytes do not hold what their sizes say.
    pub fn deserialize(bytes: &[u8]) -> Option<Vec<(Bytes, Bytes)>> {
        if bytes.is_empty() {
            return Some(Vec::new());
        }
        let u32_at = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?) as usize)
        };
        let count = u32_at(0)?;
        let mut sizes_at = 4usize;
        let mut data_at = 4usize.checked_add(count.checked_mul(8)?)?;
        if data_at > bytes.len() {
            return None;
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let (k, v) = (u32_at(sizes_at)?, u32_at(sizes_at + 4)?);
            sizes_at += 8;
            let key = bytes.get(data_at..data_at.checked_add(k)?)?;
            data_at = data_at.checked_add(k)?.checked_add(1)?;
            let value = bytes.get(data_at..data_at.checked_add(v)?)?;
            data_at = data_at.checked_add(v)?.checked_add(1)?;
            out.push((Bytes::copy_from_slice(key), Bytes::copy_from_slice(value)));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;
