//! The ABI's shared data (key/value with compare-and-swap) and shared queues: one store
//! per process, visible to every VM on every worker, scoped by VM id as in Envoy.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::abi::Status;

/// Shared data: `(vm_id, key) → (value, cas)`. Every write gets a new, never-zero CAS.
#[derive(Default)]
pub struct SharedData {
    inner: Mutex<SharedDataInner>,
}

#[derive(Default)]
struct SharedDataInner {
    entries: HashMap<(String, String), (Bytes, u32)>,
    next_cas: u32,
}

impl SharedData {
    /// The value and its CAS.
    pub fn get(&self, vm_id: &str, key: &str) -> Option<(Bytes, u32)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.entries.get(&(vm_id.to_owned(), key.to_owned())).cloned()
    }

    /// Sets the value. A non-zero `cas` must equal the current one (else `CasMismatch`).
    pub fn set(&self, vm_id: &str, key: &str, value: Bytes, cas: u32) -> Result<(), Status> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (vm_id.to_owned(), key.to_owned());
        if cas != 0 {
            match inner.entries.get(&slot) {
                Some((_, current)) if *current == cas => {}
                _ => return Err(Status::CasMismatch),
            }
        }
        inner.next_cas = inner.next_cas.wrapping_add(1).max(1);
        let next = inner.next_cas;
        inner.entries.insert(slot, (value, next));
        Ok(())
    }
}

/// Shared queues: registered by one VM (which gets `proxy_on_queue_ready`), resolved and
/// filled by any VM.
#[derive(Default)]
pub struct SharedQueues {
    inner: Mutex<QueuesInner>,
}

#[derive(Default)]
struct QueuesInner {
    by_name: HashMap<(String, String), u32>,
    queues: HashMap<u32, Queue>,
    next_id: u32,
}

struct Queue {
    items: VecDeque<Bytes>,
    /// Wakes the owning VM's queue task with the queue id.
    owner: UnboundedSender<u32>,
}

/// Most items a queue holds; enqueueing more drops the oldest (a plugin cannot grow the
/// host's memory without bound).
const MAX_QUEUE_ITEMS: usize = 10_000;

impl SharedQueues {
    /// Registers (or takes over) the queue `name` of `vm_id` for the VM behind `owner`.
    pub fn register(&self, vm_id: &str, name: &str, owner: UnboundedSender<u32>) -> u32 {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = (vm_id.to_owned(), name.to_owned());
        if let Some(&id) = inner.by_name.get(&key) {
            if let Some(queue) = inner.queues.get_mut(&id) {
                queue.owner = owner;
            }
            return id;
        }
        inner.next_id += 1;
        let id = inner.next_id;
        inner.by_name.insert(key, id);
        inner.queues.insert(
            id,
            Queue {
                items: VecDeque::new(),
                owner,
            },
        );
        id
    }

    /// The id of a registered queue.
    pub fn resolve(&self, vm_id: &str, name: &str) -> Option<u32> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.by_name.get(&(vm_id.to_owned(), name.to_owned())).copied()
    }

    /// Appends an item and tells the owner.
    pub fn enqueue(&self, id: u32, item: Bytes) -> Result<(), Status> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let queue = inner.queues.get_mut(&id).ok_or(Status::NotFound)?;
        if queue.items.len() >= MAX_QUEUE_ITEMS {
            queue.items.pop_front();
        }
        queue.items.push_back(item);
        // The owner may be gone (its VM failed); the item waits for a new owner.
        let _ = queue.owner.send(id);
        Ok(())
    }

    /// Takes the oldest item: `Empty` when there is none, `NotFound` for an unknown queue.
    pub fn dequeue(&self, id: u32) -> Result<Bytes, Status> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let queue = inner.queues.get_mut(&id).ok_or(Status::NotFound)?;
        queue.items.pop_front().ok_or(Status::Empty)
    }
}

#[cfg(test)]
mod tests;
