//! Hello: command-line arguments, an environment variable, stdout and stderr, and the
//! process exit code (3 by default, or the `N` of a `--exit N` argument).
//!
//! argv[0] is not printed: it is the path the binary was started from, which differs
//! between the native, hosted and unikernel builds.

use std::env;
use std::io::{self, Write};
use std::process;

/// Exit code when no `--exit N` argument is given.
const DEFAULT_EXIT: i32 = 3;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    println!("args: {}", args.len());
    for (i, arg) in args.iter().enumerate() {
        println!("arg[{}]: {arg:?}", i + 1);
    }

    match env::var("UNIKERNEL_GREETING") {
        Ok(value) => println!("greeting: {value}"),
        Err(env::VarError::NotPresent) => println!("greeting: <unset>"),
        Err(env::VarError::NotUnicode(_)) => println!("greeting: <not unicode>"),
    }

    let code = match exit_code(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hello: {message}");
            process::exit(2);
        }
    };

    // Explicit locked writes as well as the macros, so both paths are exercised.
    let mut out = io::stdout().lock();
    writeln!(out, "hello from stdout").expect("stdout");
    drop(out);
    let mut err = io::stderr().lock();
    writeln!(err, "hello from stderr").expect("stderr");
    drop(err);

    println!("exiting with {code}");
    // `process::exit` runs no destructors, but std flushes stdout before exiting.
    process::exit(code);
}

/// The code requested by `--exit N` (the last one wins), or [`DEFAULT_EXIT`].
fn exit_code(args: &[String]) -> Result<i32, String> {
    let mut code = DEFAULT_EXIT;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--exit" {
            let value = rest.next().ok_or("--exit needs a value")?;
            code = value
                .parse()
                .map_err(|e| format!("bad --exit value {value:?}: {e}"))?;
        }
    }
    Ok(code)
}
