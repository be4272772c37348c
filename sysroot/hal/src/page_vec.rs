//! A growable array stored in RAM the kernel owns: the records of the kernel's memory
//! manager (free ranges, mappings), which cannot come from the application's heap
//! (that heap is built on `mmap`, so allocating there while managing mappings would
//! re-enter the memory manager) and must not have a fixed capacity.
//!
//! A [`PageVec`] keeps its elements in one [`Region`] of read-write pages. It never
//! allocates: when it is full, the caller gives it a larger region with
//! [`PageVec::move_to`] and gets the old one back, so the kernel decides where the
//! memory comes from (its free list) without a lock inside this type.

use core::marker::PhantomData;
use core::ptr;

use crate::PAGE_SIZE;
use crate::memory::{Access, Region};

/// A vector of `T` in a region of RAM.
#[derive(Debug)]
pub struct PageVec<T> {
    storage: Option<Region>,
    len: usize,
    _elements: PhantomData<T>,
}

impl<T> PageVec<T> {
    const SIZE_OK: () = assert!(size_of::<T>() > 0 && align_of::<T>() <= PAGE_SIZE);

    /// An empty vector with no storage.
    pub const fn new() -> Self {
        let () = Self::SIZE_OK;
        PageVec {
            storage: None,
            len: 0,
            _elements: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many elements fit in the storage.
    pub fn capacity(&self) -> usize {
        self.storage
            .as_ref()
            .map_or(0, |region| region.len() / size_of::<T>())
    }

    /// Bytes of storage (whole pages) for `capacity` elements.
    pub fn bytes_for(capacity: usize) -> usize {
        (capacity.max(1) * size_of::<T>()).next_multiple_of(PAGE_SIZE)
    }

    fn base(&self) -> *mut T {
        self.storage
            .as_ref()
            .map_or(ptr::NonNull::dangling().as_ptr(), |region| {
                region.start() as *mut T
            })
    }

    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` slots of the storage hold initialized elements (every
        // method keeps that invariant); the storage is read-write RAM this vector owns
        // through its region token (checked in `move_to`), aligned for `T` (page-aligned,
        // `SIZE_OK`); with no storage, `len` is 0 and the pointer is dangling but aligned.
        unsafe { core::slice::from_raw_parts(self.base(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`; `&mut self` makes the borrow exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.base(), self.len) }
    }

    /// Inserts `item` at `index` (at most `len`), shifting the rest up; gives it back
    /// when the storage is full (or `index` is out of range).
    pub fn insert(&mut self, index: usize, item: T) -> Result<(), T> {
        if self.len >= self.capacity() || index > self.len {
            return Err(item);
        }
        let base = self.base();
        // SAFETY: `index <= len < capacity`: the shifted range `index..len` and its
        // destination `index + 1..len + 1` lie in the storage; `ptr::copy` handles the
        // overlap; slot `index` is then written without dropping (it was moved up).
        unsafe {
            ptr::copy(base.add(index), base.add(index + 1), self.len - index);
            base.add(index).write(item);
        }
        self.len += 1;
        Ok(())
    }

    /// Appends `item`; gives it back when the storage is full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        self.insert(self.len, item)
    }

    /// Removes and returns the element at `index`, shifting the rest down.
    ///
    /// # Panics
    ///
    /// If `index >= len`.
    pub fn remove(&mut self, index: usize) -> T {
        assert!(index < self.len, "PageVec::remove out of range");
        let base = self.base();
        // SAFETY: `index < len`: the element is initialized and read out exactly once;
        // the tail `index + 1..len` moves down over it, so `0..len - 1` stays initialized.
        unsafe {
            let item = base.add(index).read();
            ptr::copy(base.add(index + 1), base.add(index), self.len - index - 1);
            self.len -= 1;
            item
        }
    }

    /// Moves the elements into `storage` (read-write, large enough for them) and
    /// returns the old storage, if any; gives `storage` back if it is unusable.
    pub fn move_to(&mut self, storage: Region) -> Result<Option<Region>, Region> {
        if storage.access() != Access::ReadWrite || storage.len() / size_of::<T>() < self.len {
            return Err(storage);
        }
        let target = storage.start() as *mut T;
        // SAFETY: `storage` is read-write RAM owned through its token (now moved into
        // this vector), page-aligned (so aligned for `T`), distinct from the old storage
        // (two tokens never overlap) and large enough (checked): the elements are moved
        // bitwise and the old slots are not used again.
        unsafe { ptr::copy_nonoverlapping(self.base(), target, self.len) };
        Ok(self.storage.replace(storage))
    }

    /// Gives the storage back when the vector is empty (the vector then has none).
    pub fn take_storage_if_empty(&mut self) -> Option<Region> {
        if self.len == 0 {
            self.storage.take()
        } else {
            None
        }
    }
}

impl<T> Default for PageVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for PageVec<T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` slots are initialized and dropped once here.
        unsafe { ptr::drop_in_place(self.as_mut_slice()) };
        // The storage token is dropped with the vector: a static vector never drops,
        // and a dropped one leaves its pages to nobody (as a dropped `Region` does).
    }
}
