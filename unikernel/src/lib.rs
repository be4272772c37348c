//! Attributes that state properties of an application which `cargo unikernel` checks
//! on the whole optimized program. In an ordinary cargo build they change nothing.
//!
//! ```ignore
//! #[unikernel::no_syscalls]
//! fn checksum(data: &[u8]) -> u32 {
//!     data.iter().map(|&b| u32::from(b)).sum()
//! }
//! ```
//!
//! # How `no_syscalls` reaches the pass
//!
//! `cargo unikernel` compiles every crate of the app with `--cfg unikernel`. Under that
//! cfg the attribute
//!
//! - adds `#[inline(never)]`, so the function stays a function of its own after
//!   optimization and the check covers exactly its body (an `#[inline]` the function
//!   had applies only without the cfg);
//! - adds a `#[used]` static holding the function's address, in the section
//!   `.unikernel.no_syscalls`.
//!
//! The whole-program pass finds those statics in the optimized module, fails the build
//! if any system call (a kernel entry, inlined or called, the dispatcher, a `syscall`
//! instruction or the kernel stub) is reachable from the function in the call graph
//! (address-taken functions count as reachable), prints the path to it, and deletes the
//! statics before code generation. Without the cfg the function is emitted unchanged.
//!
//! The attribute applies to free functions without type or const parameters (the
//! static names the function and needs its one fn-pointer type), not `async`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{FnArg, GenericParam, ItemFn, ReturnType, Safety, Type};

/// The section the pass reads (`unikernel_pass::reach::markers::NO_SYSCALLS_SECTION`).
const SECTION: &str = ".unikernel.no_syscalls";

/// The function, and everything it can call after optimization, makes no system call.
/// Checked by `cargo unikernel build`; no effect in an ordinary build.
#[proc_macro_attribute]
pub fn no_syscalls(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::TokenStream::from(attr)
                .into_iter()
                .next()
                .map_or_else(proc_macro2::Span::call_site, |t| t.span()),
            "#[unikernel::no_syscalls] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let function = syn::parse_macro_input!(item as ItemFn);
    expand(function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(mut function: ItemFn) -> syn::Result<TokenStream2> {
    let pointer = fn_pointer_type(&function)?;
    // An `#[inline]` of the function's own stays for ordinary builds only: under the
    // cfg it would clash with `inline(never)`.
    let mut attrs = Vec::new();
    for attr in std::mem::take(&mut function.attrs) {
        if attr.path().is_ident("inline") {
            let meta = &attr.meta;
            attrs.push(syn::parse_quote!(#[cfg_attr(not(unikernel), #meta)]));
        } else {
            attrs.push(attr);
        }
    }
    function.attrs = attrs;
    let ident = &function.sig.ident;
    Ok(quote! {
        #[cfg_attr(unikernel, inline(never))]
        #function

        #[cfg(unikernel)]
        const _: () = {
            #[used]
            #[unsafe(link_section = #SECTION)]
            static NO_SYSCALLS: #pointer = #ident;
        };
    })
}

/// `for<'a> unsafe extern "C" fn(A, B) -> R` for the function's signature.
fn fn_pointer_type(function: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    let refuse = |span: proc_macro2::Span, what: &str| {
        Err(syn::Error::new(
            span,
            format!("#[unikernel::no_syscalls] does not support {what}"),
        ))
    };
    if let Some(token) = &sig.asyncness {
        return refuse(
            token.span,
            "async functions (the body runs in the future's poll)",
        );
    }
    if let Some(variadic) = &sig.variadic {
        return refuse(variadic.dots.spans[0], "variadic functions");
    }
    let mut lifetimes = Vec::new();
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(l) => lifetimes.push(l.lifetime.clone()),
            GenericParam::Type(t) => {
                return refuse(
                    t.ident.span(),
                    "type parameters (one static names one function)",
                );
            }
            GenericParam::Const(c) => {
                return refuse(
                    c.ident.span(),
                    "const parameters (one static names one function)",
                );
            }
        }
    }
    let mut inputs = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return refuse(
                    r.self_token.span,
                    "methods: put the work in a free function and call it",
                );
            }
            FnArg::Typed(typed) => {
                if let Type::ImplTrait(t) = &*typed.ty {
                    return refuse(t.impl_token.span, "`impl Trait` arguments");
                }
                inputs.push(typed.ty.clone());
            }
        }
    }
    let binder = (!lifetimes.is_empty()).then(|| quote!(for<#(#lifetimes),*>));
    let safety = match &sig.safety {
        Safety::Unsafe(token) => Some(quote!(#token)),
        _ => None,
    };
    let abi = &sig.abi;
    let output = match &sig.output {
        ReturnType::Default => quote!(),
        ReturnType::Type(arrow, ty) => quote!(#arrow #ty),
    };
    Ok(quote!(#binder #safety #abi fn(#(#inputs),*) #output))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(source: &str) -> String {
        let function: ItemFn = syn::parse_str(source).unwrap();
        match expand(function) {
            Ok(tokens) => tokens.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn marks_the_function_under_the_cfg_only() {
        let out = expand_str("fn sum(data: &[u8]) -> u32 { 0 }");
        assert!(
            out.starts_with("# [cfg_attr (unikernel , inline (never))] fn sum"),
            "{out}"
        );
        assert!(out.contains("# [cfg (unikernel)] const _ : () ="), "{out}");
        assert!(out.contains("# [used]"), "{out}");
        assert!(
            out.contains("# [unsafe (link_section = \".unikernel.no_syscalls\")]"),
            "{out}"
        );
        assert!(
            out.contains("static NO_SYSCALLS : fn (& [u8]) -> u32 = sum ;"),
            "{out}"
        );
    }

    #[test]
    fn keeps_lifetimes_safety_and_abi_in_the_pointer_type() {
        let out =
            expand_str("unsafe extern \"C\" fn first<'a>(s: &'a str, n: usize) -> &'a str { s }");
        assert!(
            out.contains("static NO_SYSCALLS : for < 'a > unsafe extern \"C\" fn (& 'a str , usize) -> & 'a str = first ;"),
            "{out}"
        );
    }

    #[test]
    fn an_own_inline_applies_without_the_cfg() {
        let out = expand_str("#[inline(always)] fn f() {}");
        assert!(
            out.contains("# [cfg_attr (not (unikernel) , inline (always))]"),
            "{out}"
        );
        assert!(!out.contains("# [inline"), "{out}");
    }

    #[test]
    fn refuses_what_one_static_cannot_name() {
        for (source, what) in [
            ("fn f<T>(t: T) {}", "type parameters"),
            ("async fn f() {}", "async functions"),
            ("fn f(x: impl Copy) {}", "`impl Trait` arguments"),
            ("fn f(&self) {}", "methods"),
        ] {
            let out = expand_str(source);
            assert!(
                out.starts_with("error: ") && out.contains(what),
                "{source}: {out}"
            );
        }
    }
}
