//! RESP2, the Redis wire protocol: parsing requests (arrays of bulk strings, as
//! every client sends them, and inline commands, as `telnet` users type them) out of
//! a byte buffer, and encoding replies.
//!
//! Parsing never consumes a partial request: [`parse`] says how many bytes one whole
//! request took, so a pipelined buffer is answered request by request and a request
//! split across reads waits for its rest.

/// The largest bulk string and the most arguments a request may have (Redis's
/// defaults are 512 MB and 1M; smaller bounds keep a garbage length from making the
/// server wait for, or reserve, gigabytes).
const MAX_BULK: usize = 1 << 20;
const MAX_ARGS: usize = 1024;
/// An inline command longer than this without a newline is garbage (Redis: 64 KiB).
const MAX_INLINE: usize = 64 * 1024;
/// The longest `*N` or `$N` header line.
const HEADER: usize = 32;

/// What the start of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// One whole request: its arguments and how many bytes it took.
    Request(Vec<Vec<u8>>, usize),
    /// The start of a request: read more.
    Incomplete,
    /// Not RESP: the error to reply before closing the connection (as Redis does).
    Invalid(&'static str),
}

/// The first request in `buffer`.
pub fn parse(buffer: &[u8]) -> Parsed {
    match buffer.first() {
        None => Parsed::Incomplete,
        Some(b'*') => parse_array(buffer),
        Some(_) => parse_inline(buffer),
    }
}

/// The line starting at `start` (without its `\r\n`) and where the next one starts;
/// `Err(())` if no `\r\n` ends it within `limit` bytes. The verdict depends only on
/// the bytes, never on how many have arrived: `Ok(None)` (read more) only while fewer
/// than `limit + 2` bytes follow `start` without a `\r\n`.
fn line(buffer: &[u8], start: usize, limit: usize) -> Result<Option<(&[u8], usize)>, ()> {
    let rest = &buffer[start..];
    let window = &rest[..rest.len().min(limit + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok(Some((&rest[..end], start + end + 2))),
        None if rest.len() >= limit + 2 => Err(()),
        None => Ok(None),
    }
}

/// A decimal count in a header line (`*3`, `$5`): `None` unless all digits (a
/// client never sends a null array or bulk string).
fn count(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn parse_array(buffer: &[u8]) -> Parsed {
    let (header, mut at) = match line(buffer, 0, HEADER) {
        Ok(Some(found)) => found,
        Ok(None) => return Parsed::Incomplete,
        Err(()) => return Parsed::Invalid("Protocol error: too big mbulk count string"),
    };
    let Some(items) = count(&header[1..]) else {
        return Parsed::Invalid("Protocol error: invalid multibulk length");
    };
    if items > MAX_ARGS {
        return Parsed::Invalid("Protocol error: invalid multibulk length");
    }
    let mut args = Vec::with_capacity(items);
    for _ in 0..items {
        let (header, data) = match line(buffer, at, HEADER) {
            Ok(Some(found)) => found,
            Ok(None) => return Parsed::Incomplete,
            Err(()) => return Parsed::Invalid("Protocol error: too big bulk count string"),
        };
        if header.first() != Some(&b'$') {
            return Parsed::Invalid("Protocol error: expected '$'");
        }
        let Some(length) = count(&header[1..]).filter(|&n| n <= MAX_BULK) else {
            return Parsed::Invalid("Protocol error: invalid bulk length");
        };
        let end = data + length;
        if buffer.len() < end + 2 {
            return Parsed::Incomplete;
        }
        if &buffer[end..end + 2] != b"\r\n" {
            return Parsed::Invalid("Protocol error: bulk string not followed by CRLF");
        }
        args.push(buffer[data..end].to_vec());
        at = end + 2;
    }
    Parsed::Request(args, at)
}

/// A line of words separated by spaces, ended by `\n` (an optional `\r` before it).
fn parse_inline(buffer: &[u8]) -> Parsed {
    let window = &buffer[..buffer.len().min(MAX_INLINE + 1)];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        return if buffer.len() > MAX_INLINE {
            Parsed::Invalid("Protocol error: too big inline request")
        } else {
            Parsed::Incomplete
        };
    };
    let text = buffer[..newline].strip_suffix(b"\r").unwrap_or(&buffer[..newline]);
    let args = text
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|word| !word.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    Parsed::Request(args, newline + 1)
}

/// One reply, encoded onto `out`.
#[derive(Debug)]
pub enum Reply {
    Simple(&'static str),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => {
                out.push(b'+');
                out.extend_from_slice(text.as_bytes());
            }
            Reply::Error(text) => {
                out.push(b'-');
                out.extend_from_slice(text.as_bytes());
            }
            Reply::Integer(value) => out.extend_from_slice(format!(":{value}").as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1"),
            Reply::Bulk(Some(data)) => {
                out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
            }
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.encode(out);
                }
                return;
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}
