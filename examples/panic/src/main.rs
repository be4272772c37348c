//! Panics: catch_unwind with &str, String and non-string payloads, destructors run while
//! unwinding, a custom panic hook then removed with take_hook, nested catches with
//! resume_unwind, a panicking thread seen by join, and finally an uncaught panic on the
//! main thread: the default hook's message on stderr and exit code 101.
//!
//! Run with RUST_BACKTRACE unset, or the last message gains a backtrace. The default
//! hook's first line, `thread 'main' (N) panicked at src/main.rs:L:C:`, carries the OS
//! thread id N (the pid, for the main thread): compare it with N masked out.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Announces its destruction, so unwinding is seen to run destructors in order.
struct Guard(&'static str);

impl Drop for Guard {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
        println!("drop: {}", self.0);
    }
}

fn main() {
    // While the custom hook is installed, every panic prints one fixed-format line.
    panic::set_hook(Box::new(|info| {
        let thread = thread::current();
        let location = info
            .location()
            .map_or("?".into(), |l| format!("{}:{}", l.file(), l.line()));
        eprintln!(
            "hook: thread {:?} panicked at {location}: {}",
            thread.name().unwrap_or("<unnamed>"),
            describe(info.payload())
        );
    }));

    let r = panic::catch_unwind(|| panic!("static message"));
    println!("caught &str: {}", describe_result(&r));

    let r = panic::catch_unwind(|| {
        let _outer = Guard("outer");
        let _inner = Guard("inner");
        panic!("formatted {}-{}", 4, 2);
    });
    println!(
        "caught String: {}, drops {}",
        describe_result(&r),
        DROPS.load(Ordering::SeqCst)
    );

    let r = panic::catch_unwind(|| panic::panic_any(42_i32));
    println!("caught i32: {}", describe_result(&r));

    let r = panic::catch_unwind(|| 7);
    println!("no panic: {r:?}");

    // Nested: the inner catch sees the first panic and re-raises it without the hook.
    let mut steps = Vec::new();
    let outer = panic::catch_unwind(AssertUnwindSafe(|| {
        let inner = panic::catch_unwind(|| -> u32 { panic!("inner") });
        steps.push(format!("inner caught {}", describe_result(&inner)));
        if let Err(payload) = inner {
            panic::resume_unwind(payload);
        }
    }));
    steps.push(format!("outer caught {}", describe_result(&outer)));
    println!("nested: {}", steps.join(", "));

    // A panicking thread: the panic arrives through join.
    let worker = thread::Builder::new()
        .name("doomed".into())
        .spawn(|| -> u32 { panic!("worker failed") })
        .unwrap();
    println!("thread join: {}", describe_result(&worker.join()));

    // take_hook removes the custom hook and puts the default one back.
    let custom = panic::take_hook();
    drop(custom);
    println!("hook removed; panicking for real");

    let _guard = Guard("main guard");
    panic!("the final, uncaught panic");
}

fn describe_result<T: std::fmt::Debug>(result: &Result<T, Box<dyn Any + Send>>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(payload) => format!("Err({})", describe(payload.as_ref())),
    }
}

/// The payload as text: panic! gives &'static str or String; panic_any anything.
fn describe(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        format!("&str {s:?}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("String {s:?}")
    } else if let Some(n) = payload.downcast_ref::<i32>() {
        format!("i32 {n}")
    } else {
        "<unknown payload>".to_owned()
    }
}
