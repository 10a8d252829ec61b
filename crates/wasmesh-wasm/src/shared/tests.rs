use bytes::Bytes;

use super::*;

#[test]
fn shared_data_compare_and_swap() {
    let data = SharedData::default();
    assert_eq!(data.get("", "k"), None);
    data.set("", "k", Bytes::from_static(b"1"), 0).unwrap();
    let (value, cas) = data.get("", "k").unwrap();
    assert_eq!(value, "1");
    assert_ne!(cas, 0);
    data.set("", "k", Bytes::from_static(b"2"), cas).unwrap();
    assert_eq!(
        data.set("", "k", Bytes::from_static(b"3"), cas),
        Err(Status::CasMismatch),
        "stale cas"
    );
    assert_eq!(data.get("", "k").unwrap().0, "2");
    assert_eq!(data.set("", "absent", Bytes::new(), 7), Err(Status::CasMismatch));
    assert_eq!(data.get("other-vm", "k"), None, "scoped by vm id");
}

#[test]
fn shared_queue_notifies_its_owner_and_hands_out_items_in_order() {
    let queues = SharedQueues::default();
    let (owner, mut ready) = tokio::sync::mpsc::unbounded_channel();
    let id = queues.register("", "q", owner);
    assert_eq!(queues.resolve("", "q"), Some(id));
    assert_eq!(queues.resolve("", "other"), None);
    assert_eq!(queues.dequeue(id), Err(Status::Empty));
    queues.enqueue(id, Bytes::from_static(b"a")).unwrap();
    queues.enqueue(id, Bytes::from_static(b"b")).unwrap();
    assert_eq!(ready.try_recv(), Ok(id));
    assert_eq!(queues.dequeue(id).unwrap(), "a");
    assert_eq!(queues.dequeue(id).unwrap(), "b");
    assert_eq!(queues.enqueue(999, Bytes::new()), Err(Status::NotFound));
    assert_eq!(queues.dequeue(999), Err(Status::NotFound));
}
