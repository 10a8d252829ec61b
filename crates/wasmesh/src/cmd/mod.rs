//! One module per subcommand.

pub mod apply;
pub mod completions;
pub mod crds;
pub mod demo;
pub mod describe;
pub mod proxy;
pub mod push;
pub mod sign;
pub mod validate;
