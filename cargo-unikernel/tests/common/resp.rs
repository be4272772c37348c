//! A small RESP2 (Redis protocol) client for the kv tests: requests encoded as arrays
//! of bulk strings, replies read into [`Value`].

use std::io::{self, BufRead};

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<String>),
    Array(Vec<Value>),
}

/// `+text`.
pub fn simple(text: &str) -> Value {
    Value::Simple(text.into())
}

/// `$len text`.
pub fn bulk(text: &str) -> Value {
    Value::Bulk(Some(text.into()))
}

/// `-text`.
pub fn error(text: &str) -> Value {
    Value::Error(text.into())
}

/// A request from its words.
pub fn request(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend_from_slice(format!("${}\r\n{word}\r\n", word.len()).as_bytes());
    }
    out
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    line.strip_suffix("\r\n")
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("line without CRLF: {line:?}")))
}

fn number(text: &str) -> io::Result<i64> {
    text.parse()
        .map_err(|_| bad(format!("not a number: {text:?}")))
}

/// The next reply.
pub fn read(reader: &mut impl BufRead) -> io::Result<Value> {
    let line = line(reader)?;
    let (kind, rest) = line.split_at(1.min(line.len()));
    Ok(match kind {
        "+" => Value::Simple(rest.into()),
        "-" => Value::Error(rest.into()),
        ":" => Value::Integer(number(rest)?),
        "$" if rest == "-1" => Value::Bulk(None),
        "$" => {
            let mut data = vec![0; number(rest)? as usize + 2];
            reader.read_exact(&mut data)?;
            data.truncate(data.len() - 2);
            Value::Bulk(Some(String::from_utf8_lossy(&data).into_owned()))
        }
        "*" => {
            let items = number(rest)?;
            let mut values = Vec::new();
            for _ in 0..items {
                values.push(read(reader)?);
            }
            Value::Array(values)
        }
        _ => return Err(bad(format!("not a reply: {line:?}"))),
    })
}
