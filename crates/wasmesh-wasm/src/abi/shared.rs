//! Shared data (with CAS) and shared queues, across every VM of the process.

use bytes::Bytes;
use wasmtime::{Caller, Linker};

use super::memory::{give, read, read_string, status, write_u32, HostResult};
use super::Status;
use crate::state::VmState;

type C<'a> = Caller<'a, VmState>;

/// Largest value a plugin may store under one key.
const MAX_VALUE: usize = 1 << 20;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, key_ptr: u32, key_size: u32, ptr_ptr: u32, size_ptr: u32, cas_ptr: u32| {
            status(get_shared_data(
                &mut c, key_ptr, key_size, ptr_ptr, size_ptr, cas_ptr,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C<'_>, key_ptr: u32, key_size: u32, value_ptr: u32, value_size: u32, cas: u32| {
            status(set_shared_data(
                &mut c, key_ptr, key_size, value_ptr, value_size, cas,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: C<'_>, name_ptr: u32, name_size: u32, id_ptr: u32| {
            status(register(&mut c, name_ptr, name_size, id_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: C<'_>, vm_ptr: u32, vm_size: u32, name_ptr: u32, name_size: u32, id_ptr: u32| {
            status(resolve(&mut c, (vm_ptr, vm_size), (name_ptr, name_size), id_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: C<'_>, id: u32, ptr: u32, size: u32| status(enqueue(&mut c, id, ptr, size)),
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: C<'_>, id: u32, ptr_ptr: u32, size_ptr: u32| {
            let item = c.data().plugin.host.inner.queues.dequeue(id);
            status(
                item.map_err(Into::into)
                    .and_then(|item| give(&mut c, &item, ptr_ptr, size_ptr)),
            )
        },
    )?;
    Ok(())
}

fn get_shared_data(
    c: &mut C<'_>,
    key_ptr: u32,
    key_size: u32,
    ptr_ptr: u32,
    size_ptr: u32,
    cas_ptr: u32,
) -> HostResult {
    let key = read_string(c, key_ptr, key_size)?;
    let plugin = c.data().plugin.clone();
    let (value, cas) = plugin
        .host
        .inner
        .shared_data
        .get(&plugin.spec.vm_id, &key)
        .ok_or(Status::NotFound)?;
    write_u32(c, cas_ptr, cas)?;
    give(c, &value, ptr_ptr, size_ptr)
}

fn set_shared_data(
    c: &mut C<'_>,
    key_ptr: u32,
    key_size: u32,
    value_ptr: u32,
    value_size: u32,
    cas: u32,
) -> HostResult {
    if value_size as usize > MAX_VALUE {
        return Err(Status::BadArgument.into());
    }
    let key = read_string(c, key_ptr, key_size)?;
    let value = Bytes::from(read(c, value_ptr, value_size)?);
    let plugin = c.data().plugin.clone();
    plugin
        .host
        .inner
        .shared_data
        .set(&plugin.spec.vm_id, &key, value, cas)?;
    Ok(())
}

fn register(c: &mut C<'_>, name_ptr: u32, name_size: u32, id_ptr: u32) -> HostResult {
    let name = read_string(c, name_ptr, name_size)?;
    write_u32(c, id_ptr, 0)?;
    let owner = crate::events::queue_owner(c.data_mut());
    let plugin = c.data().plugin.clone();
    let id = plugin
        .host
        .inner
        .queues
        .register(&plugin.spec.vm_id, &name, owner);
    write_u32(c, id_ptr, id)?;
    Ok(())
}

fn resolve(c: &mut C<'_>, vm: (u32, u32), name: (u32, u32), id_ptr: u32) -> HostResult {
    let vm_id = read_string(c, vm.0, vm.1)?;
    let name = read_string(c, name.0, name.1)?;
    let id = c
        .data()
        .plugin
        .host
        .inner
        .queues
        .resolve(&vm_id, &name)
        .ok_or(Status::NotFound)?;
    write_u32(c, id_ptr, id)?;
    Ok(())
}

fn enqueue(c: &mut C<'_>, id: u32, ptr: u32, size: u32) -> HostResult {
    if size as usize > MAX_VALUE {
        return Err(Status::BadArgument.into());
    }
    let item = Bytes::from(read(c, ptr, size)?);
    c.data().plugin.host.inner.queues.enqueue(id, item)?;
    Ok(())
}
