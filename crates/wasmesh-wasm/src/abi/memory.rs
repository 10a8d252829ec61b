//! Bounds-checked access to a guest's linear memory from the hostcalls.

use wasmtime::Caller;

use super::{pairs, Status};
use crate::state::VmState;
use crate::HeaderMap;

/// A hostcall's failure: a status for the guest, or a trap (only from the guest's own
/// allocator).
pub enum HostError {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for HostError {
    fn from(status: Status) -> Self {
        HostError::Status(status)
    }
}

pub type HostResult<T = ()> = Result<T, HostError>;

/// Turns a shim's result into the value returned to the guest.
pub fn status(result: HostResult) -> wasmtime::Result<u32> {
    match result {
        Ok(()) => Ok(Status::Ok as u32),
        Err(HostError::Status(status)) => Ok(status as u32),
        Err(HostError::Trap(error)) => Err(error),
    }
}

/// `[ptr, ptr + len)` inside `memory`, or `InvalidMemoryAccess`.
pub fn slice(memory: &[u8], ptr: u32, len: u32) -> Result<&[u8], Status> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(Status::InvalidMemoryAccess)?;
    memory.get(start..end).ok_or(Status::InvalidMemoryAccess)
}

/// Mutable `[ptr, ptr + len)`.
pub fn slice_mut(memory: &mut [u8], ptr: u32, len: u32) -> Result<&mut [u8], Status> {
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(Status::InvalidMemoryAccess)?;
    memory.get_mut(start..end).ok_or(Status::InvalidMemoryAccess)
}

/// Runs `f` with the guest's memory and the VM state at once.
pub fn with_memory<R>(
    caller: &mut Caller<'_, VmState>,
    f: impl FnOnce(&mut [u8], &mut VmState) -> Result<R, Status>,
) -> Result<R, Status> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let (bytes, state) = memory.data_and_store_mut(caller);
    f(bytes, state)
}

/// Copies `[ptr, ptr + len)` out of the guest.
pub fn read(caller: &mut Caller<'_, VmState>, ptr: u32, len: u32) -> Result<Vec<u8>, Status> {
    with_memory(caller, |memory, _| slice(memory, ptr, len).map(<[u8]>::to_vec))
}

/// Longest key [`with_bytes`] copies onto the stack; longer ones go to the heap.
const STACK_KEY: usize = 256;

/// Runs `f` on a copy of `[ptr, ptr + len)`, made on the stack when it is short (header
/// names): a lookup by key allocates nothing. The copy lets `f` call back into the guest.
pub fn with_bytes<R>(
    caller: &mut Caller<'_, VmState>,
    ptr: u32,
    len: u32,
    f: impl FnOnce(&mut Caller<'_, VmState>, &[u8]) -> R,
) -> Result<R, Status> {
    if len as usize > STACK_KEY {
        let key = read(caller, ptr, len)?;
        return Ok(f(caller, &key));
    }
    let mut buf = [0u8; STACK_KEY];
    let n = len as usize;
    with_memory(caller, |memory, _| {
        buf[..n].copy_from_slice(slice(memory, ptr, len)?);
        Ok(())
    })?;
    Ok(f(caller, &buf[..n]))
}

/// Reads a UTF-8 string (`BadArgument` when it is not UTF-8).
pub fn read_string(caller: &mut Caller<'_, VmState>, ptr: u32, len: u32) -> Result<String, Status> {
    String::from_utf8(read(caller, ptr, len)?).map_err(|_| Status::BadArgument)
}

/// Reads a serialised header map (`BadArgument` when it is malformed).
pub fn read_map(caller: &mut Caller<'_, VmState>, ptr: u32, len: u32) -> Result<HeaderMap, Status> {
    Ok(pairs::deserialize(&read(caller, ptr, len)?)
        .ok_or(Status::BadArgument)?
        .into_iter()
        .collect())
}

/// Writes `bytes` at `ptr`.
pub fn write(caller: &mut Caller<'_, VmState>, ptr: u32, bytes: &[u8]) -> Result<(), Status> {
    with_memory(caller, |memory, _| {
        slice_mut(memory, ptr, bytes.len() as u32)?.copy_from_slice(bytes);
        Ok(())
    })
}

/// Writes a little-endian u32 at `ptr`.
pub fn write_u32(caller: &mut Caller<'_, VmState>, ptr: u32, value: u32) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Gives `bytes` to the guest: allocates a copy in its memory and writes the copy's address
/// at `ptr_ptr` and its length at `size_ptr`. Nothing to give writes a null pointer.
pub fn give(caller: &mut Caller<'_, VmState>, bytes: &[u8], ptr_ptr: u32, size_ptr: u32) -> HostResult {
    give_with(caller, bytes.len(), ptr_ptr, size_ptr, |out| {
        out.copy_from_slice(bytes)
    })
}

/// [`give`] for `len` bytes that `fill` writes straight into the guest's allocation: the
/// host builds no copy of its own first (e.g. a serialised header map).
pub fn give_with(
    caller: &mut Caller<'_, VmState>,
    len: usize,
    ptr_ptr: u32,
    size_ptr: u32,
    fill: impl FnOnce(&mut [u8]),
) -> HostResult {
    let len = u32::try_from(len).map_err(|_| Status::InternalFailure)?;
    // Check the out-pointers first, so a bad one costs no guest allocation.
    with_memory(caller, |memory, _| {
        slice(memory, ptr_ptr, 4)?;
        slice(memory, size_ptr, 4)?;
        Ok(())
    })?;
    let address = if len == 0 {
        0
    } else {
        let malloc = caller.data().malloc.clone().ok_or(Status::InternalFailure)?;
        let address = malloc.call(&mut *caller, len).map_err(HostError::Trap)?;
        if address == 0 {
            return Err(Status::InternalFailure.into());
        }
        with_memory(caller, |memory, _| {
            fill(slice_mut(memory, address, len)?);
            Ok(())
        })?;
        address
    };
    write_u32(caller, ptr_ptr, address)?;
    write_u32(caller, size_ptr, len)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_outside_memory_or_overflowing_are_invalid_memory_access() {
        let memory = [0u8; 16];
        assert_eq!(slice(&memory, 0, 16).unwrap().len(), 16);
        assert_eq!(slice(&memory, 16, 0).unwrap().len(), 0);
        assert_eq!(slice(&memory, 8, 9), Err(Status::InvalidMemoryAccess));
        assert_eq!(slice(&memory, 17, 0), Err(Status::InvalidMemoryAccess));
        assert_eq!(
            slice(&memory, u32::MAX, 2),
            Err(Status::InvalidMemoryAccess),
            "no wrap-around"
        );
    }
}
