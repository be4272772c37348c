//! The run queue: a FIFO of thread slots, linked through the thread table itself
//! (each queued entry names the next), so it needs no storage of its own and has
//! no capacity beyond the table's.

/// An entry of the table the queue links through.
pub(super) trait Linked {
    /// The slot queued after this one ([`END`] for none).
    fn next_queued(&mut self) -> &mut u32;
}

/// No slot: the end of the queue.
pub(super) const END: u32 = u32::MAX;

#[derive(Debug)]
pub(super) struct RunQueue {
    head: u32,
    tail: u32,
    len: usize,
}

impl RunQueue {
    pub(super) const fn new() -> RunQueue {
        RunQueue {
            head: END,
            tail: END,
            len: 0,
        }
    }

    /// Appends `slot` (below [`END`], and in `table`). A slot is queued at most once
    /// (only runnable threads are).
    pub(super) fn push(&mut self, table: &mut [impl Linked], slot: usize) {
        let Ok(link) = u32::try_from(slot) else {
            unreachable!("slot numbers stay below the queue's END");
        };
        *table[slot].next_queued() = END;
        match self.tail {
            END => self.head = link,
            tail => *table[tail as usize].next_queued() = link,
        }
        self.tail = link;
        self.len += 1;
    }

    pub(super) fn pop(&mut self, table: &mut [impl Linked]) -> Option<usize> {
        if self.head == END {
            return None;
        }
        let slot = self.head as usize;
        self.head = core::mem::replace(table[slot].next_queued(), END);
        if self.head == END {
            self.tail = END;
        }
        self.len -= 1;
        Some(slot)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    struct Entry(u32);

    impl Linked for Entry {
        fn next_queued(&mut self) -> &mut u32 {
            &mut self.0
        }
    }

    #[test]
    fn slots_come_out_in_the_order_they_went_in() {
        let mut table: Vec<Entry> = (0..5).map(|_| Entry(END)).collect();
        let mut queue = RunQueue::new();
        assert_eq!(queue.pop(&mut table), None);
        for slot in [3, 1, 4] {
            queue.push(&mut table, slot);
        }
        assert_eq!(queue.pop(&mut table), Some(3));
        queue.push(&mut table, 0);
        assert_eq!(queue.pop(&mut table), Some(1));
        assert_eq!(queue.pop(&mut table), Some(4));
        assert_eq!(queue.pop(&mut table), Some(0));
        assert!(queue.is_empty());
        assert_eq!(queue.pop(&mut table), None);
        // Emptied and used again.
        queue.push(&mut table, 2);
        assert_eq!(queue.pop(&mut table), Some(2));
    }
}
