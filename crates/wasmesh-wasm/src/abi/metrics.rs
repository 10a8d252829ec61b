//! Metrics: define, increment, record, get — process-wide, shared by every VM.

use wasmtime::{Caller, Linker};

use super::memory::{read_string, status, write, write_u32, HostResult};
use super::Status;
use crate::state::VmState;
use crate::MetricKind;

type C<'a> = Caller<'a, VmState>;

pub fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: u32, name_ptr: u32, name_size: u32, id_ptr: u32| {
            status(define(&mut c, kind, name_ptr, name_size, id_ptr))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |c: C<'_>, id: u32, offset: i64| {
            status(
                c.data()
                    .plugin
                    .host
                    .inner
                    .metrics
                    .increment(id, offset)
                    .map_err(Into::into),
            )
        },
    )?;
    linker.func_wrap("env", "proxy_record_metric", |c: C<'_>, id: u32, value: u64| {
        status(
            c.data()
                .plugin
                .host
                .inner
                .metrics
                .record(id, value)
                .map_err(Into::into),
        )
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: C<'_>, id: u32, value_ptr: u32| {
            let value = c.data().plugin.host.inner.metrics.get(id);
            status(
                value
                    .map_err(Into::into)
                    .and_then(|v| write(&mut c, value_ptr, &v.to_le_bytes()).map_err(Into::into)),
            )
        },
    )?;
    Ok(())
}

fn define(c: &mut C<'_>, kind: u32, name_ptr: u32, name_size: u32, id_ptr: u32) -> HostResult {
    let kind = match kind {
        0 => MetricKind::Counter,
        1 => MetricKind::Gauge,
        2 => MetricKind::Histogram,
        _ => return Err(Status::BadArgument.into()),
    };
    let name = read_string(c, name_ptr, name_size)?;
    if name.is_empty() || name.len() > 512 {
        return Err(Status::BadArgument.into());
    }
    let id = c.data().plugin.host.inner.metrics.define(kind, &name);
    write_u32(c, id_ptr, id)?;
    Ok(())
}
