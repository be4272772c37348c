//! The expansion every attribute shares: keep the function a function of its own under
//! `--cfg unikernel` and put its address in the section that names the property.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{FnArg, GenericParam, ItemFn, ReturnType, Safety, Type};

/// A property one attribute states. The section names are what the pass reads
/// (`unikernel_pass::reach::markers`); keep the two in sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    NoSyscalls,
    NoAlloc,
    NoPanic,
    /// The allowed system calls, by Linux name (checked against the ABI table).
    Syscalls(Vec<String>),
    /// Bytes.
    MaxStack(u64),
}

impl Property {
    /// The attribute's name, for messages.
    pub fn attribute(&self) -> &'static str {
        match self {
            Property::NoSyscalls => "no_syscalls",
            Property::NoAlloc => "no_alloc",
            Property::NoPanic => "no_panic",
            Property::Syscalls(_) => "syscalls",
            Property::MaxStack(_) => "max_stack",
        }
    }

    /// `.unikernel.no_alloc`, `.unikernel.syscalls=read,write`, `.unikernel.max_stack=512`.
    pub fn section(&self) -> String {
        match self {
            Property::Syscalls(names) => format!(".unikernel.syscalls={}", names.join(",")),
            Property::MaxStack(bytes) => format!(".unikernel.max_stack={bytes}"),
            flag => format!(".unikernel.{}", flag.attribute()),
        }
    }
}

/// The attribute `#[cfg_attr(unikernel, inline(never))]` as tokens: added once, however
/// many properties a function states.
fn keep_out_of_line() -> syn::Attribute {
    syn::parse_quote!(#[cfg_attr(unikernel, inline(never))])
}

pub fn expand(mut function: ItemFn, property: &Property) -> syn::Result<TokenStream2> {
    let pointer = fn_pointer_type(&function, property)?;
    let out_of_line = keep_out_of_line();
    let wanted = quote!(#out_of_line).to_string();
    let already = function
        .attrs
        .iter()
        .any(|attr| quote!(#attr).to_string() == wanted);
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
    if !already {
        attrs.insert(0, out_of_line);
    }
    function.attrs = attrs;
    let ident = &function.sig.ident;
    let section = property.section();
    Ok(quote! {
        #function

        #[cfg(unikernel)]
        const _: () = {
            #[used]
            #[unsafe(link_section = #section)]
            static UNIKERNEL_PROPERTY: #pointer = #ident;
        };
    })
}

/// `for<'a> unsafe extern "C" fn(A, B) -> R` for the function's signature.
fn fn_pointer_type(function: &ItemFn, property: &Property) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    let refuse = |span: proc_macro2::Span, what: &str| {
        Err(syn::Error::new(
            span,
            format!(
                "#[unikernel::{}] does not support {what}",
                property.attribute()
            ),
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

    fn expand_str(source: &str, property: &Property) -> String {
        let function: ItemFn = syn::parse_str(source).unwrap();
        match expand(function, property) {
            Ok(tokens) => tokens.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn marks_the_function_under_the_cfg_only() {
        let out = expand_str("fn sum(data: &[u8]) -> u32 { 0 }", &Property::NoSyscalls);
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
            out.contains("static UNIKERNEL_PROPERTY : fn (& [u8]) -> u32 = sum ;"),
            "{out}"
        );
    }

    #[test]
    fn each_property_names_its_section() {
        for (property, section) in [
            (Property::NoAlloc, ".unikernel.no_alloc"),
            (Property::NoPanic, ".unikernel.no_panic"),
            (
                Property::Syscalls(vec!["read".into(), "write".into()]),
                ".unikernel.syscalls=read,write",
            ),
            (Property::Syscalls(vec![]), ".unikernel.syscalls="),
            (Property::MaxStack(4096), ".unikernel.max_stack=4096"),
        ] {
            let out = expand_str("fn f() {}", &property);
            assert!(
                out.contains(&format!("link_section = \"{section}\"")),
                "{out}"
            );
        }
    }

    #[test]
    fn several_properties_add_inline_never_once() {
        let first = expand_str("fn f() {}", &Property::NoAlloc);
        let item: syn::File = syn::parse_str(&first).unwrap();
        let syn::Item::Fn(function) = item.items[0].clone() else {
            panic!("{first}")
        };
        let second = expand(function, &Property::NoPanic).unwrap().to_string();
        assert_eq!(second.matches("inline (never)").count(), 1, "{second}");
    }

    #[test]
    fn keeps_lifetimes_safety_and_abi_in_the_pointer_type() {
        let out = expand_str(
            "unsafe extern \"C\" fn first<'a>(s: &'a str, n: usize) -> &'a str { s }",
            &Property::NoSyscalls,
        );
        assert!(
            out.contains("static UNIKERNEL_PROPERTY : for < 'a > unsafe extern \"C\" fn (& 'a str , usize) -> & 'a str = first ;"),
            "{out}"
        );
    }

    #[test]
    fn an_own_inline_applies_without_the_cfg() {
        let out = expand_str("#[inline(always)] fn f() {}", &Property::NoPanic);
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
            let out = expand_str(source, &Property::MaxStack(64));
            assert!(
                out.starts_with("error: #[unikernel::max_stack]") && out.contains(what),
                "{source}: {out}"
            );
        }
    }
}
