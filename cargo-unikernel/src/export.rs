//! The host end of the export channel: the file QEMU's export device filled during a
//! boot, split into the files the guest exported.
//!
//! The guest (sysroot kernel `export.rs`) writes records `b"UKX1"`, a u16 LE name
//! length, the name, a u64 LE data length, the data, to an `isa-debugcon` on port
//! 0xea; QEMU appends them to a file the launcher chose ([`crate::qemu`]). After the
//! VM ends, [`parse`] turns that file into [`ExportedFile`]s. The guest is not trusted:
//! a name that could leave the directory is refused, and a record cut short (the VM
//! died mid-file) is dropped with a message rather than kept truncated.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The bytes that start every record.
pub const MAGIC: [u8; 4] = *b"UKX1";

/// One file the guest exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a host file held: the complete records, and why the rest was dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Exports {
    pub files: Vec<ExportedFile>,
    /// Set when bytes after the last complete record could not be read as one.
    pub dropped: Option<String>,
}

/// Split the export device's bytes into files.
pub fn parse(mut bytes: &[u8]) -> Exports {
    let mut exports = Exports::default();
    while !bytes.is_empty() {
        match record(bytes) {
            Ok((file, rest)) => {
                exports.files.push(file);
                bytes = rest;
            }
            Err(why) => {
                exports.dropped = Some(why);
                break;
            }
        }
    }
    exports
}

fn record(bytes: &[u8]) -> Result<(ExportedFile, &[u8]), String> {
    let rest = bytes
        .strip_prefix(&MAGIC)
        .ok_or("the export channel does not start a record here")?;
    let (name_len, rest) = take::<2>(rest).ok_or("a record is cut short in its name")?;
    let name_len = usize::from(u16::from_le_bytes(name_len));
    let name = rest
        .get(..name_len)
        .ok_or("a record is cut short in its name")?;
    let name = std::str::from_utf8(name)
        .map_err(|_| "an exported file's name is not UTF-8".to_string())?;
    if !valid_name(name) {
        return Err(format!(
            "the guest exported a file with a bad name `{name}`"
        ));
    }
    let (len, rest) = take::<8>(&rest[name_len..])
        .ok_or_else(|| format!("the exported file `{name}` is cut short"))?;
    let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| "a record is too long")?;
    let data = rest.get(..len).ok_or_else(|| {
        format!("the exported file `{name}` is cut short (the VM ended while writing it)")
    })?;
    Ok((
        ExportedFile {
            name: name.to_owned(),
            bytes: data.to_vec(),
        },
        &rest[len..],
    ))
}

fn take<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let head = bytes.get(..N)?.try_into().ok()?;
    Some((head, &bytes[N..]))
}

/// The names the guest may use: a plain file name in the directory.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && !name.starts_with('.') && !name.contains('\0')
}

/// Where each exported file `name` goes in `dir` when it must not replace an earlier
/// one: `stem-N.ext`, the first N not taken.
pub fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (0u64..)
        .map(|n| dir.join(format!("{stem}-{n}{ext}")))
        .find(|path| !path.exists())
        .expect("an unbounded range finds a free name")
}

/// Write `file` into `dir` under a name no earlier file has ([`unique_path`]).
pub fn save_unique(dir: &Path, file: &ExportedFile) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = unique_path(dir, &file.name);
    std::fs::write(&path, &file.bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(name.as_bytes());
        out.extend((data.len() as u64).to_le_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn several_files_go_through_one_channel() {
        let mut bytes = frame("a.profraw", b"\x00\x01binary");
        bytes.extend(frame("samples", b""));
        let exports = parse(&bytes);
        assert_eq!(exports.dropped, None);
        assert_eq!(
            exports.files,
            vec![
                ExportedFile {
                    name: "a.profraw".into(),
                    bytes: b"\x00\x01binary".to_vec()
                },
                ExportedFile {
                    name: "samples".into(),
                    bytes: vec![]
                },
            ]
        );
    }

    #[test]
    fn a_cut_record_is_dropped_and_said() {
        let mut bytes = frame("first", b"ok");
        let second = frame("second", b"0123456789");
        bytes.extend(&second[..second.len() - 3]);
        let exports = parse(&bytes);
        assert_eq!(exports.files.len(), 1);
        assert!(exports.dropped.unwrap().contains("`second` is cut short"));
        assert!(parse(b"garbage").dropped.is_some());
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        for name in ["../x", ".x", "a/b", ""] {
            assert!(parse(&frame(name, b"x")).files.is_empty(), "{name}");
        }
    }

    #[test]
    fn saved_files_never_replace_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = ExportedFile {
            name: "default.profraw".into(),
            bytes: b"x".to_vec(),
        };
        let first = save_unique(dir.path(), &file).unwrap();
        let second = save_unique(dir.path(), &file).unwrap();
        assert_eq!(first.file_name().unwrap(), "default-0.profraw");
        assert_eq!(second.file_name().unwrap(), "default-1.profraw");
    }
}
