//! The key space and the commands on it: PING, ECHO, GET, SET (with EX/PX), DEL,
//! EXISTS, INCR, MGET, DBSIZE, with Redis's replies and error texts.
//!
//! Expiry is lazy, as in Redis's read path: an expired key is dropped when a command
//! looks at it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::resp::Reply;

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

#[derive(Default)]
pub struct Store {
    entries: HashMap<Vec<u8>, Entry>,
}

fn wrong_args(name: &str) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

fn syntax_error() -> Reply {
    Reply::Error("ERR syntax error".into())
}

fn not_integer() -> Reply {
    Reply::Error("ERR value is not an integer or out of range".into())
}

fn integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

impl Store {
    /// The live entry of `key`, dropping it if it expired.
    fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let expired = self
            .entries
            .get(key)
            .is_some_and(|e| e.expires.is_some_and(|t| t <= Instant::now()));
        if expired {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    /// The reply to one command (`args[0]` is its name, any case).
    pub fn execute(&mut self, args: &[Vec<u8>]) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let rest = &args[1..];
        match (name.as_str(), rest.len()) {
            ("PING", 0) => Reply::Simple("PONG"),
            ("PING", 1) | ("ECHO", 1) => Reply::Bulk(Some(rest[0].clone())),
            ("PING", _) | ("ECHO", _) => wrong_args(&name),
            ("GET", 1) => Reply::Bulk(self.live(&rest[0]).map(|e| e.value.clone())),
            ("SET", 2..) => self.set(rest),
            ("DEL", 1..) | ("EXISTS", 1..) => {
                let delete = name == "DEL";
                let mut found = 0;
                for key in rest {
                    if self.live(key).is_some() {
                        found += 1;
                        if delete {
                            self.entries.remove(key);
                        }
                    }
                }
                Reply::Integer(found)
            }
            ("INCR", 1) => self.incr(&rest[0]),
            ("MGET", 1..) => Reply::Array(
                rest.iter()
                    .map(|key| Reply::Bulk(self.live(key).map(|e| e.value.clone())))
                    .collect(),
            ),
            ("DBSIZE", 0) => {
                let now = Instant::now();
                self.entries
                    .retain(|_, e| e.expires.is_none_or(|t| t > now));
                Reply::Integer(self.entries.len() as i64)
            }
            ("GET" | "SET" | "DEL" | "EXISTS" | "INCR" | "MGET" | "DBSIZE", _) => {
                wrong_args(&name)
            }
            _ => {
                let shown: String = String::from_utf8_lossy(&args[0]).chars().take(64).collect();
                Reply::Error(format!("ERR unknown command '{shown}'"))
            }
        }
    }

    /// `SET key value [EX seconds | PX milliseconds]`.
    fn set(&mut self, rest: &[Vec<u8>]) -> Reply {
        let mut expires = None;
        let mut options = rest[2..].iter();
        while let Some(option) = options.next() {
            let unit = match option.to_ascii_uppercase().as_slice() {
                b"EX" => 1000,
                b"PX" => 1,
                _ => return syntax_error(),
            };
            if expires.is_some() {
                return syntax_error();
            }
            let Some(amount) = options.next() else {
                return syntax_error();
            };
            match integer(amount) {
                Some(n) if n > 0 => {
                    let millis = (n as u64).saturating_mul(unit);
                    expires = Some(Instant::now() + Duration::from_millis(millis));
                }
                Some(_) => {
                    return Reply::Error("ERR invalid expire time in 'set' command".into());
                }
                None => return not_integer(),
            }
        }
        let value = rest[1].clone();
        self.entries.insert(rest[0].clone(), Entry { value, expires });
        Reply::Simple("OK")
    }

    /// `INCR key`: a missing key counts from 0; the expiry stays.
    fn incr(&mut self, key: &[u8]) -> Reply {
        let current = match self.live(key) {
            None => 0,
            Some(entry) => match integer(&entry.value) {
                Some(n) => n,
                None => return not_integer(),
            },
        };
        let Some(next) = current.checked_add(1) else {
            return Reply::Error("ERR increment or decrement would overflow".into());
        };
        let value = next.to_string().into_bytes();
        match self.live(key) {
            Some(entry) => entry.value = value,
            None => {
                self.entries.insert(key.to_vec(), Entry { value, expires: None });
            }
        }
        Reply::Integer(next)
    }
}
