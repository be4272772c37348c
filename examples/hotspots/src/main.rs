//! A CPU-bound program with two known hot functions, `mix_hashes` (about two thirds of
//! the work) and `count_primes` (about one third), for the sampling profiler's test
//! (`run --profile-cpu`) and its overhead benchmark. `[ROUNDS]` (default 20) scales
//! the work; prints the results, which depend only on ROUNDS.

use std::hint::black_box;

/// FNV-1a over a sequence of counters, `n` words: pure integer work, no memory.
#[inline(never)]
fn mix_hashes(seed: u64, n: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for i in 0..n {
        for byte in black_box(i).to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The primes below `limit`, by a sieve of Eratosthenes on a fresh vector.
#[inline(never)]
fn count_primes(limit: usize) -> usize {
    let mut composite = vec![false; limit];
    let mut count = 0;
    for n in 2..limit {
        if !composite[n] {
            count += 1;
            let mut multiple = n * n;
            while multiple < limit {
                composite[multiple] = true;
                multiple += n;
            }
        }
    }
    black_box(count)
}

fn main() {
    let rounds: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 20,
        Some(Ok(rounds)) => rounds,
        Some(Err(_)) => {
            eprintln!("usage: hotspots [ROUNDS]");
            std::process::exit(2);
        }
    };
    let (mut hash, mut primes) = (0u64, 0usize);
    for round in 0..rounds {
        hash ^= mix_hashes(round, 200_000);
        primes += count_primes(300_000 + round as usize);
    }
    println!("rounds {rounds}: hash {hash:016x}, primes {primes}");
}
