//! A fixed-capacity table of optional entries: the storage of the free list and of
//! the mapping table (no heap in the kernel's memory manager).

/// A fixed table of optional entries whose scans stop after the highest slot that ever
/// held one, so that they cost what the program's number of mappings costs rather than
/// the table's capacity (every `mmap`, `munmap` and `mprotect` scans both tables).
#[derive(Debug)]
pub struct Slots<T, const N: usize> {
    slots: [Option<T>; N],
    /// One past the highest slot that ever held an entry.
    end: usize,
}

impl<T, const N: usize> Slots<T, N> {
    pub const fn new() -> Self {
        Slots {
            slots: [const { None }; N],
            end: 0,
        }
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Option<T>> {
        self.slots[..self.end].iter()
    }

    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, Option<T>> {
        self.slots[..self.end].iter_mut()
    }

    /// Stores `item` in the lowest empty slot; gives it back if the table is full.
    pub fn put(&mut self, item: T) -> Result<(), T> {
        match self.slots.iter().position(Option::is_none) {
            Some(index) => {
                self.slots[index] = Some(item);
                self.end = self.end.max(index + 1);
                Ok(())
            }
            None => Err(item),
        }
    }

    /// How many entries could still be stored.
    pub fn vacant(&self) -> usize {
        N - self.end + self.iter().filter(|slot| slot.is_none()).count()
    }
}
