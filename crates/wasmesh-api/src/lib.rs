//! Resource types of the WasmPlugin API and its neighbours, with parsing, validation,
//! selection and ordering. Pure: no file, socket or clock is touched here.
