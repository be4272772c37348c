//! A vector of slots with reuse: the storage of inodes and open file descriptions.
//! A handle is the slot index; freed slots are handed out again.

use alloc::vec::Vec;

use crate::errno::Errno;

#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Slab<T> {
    pub const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Stores `value`; `ENOMEM` if the table cannot grow.
    pub fn insert(&mut self, value: T) -> Result<usize, Errno> {
        if let Some(index) = self.free.pop() {
            self.slots[index] = Some(value);
            return Ok(index);
        }
        self.slots.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        // Reserve the free-list room now, so `remove` never has to allocate.
        self.free
            .try_reserve(self.slots.len() + 1 - self.free.len())
            .map_err(|_| Errno::ENOMEM)?;
        self.slots.push(Some(value));
        Ok(self.slots.len() - 1)
    }

    pub fn remove(&mut self, index: usize) -> Option<T> {
        let value = self.slots.get_mut(index)?.take()?;
        self.free.push(index);
        Some(value)
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.slots.get(index)?.as_ref()
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.slots.get_mut(index)?.as_mut()
    }
}
