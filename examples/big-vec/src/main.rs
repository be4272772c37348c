//! Allocates a `MIB` MiB `Vec<u64>` (default 1024), first with `vec![0; n]` in one
//! piece, then again grown element by element (`push`, so through `realloc` and
//! `mremap`), writes every element and prints checksums.

fn checksum(values: &[u64]) -> u64 {
    values
        .iter()
        .fold(0u64, |sum, &v| sum.rotate_left(5) ^ v.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .map_or(1024, |a| a.parse().expect("size in MiB"));
    let len = mib * 1024 * 1024 / size_of::<u64>();

    let mut whole = vec![0u64; len];
    for (i, value) in whole.iter_mut().enumerate() {
        *value = i as u64;
    }
    println!("vec![0; n]: {mib} MiB, checksum {:016x}", checksum(&whole));
    drop(whole);

    let mut grown = Vec::new();
    for i in 0..len as u64 {
        grown.push(i ^ 0x5555);
    }
    println!("push x {len}: {mib} MiB, checksum {:016x}", checksum(&grown));
}
