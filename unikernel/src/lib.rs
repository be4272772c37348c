//! Attributes that state properties of an application which `cargo unikernel` checks
//! on the whole optimized program (app, std, the libc shim and, in images, the kernel,
//! after LTO). In an ordinary cargo build they change nothing.
//!
//! ```ignore
//! #[unikernel::no_syscalls]
//! fn checksum(data: &[u8]) -> u32 {
//!     data.iter().map(|&b| u32::from(b)).sum()
//! }
//!
//! #[unikernel::no_alloc]
//! #[unikernel::no_panic]
//! #[unikernel::max_stack(512)]
//! fn parse_header(bytes: &[u8; 8]) -> u16 {
//!     u16::from_le_bytes([bytes[0], bytes[1]])
//! }
//!
//! #[unikernel::syscalls(read, write)]
//! fn echo() { /* ... */ }
//! ```
//!
//! # How an attribute reaches the pass
//!
//! `cargo unikernel` compiles every crate of the app with `--cfg unikernel`. Under that
//! cfg each attribute
//!
//! - adds `#[inline(never)]`, so the function stays a function of its own after
//!   optimization and the check covers exactly its body (an `#[inline]` the function
//!   had applies only without the cfg);
//! - adds a `#[used]` static holding the function's address, in a section that names
//!   the property: `.unikernel.no_syscalls`, `.unikernel.no_alloc`,
//!   `.unikernel.no_panic`, `.unikernel.syscalls=read,write` or
//!   `.unikernel.max_stack=512`.
//!
//! The whole-program pass finds those statics in the optimized module, checks the
//! property over everything the function can reach in the call graph (address-taken
//! functions count as reachable), fails the build with a call path when it does not
//! hold, and deletes the statics before code generation. Without the cfg the function
//! is emitted unchanged.
//!
//! The attributes apply to free functions without type or const parameters (the
//! static names the function and needs its one fn-pointer type), not `async`. System
//! call names are checked here, against the one x86-64 table of `unikernel-abi`.

mod expand;

use proc_macro::TokenStream;
use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::{Ident, ItemFn, LitInt, Token};

use expand::{Property, expand};

/// The function, and everything it can call after optimization, makes no system call.
/// Checked by `cargo unikernel build`; no effect in an ordinary build.
#[proc_macro_attribute]
pub fn no_syscalls(attr: TokenStream, item: TokenStream) -> TokenStream {
    flag(attr, item, Property::NoSyscalls)
}

/// Nothing the function can reach after optimization allocates or frees through the
/// global allocator (`__rust_alloc` and co., `malloc`, `calloc`, `realloc`, `free`,
/// the system calls `mmap`, `mremap`, `brk`).
#[proc_macro_attribute]
pub fn no_alloc(attr: TokenStream, item: TokenStream) -> TokenStream {
    flag(attr, item, Property::NoAlloc)
}

/// Nothing the function can reach after optimization panics or aborts
/// (`core::panicking::*`, `std::panicking::*`, `rust_begin_unwind`, `abort`): what the
/// optimizer proved unreachable does not count.
#[proc_macro_attribute]
pub fn no_panic(attr: TokenStream, item: TokenStream) -> TokenStream {
    flag(attr, item, Property::NoPanic)
}

/// Every system call the function can reach after optimization is one of the listed
/// Linux names: `#[unikernel::syscalls(read, write, futex)]`.
#[proc_macro_attribute]
pub fn syscalls(attr: TokenStream, item: TokenStream) -> TokenStream {
    let names =
        match syn::parse::Parser::parse(Punctuated::<Ident, Token![,]>::parse_terminated, attr) {
            Ok(names) => names,
            Err(e) => return e.into_compile_error().into(),
        };
    let mut list = Vec::new();
    for name in names {
        let text = name.to_string();
        if unikernel_abi::syscall::number(&text).is_none() {
            return syn::Error::new(
                name.span(),
                format!("`{text}` is not an x86-64 Linux system call name"),
            )
            .into_compile_error()
            .into();
        }
        if !list.contains(&text) {
            list.push(text);
        }
    }
    with_function(item, Property::Syscalls(list))
}

/// The worst-case stack use of the function and everything it calls, from the code
/// generator's frame sizes, is at most the given number of bytes:
/// `#[unikernel::max_stack(4096)]`. Recursion, an indirect call or a dynamically
/// sized stack allocation fails the check (no bound can be proven).
#[proc_macro_attribute]
pub fn max_stack(attr: TokenStream, item: TokenStream) -> TokenStream {
    let bytes = syn::parse::<LitInt>(attr).and_then(|lit| lit.base10_parse::<u64>());
    match bytes {
        Ok(bytes) => with_function(item, Property::MaxStack(bytes)),
        Err(e) => syn::Error::new(
            e.span(),
            "#[unikernel::max_stack] takes a number of bytes: #[unikernel::max_stack(4096)]",
        )
        .into_compile_error()
        .into(),
    }
}

/// An attribute without arguments.
fn flag(attr: TokenStream, item: TokenStream, property: Property) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::TokenStream::from(attr)
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |t| t.span()),
            format!("#[unikernel::{}] takes no arguments", property.attribute()),
        )
        .to_compile_error()
        .into();
    }
    with_function(item, property)
}

fn with_function(item: TokenStream, property: Property) -> TokenStream {
    let function = syn::parse_macro_input!(item as ItemFn);
    expand(function, &property)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
