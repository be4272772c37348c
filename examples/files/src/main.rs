//! Files: create, write, read, append, seek, truncate, rename, copy and remove files;
//! create_dir_all and read_dir; metadata; the io::ErrorKind of common failures.
//!
//! Everything happens in a fresh directory under `std::env::temp_dir()`, named with the
//! process id so parallel runs do not clash. Neither the id nor any path is printed, and
//! errors are printed by kind only: the OS message text may differ between libcs.

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process;

fn main() {
    let root = env::temp_dir().join(format!("cargo-unikernel-files-{}", process::id()));
    let _ = fs::remove_dir_all(&root); // left over from an earlier run with the same id
    let result = fs::create_dir_all(&root).and_then(|()| exercise(&root));
    let cleanup = fs::remove_dir_all(&root);
    println!("cleanup: {}, root exists {}", kind(&cleanup), root.exists());
    if let Err(e) = result {
        eprintln!("files: failed: {:?}", e.kind());
        process::exit(1);
    }
}

fn exercise(root: &Path) -> io::Result<()> {
    // Whole-file write and read.
    let a = root.join("a.txt");
    fs::write(&a, "hello, file\n")?;
    println!("read: {:?}", fs::read_to_string(&a)?);

    // Append, then read back line by line.
    let mut f = OpenOptions::new().append(true).open(&a)?;
    f.write_all(b"second line\n")?;
    writeln!(f, "third line {}", 3)?;
    drop(f);
    let text = fs::read_to_string(&a)?;
    println!(
        "append: {} lines, last {:?}",
        text.lines().count(),
        text.lines().last()
    );

    // Metadata of a file and of a directory.
    let meta = fs::metadata(&a)?;
    println!(
        "metadata file: len {}, is_file {}, is_dir {}",
        meta.len(),
        meta.is_file(),
        meta.is_dir()
    );
    let meta = fs::metadata(root)?;
    println!(
        "metadata dir: is_file {}, is_dir {}",
        meta.is_file(),
        meta.is_dir()
    );

    // Seek in every direction, overwrite in place, truncate.
    let mut f = OpenOptions::new().read(true).write(true).open(&a)?;
    let mut word = [0u8; 4];
    f.seek(SeekFrom::Start(7))?;
    f.read_exact(&mut word)?;
    println!("seek start 7: {:?}", String::from_utf8_lossy(&word));
    let pos = f.seek(SeekFrom::End(-6))?;
    let mut tail = String::new();
    f.read_to_string(&mut tail)?;
    println!("seek end -6: at {pos}, {tail:?}");
    f.seek(SeekFrom::Start(0))?;
    f.seek(SeekFrom::Current(5))?;
    f.write_all(b"!")?;
    println!("position after write: {}", f.stream_position()?);
    f.set_len(12)?;
    drop(f);
    println!(
        "after overwrite+truncate: {:?}, len {}",
        fs::read_to_string(&a)?,
        fs::metadata(&a)?.len()
    );

    // Rename, copy, remove.
    let b = root.join("b.txt");
    fs::rename(&a, &b)?;
    println!("rename: a exists {}, b exists {}", a.exists(), b.exists());
    let c = root.join("c.txt");
    println!(
        "copy: {} bytes, equal {}",
        fs::copy(&b, &c)?,
        fs::read(&b)? == fs::read(&c)?
    );
    fs::remove_file(&c)?;
    println!("remove: c exists {}", c.exists());

    // A small tree, listed in sorted order (read_dir order is unspecified).
    let tree = root.join("tree");
    fs::create_dir_all(tree.join("sub/deeper"))?;
    for name in ["zeta.txt", "alpha.txt", "mid.bin"] {
        File::create(tree.join(name))?.write_all(name.as_bytes())?;
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(&tree)? {
        let entry = entry?;
        let kind = if entry.file_type()?.is_dir() {
            "dir"
        } else {
            "file"
        };
        entries.push(format!("{}({kind})", entry.file_name().to_string_lossy()));
    }
    entries.sort();
    println!("read_dir: {}", entries.join(" "));

    // Timestamps: set_modified, read back through metadata.
    let stamp = std::time::UNIX_EPOCH + std::time::Duration::new(1_600_000_000, 123_456_789);
    File::options().write(true).open(&b)?.set_modified(stamp)?;
    println!("set_modified: read back {}", fs::metadata(&b)?.modified()? == stamp);

    // Failures, by kind.
    let missing = root.join("missing.txt");
    println!("open missing: {}", kind(&File::open(&missing)));
    println!("metadata missing: {}", kind(&fs::metadata(&missing)));
    println!("remove missing: {}", kind(&fs::remove_file(&missing)));
    println!("create_dir existing: {}", kind(&fs::create_dir(&tree)));
    let new = OpenOptions::new().write(true).create_new(true).open(&b);
    println!("create_new existing: {}", kind(&new));
    println!("remove_dir non-empty: {}", kind(&fs::remove_dir(&tree)));
    println!("read_dir on a file: {}", kind(&fs::read_dir(&b)));
    println!(
        "create_dir_all under a file: {}",
        kind(&fs::create_dir_all(b.join("x")))
    );
    fs::write(&c, [0xff, 0xfe, 0x00])?;
    println!("read_to_string non-utf8: {}", kind(&fs::read_to_string(&c)));

    // Removing a directory once it is empty.
    fs::remove_dir_all(tree.join("sub"))?;
    for name in ["zeta.txt", "alpha.txt", "mid.bin"] {
        fs::remove_file(tree.join(name))?;
    }
    println!("remove_dir empty: {}", kind(&fs::remove_dir(&tree)));
    Ok(())
}

/// `ok`, or the error's kind (never its message, whose text comes from the libc).
fn kind<T>(result: &io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("{:?}", e.kind()),
    }
}
