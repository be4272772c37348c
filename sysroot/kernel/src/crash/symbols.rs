//! Function names for addresses, from the image file's own ELF symbol table.
//!
//! The loaded segments carry no symbols (`.symtab` is not an allocated section); the
//! image file does, and the VMM passes it as the first boot module (hal `image`). A
//! lookup scans the table (no allocation: it runs in exception handlers, possibly with
//! the allocator's lock held), which for a few thousand symbols is microseconds.
//! Names are demangled (legacy and v0) and printed without the hash, as std's
//! backtraces print them.

use core::fmt;

/// `SHT_SYMTAB` (ELF gABI, "Sections").
const SHT_SYMTAB: u32 = 2;
/// `STT_FUNC`.
const STT_FUNC: u8 = 2;
const SYM_SIZE: usize = 24;
const SHDR_SIZE: usize = 64;

/// The symbol table and its string table, both inside the image file.
#[derive(Clone, Copy, Debug)]
pub struct SymbolTable {
    symbols: &'static [u8],
    strings: &'static [u8],
}

/// The function an address is in.
#[derive(Clone, Copy, Debug)]
pub struct Symbol {
    /// Mangled name as in the symbol table.
    pub name: &'static str,
    /// First address of the function.
    pub start: usize,
}

impl Symbol {
    /// Displays the demangled name without its hash (`{:#}` of rustc-demangle).
    pub fn demangled(&self) -> impl fmt::Display + '_ {
        Demangled(self.name)
    }
}

struct Demangled<'a>(&'a str);

impl fmt::Display for Demangled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", rustc_demangle::demangle(self.0))
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?)).ok()
}

/// The bytes of section `index`'s contents (offset, size in its header).
fn section(file: &'static [u8], shoff: usize, index: usize) -> Option<(u32, usize, &'static [u8])> {
    let header = shoff.checked_add(index.checked_mul(SHDR_SIZE)?)?;
    let kind = u32_at(file, header + 4)?;
    let offset = u64_at(file, header + 24)?;
    let size = u64_at(file, header + 32)?;
    let link = usize::try_from(u32_at(file, header + 40)?).ok()?;
    Some((kind, link, file.get(offset..offset.checked_add(size)?)?))
}

impl SymbolTable {
    /// Finds `.symtab` in an ELF64 little-endian file; `None` if it has none (stripped).
    pub fn parse(file: &'static [u8]) -> Option<SymbolTable> {
        if file.get(..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let shoff = u64_at(file, 0x28)?;
        let shentsize = usize::from(u16_at(file, 0x3a)?);
        let shnum = usize::from(u16_at(file, 0x3c)?);
        if shentsize != SHDR_SIZE {
            return None;
        }
        (0..shnum).find_map(|index| {
            let (kind, link, symbols) = section(file, shoff, index)?;
            if kind != SHT_SYMTAB {
                return None;
            }
            let (_, _, strings) = section(file, shoff, link)?;
            Some(SymbolTable { symbols, strings })
        })
    }

    fn name(&self, offset: usize) -> Option<&'static str> {
        let bytes = self.strings.get(offset..)?;
        let len = bytes.iter().position(|&b| b == 0)?;
        core::str::from_utf8(&bytes[..len]).ok()
    }

    /// The function containing `address`: a function symbol whose range covers it, else
    /// the closest named symbol at or below it (assembly labels have no size).
    pub fn lookup(&self, address: usize) -> Option<Symbol> {
        let mut best: Option<(usize, u32, bool)> = None;
        for entry in self.symbols.chunks_exact(SYM_SIZE) {
            let (Some(name), Some(value), Some(size)) =
                (u32_at(entry, 0), u64_at(entry, 8), u64_at(entry, 16))
            else {
                continue;
            };
            let is_func = entry[4] & 0xf == STT_FUNC;
            let section = u16_at(entry, 6).unwrap_or(0);
            if name == 0 || section == 0 || value > address || value == 0 {
                continue;
            }
            let covers = is_func && address < value.saturating_add(size);
            let better = match best {
                None => true,
                Some((_, _, true)) => covers && value > best.map_or(0, |b| b.0),
                Some((best_value, _, false)) => covers || value > best_value,
            };
            if better {
                best = Some((value, name, covers));
            }
        }
        let (start, name, _) = best?;
        Some(Symbol {
            name: self.name(usize::try_from(name).ok()?)?,
            start,
        })
    }
}
