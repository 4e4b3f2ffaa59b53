//! `PendingQueue`: the jobs waiting, most urgent first, O(log n) per
//! operation, cancellable by id.
//!
//! A binary heap orders small entries (priority, submission number, slot);
//! the jobs themselves stay put in a slab, so reordering never moves them.
//! Removing a job by id frees its slot and leaves its heap entry behind;
//! such stale entries are recognised (their submission number no longer
//! matches the slot's) and skipped when they surface.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use uuid::Uuid;

use crate::job::JobSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    priority: i32,
    seq: u64,
    slot: usize,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher priority first; among equals, the earlier submission.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct Slot {
    seq: u64,
    job: Option<JobSpec>,
}

/// The waiting jobs.
#[derive(Default)]
pub(crate) struct PendingQueue {
    heap: BinaryHeap<Entry>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    index: HashMap<Uuid, usize, foldhash::fast::RandomState>,
    next_seq: u64,
}

impl PendingQueue {
    /// Adds a job (its id must not be queued already).
    pub(crate) fn push(&mut self, job: JobSpec) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry_priority = job.priority;
        let id = job.id;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Slot {
                    seq,
                    job: Some(job),
                };
                i
            }
            None => {
                self.slots.push(Slot {
                    seq,
                    job: Some(job),
                });
                self.slots.len() - 1
            }
        };
        self.index.insert(id, slot);
        self.heap.push(Entry {
            priority: entry_priority,
            seq,
            slot,
        });
    }

    /// Takes the most urgent job.
    pub(crate) fn pop(&mut self) -> Option<JobSpec> {
        while let Some(e) = self.heap.pop() {
            let slot = &mut self.slots[e.slot];
            if slot.seq != e.seq {
                continue;
            }
            if let Some(job) = slot.job.take() {
                self.index.remove(&job.id);
                self.free.push(e.slot);
                return Some(job);
            }
        }
        None
    }

    /// Takes the job with this id out of the queue.
    pub(crate) fn remove(&mut self, id: &Uuid) -> Option<JobSpec> {
        let slot = self.index.remove(id)?;
        let job = self.slots.get_mut(slot)?.job.take()?;
        self.free.push(slot);
        Some(job)
    }

    /// Whether a job with this id waits.
    pub(crate) fn contains(&self, id: &Uuid) -> bool {
        self.index.contains_key(id)
    }

    /// How many jobs wait.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether none waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobKind;

    #[test]
    fn order_and_removal_with_slot_reuse() {
        let env = Uuid::nil();
        let mut q = PendingQueue::default();
        let jobs: Vec<JobSpec> = [1, 3, 1, 3, 2]
            .iter()
            .map(|p| JobSpec::new(env, JobKind::script("x")).with_priority(*p))
            .collect();
        for j in &jobs {
            q.push(j.clone());
        }
        assert_eq!(q.remove(&jobs[3].id).unwrap().id, jobs[3].id);
        assert!(!q.contains(&jobs[3].id));
        // The freed slot is reused by a later job with the same priority;
        // the stale heap entry of the removed one must not bring it back.
        let late = JobSpec::new(env, JobKind::script("late")).with_priority(3);
        q.push(late.clone());
        let order: Vec<Uuid> = std::iter::from_fn(|| q.pop()).map(|j| j.id).collect();
        assert_eq!(
            order,
            [jobs[1].id, late.id, jobs[4].id, jobs[0].id, jobs[2].id]
        );
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
    }
}
