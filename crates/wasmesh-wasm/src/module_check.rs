//! What a module must have before it is accepted, checked when it is loaded — as Envoy
//! refuses such a module when it loads it, not at the first request (docs/wasm-host.md,
//! "Refused at load"): a supported `proxy_abi_version_*` export, an allocator the host can
//! hand data to the guest with, `proxy_on_context_create`, and a linear memory.

use wasmtime::{ExternType, FuncType, Module, ValType};

use crate::{AbiVersion, WasmError};

/// The versions this host runs, newest first, by their export's name.
const SUPPORTED: [(&str, AbiVersion); 3] = [
    ("proxy_abi_version_0_2_1", AbiVersion::V0_2_1),
    ("proxy_abi_version_0_2_0", AbiVersion::V0_2_0),
    ("proxy_abi_version_0_1_0", AbiVersion::V0_1_0),
];

/// The module's ABI version, once it has every export a Proxy-Wasm host needs.
pub(crate) fn check(module: &Module, plugin: &str, digest: &str) -> Result<AbiVersion, WasmError> {
    let abi = abi_version(module).ok_or_else(|| WasmError::UnsupportedAbi {
        plugin: plugin.to_owned(),
        digest: digest.to_owned(),
        found: module
            .exports()
            .map(|e| e.name())
            .filter(|name| name.starts_with("proxy_abi_version_"))
            .map(str::to_owned)
            .collect(),
    })?;
    let missing = |export: &'static str, problem: String| WasmError::MissingExport {
        plugin: plugin.to_owned(),
        digest: digest.to_owned(),
        export,
        problem,
    };
    // The SDKs export either name (TinyGo both); the host calls the first it finds.
    let allocator = ["proxy_on_memory_allocate", "malloc"]
        .into_iter()
        .find_map(|name| func(module, name).map(|f| (name, f)));
    match allocator {
        None => {
            return Err(missing(
                "proxy_on_memory_allocate",
                "it exports neither proxy_on_memory_allocate nor malloc, which the host calls to \
                 hand the plugin its configuration, headers and bodies"
                    .into(),
            ))
        }
        Some((name, f)) if !signature_is(&f, &[ValType::I32], &[ValType::I32]) => {
            return Err(missing(
                "proxy_on_memory_allocate",
                format!("its {name} takes {} instead of (i32) -> i32", shown(&f)),
            ))
        }
        Some(_) => {}
    }
    match func(module, "proxy_on_context_create") {
        None => {
            return Err(missing(
                "proxy_on_context_create",
                "it does not export proxy_on_context_create, which the host calls to create \
                 the plugin's root context and a context for every request or connection"
                    .into(),
            ))
        }
        Some(f) if !signature_is(&f, &[ValType::I32, ValType::I32], &[]) => {
            return Err(missing(
                "proxy_on_context_create",
                format!(
                    "its proxy_on_context_create takes {} instead of (i32, i32) -> ()",
                    shown(&f)
                ),
            ))
        }
        Some(_) => {}
    }
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        return Err(missing(
            "memory",
            "it does not export its linear memory under the name memory, which every hostcall \
             reads and writes"
                .into(),
        ));
    }
    Ok(abi)
}

fn abi_version(module: &Module) -> Option<AbiVersion> {
    SUPPORTED
        .iter()
        .find(|(name, _)| func(module, name).is_some())
        .map(|(_, abi)| *abi)
}

fn func(module: &Module, name: &str) -> Option<FuncType> {
    match module.get_export(name)? {
        ExternType::Func(f) => Some(f),
        _ => None,
    }
}

fn signature_is(f: &FuncType, params: &[ValType], results: &[ValType]) -> bool {
    let same = |have: &mut dyn ExactSizeIterator<Item = ValType>, want: &[ValType]| {
        have.len() == want.len() && have.zip(want).all(|(a, b)| ValType::eq(&a, b))
    };
    same(&mut f.params(), params) && same(&mut f.results(), results)
}

/// A function type as the spec writes it: `(i32, i64) -> i32`.
fn shown(f: &FuncType) -> String {
    let list = |types: &mut dyn Iterator<Item = ValType>| {
        types.map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
    };
    let results: Vec<String> = f.results().map(|t| t.to_string()).collect();
    let results = match results.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join(", ")),
    };
    format!("({}) -> {results}", list(&mut f.params()))
}

#[cfg(test)]
mod tests;
