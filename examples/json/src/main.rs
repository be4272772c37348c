//! Builds a deterministic JSON document of about `KB` kilobytes serialized (default
//! 4096: nested objects and arrays of strings, integers, floats, booleans and nulls),
//! serializes it with `serde_json` (compact and pretty), parses both back, checks
//! that they equal the original and prints sizes and checksums.

use serde_json::{Map, Value, json};

/// A small deterministic generator (SplitMix64), so every run builds the same document.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn word(&mut self) -> String {
        let len = 3 + self.next() % 10;
        (0..len)
            .map(|_| char::from(b'a' + (self.next() % 26) as u8))
            .collect()
    }
}

/// One record: an object with strings, numbers, a nested object and an array.
fn record(rng: &mut Rng, id: u64) -> Value {
    let tags: Vec<Value> = (0..rng.next() % 6).map(|_| Value::from(rng.word())).collect();
    let mut attributes = Map::new();
    for _ in 0..rng.next() % 5 {
        attributes.insert(rng.word(), Value::from(rng.next() % 1_000_000));
    }
    let readings: Vec<Value> = (0..rng.next() % 8)
        .map(|_| Value::from((rng.next() % 100_000) as f64 / 64.0))
        .collect();
    json!({
        "id": id,
        "name": format!("{} {}", rng.word(), rng.word()),
        "active": rng.next() % 2 == 0,
        "score": (rng.next() % 1_000_000) as i64 - 500_000,
        "parent": if id % 7 == 0 { Value::Null } else { Value::from(id / 2) },
        "tags": tags,
        "attributes": attributes,
        "readings": readings,
        "note": "quote \" backslash \\ tab \t unicode \u{e9}\u{4e2d} newline \n",
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() {
    let target_kb: usize = std::env::args()
        .nth(1)
        .map_or(4096, |a| a.parse().expect("size in KB"));
    let mut rng = Rng(42);
    let mut groups = Vec::new();
    let mut records = 0u64;
    let mut estimate = 0usize;
    while estimate < target_kb * 1000 {
        let group: Vec<Value> = (0..100)
            .map(|_| {
                records += 1;
                record(&mut rng, records)
            })
            .collect();
        estimate += serde_json::to_string(&group).expect("serialize group").len();
        groups.push(json!({ "group": groups.len(), "records": group }));
    }
    let document = json!({ "version": 1, "groups": groups, "records": records });

    let compact = serde_json::to_string(&document).expect("serialize");
    let pretty = serde_json::to_string_pretty(&document).expect("serialize pretty");
    let parsed: Value = serde_json::from_str(&compact).expect("parse compact");
    let parsed_pretty: Value = serde_json::from_str(&pretty).expect("parse pretty");
    assert!(parsed == document, "compact round trip differs");
    assert!(parsed_pretty == document, "pretty round trip differs");
    let again = serde_json::to_vec(&parsed).expect("serialize again");
    assert!(again == compact.as_bytes(), "re-serialization differs");

    println!("records: {records}");
    println!("compact: {} bytes, fnv1a {:016x}", compact.len(), fnv1a(compact.as_bytes()));
    println!("pretty: {} bytes, fnv1a {:016x}", pretty.len(), fnv1a(pretty.as_bytes()));
    println!("round trips: equal");
}
