//! The spec's status codes (`proxy_status_t`).

/// A hostcall's result as the guest sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The thing asked for does not exist.
    NotFound = 1,
    /// An argument is not acceptable.
    BadArgument = 2,
    /// Data could not be serialised.
    SerializationFailure = 3,
    /// Data could not be parsed.
    ParseFailure = 4,
    /// A pointer or length points outside the guest's memory.
    InvalidMemoryAccess = 6,
    /// Nothing to return (e.g. an empty queue).
    Empty = 7,
    /// Compare-and-swap value mismatch.
    CasMismatch = 8,
    /// Something failed in the host.
    InternalFailure = 10,
    /// This host does not offer the hostcall.
    Unimplemented = 12,
}
