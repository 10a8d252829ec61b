//! The WASI preview1 subset the Proxy-Wasm spec lists (`fd_write` to stdout/stderr,
//! clocks, `random_get`, environment, arguments, `proc_exit`), plus the file calls every
//! libc start-up makes, answered so that the guest sees no files at all: the sandbox has
//! no filesystem and no sockets.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Linker};

use super::memory::{slice, slice_mut, with_memory, write};
use crate::state::VmState;
use crate::LogLevel;

type C<'a> = Caller<'a, VmState>;

const WASI: &str = "wasi_snapshot_preview1";

const SUCCESS: u32 = 0;
const EBADF: u32 = 8;
const EFAULT: u32 = 21;
const EINVAL: u32 = 28;
const ENOSYS: u32 = 52;
const ENOTCAPABLE: u32 = 76;

fn errno(result: Result<(), u32>) -> u32 {
    match result {
        Ok(()) => SUCCESS,
        Err(e) => e,
    }
}

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut c: C<'_>, fd: u32, iovs: u32, iovs_len: u32, written_ptr: u32| {
            Ok(errno(fd_write(&mut c, fd, iovs, iovs_len, written_ptr)))
        },
    )?;
    linker.func_wrap(WASI, "fd_read", |_: C<'_>, _: u32, _: u32, _: u32, _: u32| {
        Ok(EBADF)
    })?;
    linker.func_wrap(WASI, "fd_close", |_: C<'_>, _: u32| Ok(EBADF))?;
    linker.func_wrap(WASI, "fd_seek", |_: C<'_>, _: u32, _: i64, _: u32, _: u32| {
        Ok(EBADF)
    })?;
    linker.func_wrap(WASI, "fd_fdstat_get", |mut c: C<'_>, fd: u32, ptr: u32| {
        if fd > 2 {
            return Ok(EBADF);
        }
        // A character device with no rights beyond what stdio needs.
        let mut stat = [0u8; 24];
        stat[0] = 2;
        Ok(errno(write(&mut c, ptr, &stat).map_err(|_| EFAULT)))
    })?;
    linker.func_wrap(WASI, "fd_prestat_get", |_: C<'_>, _: u32, _: u32| Ok(EBADF))?;
    linker.func_wrap(WASI, "fd_prestat_dir_name", |_: C<'_>, _: u32, _: u32, _: u32| {
        Ok(EBADF)
    })?;
    linker.func_wrap(
        WASI,
        "path_open",
        |_: C<'_>, _: u32, _: u32, _: u32, _: u32, _: u32, _: i64, _: i64, _: u32, _: u32| Ok(ENOTCAPABLE),
    )?;
    linker.func_wrap(WASI, "poll_oneoff", |_: C<'_>, _: u32, _: u32, _: u32, _: u32| {
        Ok(ENOSYS)
    })?;
    linker.func_wrap(WASI, "sched_yield", |_: C<'_>| Ok(SUCCESS))?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut c: C<'_>, id: u32, _precision: u64, ptr: u32| {
            let nanos = match id {
                0 => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0),
                1..=3 => c.data().started.elapsed().as_nanos() as u64,
                _ => return Ok(EINVAL),
            };
            Ok(errno(
                write(&mut c, ptr, &nanos.to_le_bytes()).map_err(|_| EFAULT),
            ))
        },
    )?;
    linker.func_wrap(WASI, "clock_res_get", |mut c: C<'_>, _id: u32, ptr: u32| {
        Ok(errno(write(&mut c, ptr, &1u64.to_le_bytes()).map_err(|_| EFAULT)))
    })?;
    linker.func_wrap(WASI, "random_get", |mut c: C<'_>, ptr: u32, len: u32| {
        Ok(errno(
            with_memory(&mut c, |memory, _| {
                let out = slice_mut(memory, ptr, len)?;
                getrandom::getrandom(out).map_err(|_| super::Status::InternalFailure)
            })
            .map_err(|_| EFAULT),
        ))
    })?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut c: C<'_>, count_ptr: u32, size_ptr: u32| {
            let env = &c.data().env;
            let count = env.len() as u32;
            let size: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
            let ok = write(&mut c, count_ptr, &count.to_le_bytes())
                .and_then(|()| write(&mut c, size_ptr, &(size as u32).to_le_bytes()));
            Ok(errno(ok.map_err(|_| EFAULT)))
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_get",
        |mut c: C<'_>, environ_ptr: u32, buf_ptr: u32| Ok(errno(environ_get(&mut c, environ_ptr, buf_ptr))),
    )?;
    linker.func_wrap(
        WASI,
        "args_sizes_get",
        |mut c: C<'_>, count_ptr: u32, size_ptr: u32| {
            let ok = write(&mut c, count_ptr, &0u32.to_le_bytes())
                .and_then(|()| write(&mut c, size_ptr, &0u32.to_le_bytes()));
            Ok(errno(ok.map_err(|_| EFAULT)))
        },
    )?;
    linker.func_wrap(WASI, "args_get", |_: C<'_>, _: u32, _: u32| Ok(SUCCESS))?;
    linker.func_wrap(WASI, "proc_exit", |_: C<'_>, code: u32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::msg(format!(
            "the plugin called proc_exit({code})"
        )))
    })?;
    Ok(())
}

fn fd_write(c: &mut C<'_>, fd: u32, iovs: u32, iovs_len: u32, written_ptr: u32) -> Result<(), u32> {
    if fd != 1 && fd != 2 {
        return Err(EBADF);
    }
    let written = with_memory(c, |memory, state| {
        let vectors = slice(
            memory,
            iovs,
            iovs_len
                .checked_mul(8)
                .ok_or(super::Status::InvalidMemoryAccess)?,
        )?;
        let mut total = 0u32;
        let max = state.plugin.host.inner.limits.max_log_line;
        for vector in vectors.chunks_exact(8) {
            let ptr = u32::from_le_bytes(vector[..4].try_into().expect("4 bytes"));
            let len = u32::from_le_bytes(vector[4..].try_into().expect("4 bytes"));
            let bytes = slice(memory, ptr, len)?;
            let buffer = &mut state.stdio[(fd - 1) as usize];
            // Keep at most one line's worth; the rest of an overlong line is dropped.
            let room = (max + 1).saturating_sub(buffer.len());
            buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
            total = total.saturating_add(len);
            emit_lines(state, fd, false);
        }
        Ok(total)
    })
    .map_err(|_| EFAULT)?;
    write(c, written_ptr, &written.to_le_bytes()).map_err(|_| EFAULT)
}

/// Sends complete lines (or, with `all`, everything) of stdout/stderr to the host's log.
/// The complete lines of one write are one event, so a multi-line message (a panic's report,
/// a pretty-printed value) stays together.
fn emit_lines(state: &mut VmState, fd: u32, all: bool) {
    let index = (fd - 1) as usize;
    let max = state.plugin.host.inner.limits.max_log_line;
    loop {
        let buffer = &mut state.stdio[index];
        let cut = match buffer.iter().rposition(|b| *b == b'\n') {
            Some(newline) => Some((newline, newline + 1)),
            None if buffer.len() > max => Some((max, max)),
            None if all && !buffer.is_empty() => Some((buffer.len(), buffer.len())),
            None => None,
        };
        let Some((end, drain)) = cut else { return };
        let line = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..drain);
        let level = if fd == 1 { LogLevel::Info } else { LogLevel::Error };
        state.host.log(&state.plugin.plugin_name, level, &line);
    }
}

/// Flushes partial stdout/stderr lines at the end of a callback.
pub fn flush_stdio(state: &mut VmState) {
    if !state.stdio[0].is_empty() {
        emit_lines(state, 1, true);
    }
    if !state.stdio[1].is_empty() {
        emit_lines(state, 2, true);
    }
}

fn environ_get(c: &mut C<'_>, environ_ptr: u32, buf_ptr: u32) -> Result<(), u32> {
    with_memory(c, |memory, state| {
        let mut at = buf_ptr;
        for (i, (name, value)) in state.env.iter().enumerate() {
            let entry = format!("{name}={value}\0");
            slice_mut(memory, at, entry.len() as u32)?.copy_from_slice(entry.as_bytes());
            let slot = environ_ptr
                .checked_add(4 * i as u32)
                .ok_or(super::Status::InvalidMemoryAccess)?;
            slice_mut(memory, slot, 4)?.copy_from_slice(&at.to_le_bytes());
            at = at
                .checked_add(entry.len() as u32)
                .ok_or(super::Status::InvalidMemoryAccess)?;
        }
        Ok(())
    })
    .map_err(|_| EFAULT)
}
