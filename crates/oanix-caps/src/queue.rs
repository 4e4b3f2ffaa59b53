//! The bounded collections every capability keeps its queues in: a FIFO
//! that refuses past its capacity, and a keyed store of the most recent
//! items that forgets the oldest past its capacity.

use std::collections::{BTreeMap, VecDeque};

use crate::error::{CapError, Result};

/// A FIFO of at most `capacity` items: a push past it is refused with
/// `QueueFull` and changes nothing.
#[derive(Debug, Clone)]
pub(crate) struct BoundedQueue<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> BoundedQueue<T> {
    /// An empty queue of at most `capacity` items.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity,
        }
    }

    /// Appends `item`, or refuses (`QueueFull` naming `what`) when full.
    pub(crate) fn push(&mut self, item: T, what: impl FnOnce() -> String) -> Result<()> {
        self.push_sharing(item, 0, what)
    }

    /// Appends `item` when the capacity is shared with `elsewhere` items
    /// held outside the queue (taken from it and not yet finished, say):
    /// refuses (`QueueFull` naming `what`) once the queue's items and those
    /// together reach the capacity.
    pub(crate) fn push_sharing(
        &mut self,
        item: T,
        elsewhere: usize,
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        if self.items.len().saturating_add(elsewhere) >= self.capacity {
            return Err(CapError::QueueFull {
                what: what(),
                capacity: self.capacity,
            });
        }
        self.items.push_back(item);
        Ok(())
    }

    /// Takes the oldest item.
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Removes and returns the oldest item `matches` accepts (a scan of
    /// the queue: O(n)).
    pub(crate) fn remove_first(&mut self, matches: impl FnMut(&T) -> bool) -> Option<T> {
        let at = self.items.iter().position(matches)?;
        self.items.remove(at)
    }

    /// The items, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Takes every item, oldest first.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.items.drain(..).collect()
    }

    /// Drops every item.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    /// How many items it holds.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Items by id, at most `capacity` of them: inserting past it forgets the
/// oldest (in insertion order), which the caller counts as evicted.
#[derive(Debug, Clone)]
pub(crate) struct Recent<V> {
    items: BTreeMap<String, V>,
    order: VecDeque<String>,
    capacity: usize,
}

impl<V> Recent<V> {
    /// An empty store of at most `capacity` items (at least one: the item
    /// just inserted is always kept).
    pub(crate) fn new(capacity: usize) -> Self {
        Self::up_to(capacity.max(1))
    }

    /// An empty store of at most `capacity` items; with 0, an insert
    /// forgets the item at once.
    pub(crate) fn up_to(capacity: usize) -> Self {
        Self {
            items: BTreeMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Inserts (or replaces) `id`; returns how many older items were
    /// forgotten to stay within the capacity.
    pub(crate) fn insert(&mut self, id: String, value: V) -> u64 {
        self.insert_evicting(id, value).len() as u64
    }

    /// Inserts (or replaces) `id`; returns the ids forgotten to stay within
    /// the capacity, oldest first.
    pub(crate) fn insert_evicting(&mut self, id: String, value: V) -> Vec<String> {
        if self.items.insert(id.clone(), value).is_none() {
            self.order.push_back(id);
        }
        let mut evicted = Vec::new();
        while self.items.len() > self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.items.remove(&old).is_some() {
                evicted.push(old);
            }
        }
        evicted
    }

    /// The item `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&V> {
        self.items.get(id)
    }

    /// The item `id`, to change.
    #[cfg_attr(not(feature = "nostr"), allow(dead_code, reason = "used by NostrFs"))]
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut V> {
        self.items.get_mut(id)
    }

    /// Whether `id` is held.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.items.contains_key(id)
    }

    /// Removes and returns `id`.
    pub(crate) fn remove(&mut self, id: &str) -> Option<V> {
        let v = self.items.remove(id)?;
        self.order.retain(|o| o != id);
        Some(v)
    }

    /// The ids, sorted.
    #[cfg_attr(not(feature = "nostr"), allow(dead_code, reason = "used by NostrFs"))]
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.items.keys()
    }

    /// The items, oldest first.
    #[cfg_attr(not(feature = "nostr"), allow(dead_code, reason = "used by NostrFs"))]
    pub(crate) fn oldest_first(&self) -> impl Iterator<Item = (&String, &V)> {
        self.order
            .iter()
            .filter_map(|id| self.items.get(id).map(|v| (id, v)))
    }

    /// How many items it holds.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_and_changes_nothing() {
        let mut q = BoundedQueue::new(2);
        q.push(1, || "q".into()).unwrap();
        q.push(2, || "q".into()).unwrap();
        assert_eq!(
            q.push(3, || "outbox of conn-1".into()),
            Err(CapError::QueueFull {
                what: "outbox of conn-1".into(),
                capacity: 2
            })
        );
        assert_eq!(q.drain(), [1, 2]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_shared_capacity_counts_the_items_held_elsewhere() {
        let mut q = BoundedQueue::new(3);
        q.push_sharing(1, 1, || "q".into()).unwrap();
        assert_eq!(
            q.push_sharing(2, 2, || "pending requests".into()),
            Err(CapError::QueueFull {
                what: "pending requests".into(),
                capacity: 3
            })
        );
        q.push_sharing(2, 1, || "q".into()).unwrap();
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn remove_first_takes_the_oldest_match_and_keeps_the_order() {
        let mut q = BoundedQueue::new(4);
        for i in [1, 2, 3, 2] {
            q.push(i, || "q".into()).unwrap();
        }
        assert_eq!(q.remove_first(|&i| i == 2), Some(2));
        assert_eq!(q.remove_first(|&i| i == 9), None);
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [1, 3, 2]);
        assert_eq!(q.pop(), Some(1));
    }

    #[test]
    fn recent_forgets_the_oldest_past_its_capacity() {
        let mut r = Recent::new(2);
        assert_eq!(r.insert("a".into(), 1), 0);
        assert_eq!(r.insert("b".into(), 2), 0);
        assert_eq!(r.insert("a".into(), 10), 0, "replacing is not growing");
        assert_eq!(r.insert("c".into(), 3), 1);
        assert!(!r.contains("a"));
        assert_eq!(
            r.oldest_first()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert_eq!(r.remove("b"), Some(2));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn insert_evicting_names_what_it_forgot() {
        let mut r = Recent::up_to(1);
        assert!(r.insert_evicting("a".into(), ()).is_empty());
        assert_eq!(r.insert_evicting("b".into(), ()), ["a"]);
        let mut none = Recent::up_to(0);
        assert_eq!(none.insert_evicting("a".into(), ()), ["a"]);
        assert_eq!(none.len(), 0);
        assert_eq!(Recent::<()>::new(0).insert("a".into(), ()), 0);
    }
}
