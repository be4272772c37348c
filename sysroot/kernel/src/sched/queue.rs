//! The run queue: a FIFO of thread slots with room for every slot once.

use unikernel_hal::thread::MAX_THREADS;

#[derive(Debug)]
pub(super) struct RunQueue {
    slots: [u16; MAX_THREADS],
    head: usize,
    len: usize,
}

const _: () = assert!(MAX_THREADS <= u16::MAX as usize);

impl RunQueue {
    pub(super) const fn new() -> RunQueue {
        RunQueue {
            slots: [0; MAX_THREADS],
            head: 0,
            len: 0,
        }
    }

    /// Appends `slot`. A slot is queued at most once (only runnable threads are), so
    /// the queue never overflows.
    pub(super) fn push(&mut self, slot: usize) {
        debug_assert!(self.len < MAX_THREADS);
        if self.len < MAX_THREADS {
            self.slots[(self.head + self.len) % MAX_THREADS] = slot as u16;
            self.len += 1;
        }
    }

    pub(super) fn pop(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let slot = self.slots[self.head];
        self.head = (self.head + 1) % MAX_THREADS;
        self.len -= 1;
        Some(usize::from(slot))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}
