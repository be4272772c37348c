//! Storage for the kernel's tables that grow with the program (per-thread state: the
//! scheduler's threads, the signal state, the hal's thread contexts): taken from
//! free RAM when a table is full, given back when the table has moved on.
//!
//! The tables keep their own locks; the storage is allocated here with only the
//! memory manager's lock, which takes no other lock, so a table may grow under its
//! own lock (a spin lock the allocation path never takes).

use unikernel_hal::memory::Region;
use unikernel_hal::page_vec::PageVec;

use super::MEMORY;
use crate::errno::Errno;

/// Gives `install` new storage of `bytes` (a page multiple) of free RAM for a table;
/// the storage it returns (the table's old one, or the new one refused) goes back to
/// the free list. `ENOMEM` if no free range holds `bytes`.
pub fn replace_storage(
    bytes: usize,
    install: impl FnOnce(Region) -> Result<Option<Region>, Region>,
) -> Result<(), Errno> {
    let storage = MEMORY.lock().free.take(bytes)?;
    // The memory lock is not held here: `install` may take the table's lock, which
    // sits above the memory manager's in the lock order (the hal's contexts).
    match install(storage) {
        Ok(None) => Ok(()),
        Ok(Some(old)) => {
            MEMORY.lock().release(old);
            Ok(())
        }
        Err(refused) => {
            MEMORY.lock().release(refused);
            Err(Errno::ENOMEM)
        }
    }
}

/// Makes `table` at least `len` long, adding `fill()` elements; when full, its storage
/// doubles (at least one page, at least `len` elements). `ENOMEM` if RAM runs out.
pub fn grow_table<T>(
    table: &mut PageVec<T>,
    len: usize,
    fill: impl Fn() -> T,
) -> Result<(), Errno> {
    if table.capacity() < len {
        let slots = len.max(table.capacity() * 2);
        replace_storage(PageVec::<T>::bytes_for(slots), |storage| {
            table.move_to(storage)
        })?;
    }
    while table.len() < len {
        if table.push(fill()).is_err() {
            return Err(Errno::ENOMEM);
        }
    }
    Ok(())
}
