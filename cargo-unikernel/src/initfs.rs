//! Files packed into the image: the kernel's RAM file system starts with them.
//!
//! Where they come from, in this order (a later entry for the same guest path wins):
//!
//! ```toml
//! [package.metadata.unikernel]
//! files = ["assets:/assets", "config/app.toml:/etc/app.toml"]
//! ```
//!
//! and `--file HOST:GUEST` on `build`/`run` (repeatable). `HOST` is a file or a
//! directory (packed recursively), relative to the package directory (the one holding
//! `Cargo.toml`) in the metadata and to the current directory on the command line; it
//! may not contain `:`. `GUEST` is the absolute path it gets in the guest; missing
//! parent directories are created (0755). Symbolic links on the host are followed.
//! Permission bits and modification times are kept; owners are not (the guest is root).
//! A missing host path is an error naming it (exit code 3).
//!
//! The archive is cpio "new ASCII" (`070701`, `cpio -H newc`, as Linux's initramfs):
//! entry names are guest paths without the leading `/`, parents before children,
//! directory entries in name order, then the `TRAILER!!!` entry. It becomes the only
//! section, `.unikernel_initfs`, of an ELF object linked into the image; the kernel's
//! linker script puts it in the read-only segment between `__unikernel_initfs_start`
//! and `__unikernel_initfs_end` (`sysroot/kernel/src/vfs/initfs.rs` unpacks it). The
//! object's name carries a digest of the archive, so a change of any packed file
//! changes the link's fingerprint (`fresh.rs`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, anyhow, bail};
use object::write::Object;
use object::{Architecture, BinaryFormat, Endianness, SectionKind};

use crate::error::Failure;

/// The section the kernel's linker script collects.
const SECTION: &str = ".unikernel_initfs";

/// One `HOST:GUEST` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub host: PathBuf,
    pub guest: String,
    /// Where it was written, for error messages.
    pub origin: String,
}

impl FileSpec {
    /// Parses `HOST:GUEST`, making `HOST` relative to `base`.
    pub fn parse(spec: &str, base: &Path, origin: &str) -> anyhow::Result<Self> {
        let (host, guest) = spec
            .split_once(':')
            .with_context(|| format!("{origin} `{spec}`: expected HOST:GUEST"))?;
        if host.is_empty() {
            bail!("{origin} `{spec}`: the host path is empty");
        }
        let guest = normalize_guest(guest).with_context(|| format!("{origin} `{spec}`"))?;
        Ok(Self {
            host: base.join(host),
            guest,
            origin: format!("{origin} `{spec}`"),
        })
    }
}

/// `/a//b/./c/` -> `/a/b/c`; must be absolute and free of `..`.
fn normalize_guest(guest: &str) -> anyhow::Result<String> {
    if !guest.starts_with('/') {
        bail!("the guest path `{guest}` must be absolute");
    }
    let mut parts = Vec::new();
    for component in Path::new(guest).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => parts.push(
                part.to_str()
                    .with_context(|| format!("the guest path `{guest}` is not UTF-8"))?,
            ),
            Component::ParentDir | Component::Prefix(_) => {
                bail!("the guest path `{guest}` may not contain `..`")
            }
        }
    }
    if parts.is_empty() {
        bail!("the guest path `{guest}` names the root directory; name a path below it");
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The requests of a package's `[package.metadata.unikernel] files` and of `--file`.
pub fn specs(
    metadata: &serde_json::Value,
    package_dir: &Path,
    cli: &[String],
) -> anyhow::Result<Vec<FileSpec>> {
    const KEY: &str = "package.metadata.unikernel.files";
    let mut specs = Vec::new();
    match metadata.get("unikernel").and_then(|u| u.get("files")) {
        None => {}
        Some(serde_json::Value::Array(items)) => {
            for item in items {
                let spec = item.as_str().with_context(|| {
                    format!("{KEY}: expected strings \"HOST:GUEST\", found {item}")
                })?;
                specs.push(FileSpec::parse(spec, package_dir, KEY)?);
            }
        }
        Some(other) => bail!("{KEY}: expected an array of \"HOST:GUEST\" strings, found {other}"),
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    for spec in cli {
        specs.push(FileSpec::parse(spec, &cwd, "--file")?);
    }
    Ok(specs)
}

/// One packed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedEntry {
    pub guest: String,
    pub host: PathBuf,
    /// `None` for a directory.
    pub bytes: Option<u64>,
}

/// A packed archive and what went into it.
#[derive(Debug, Clone, Default)]
pub struct Initfs {
    pub archive: Vec<u8>,
    pub entries: Vec<PackedEntry>,
}

impl Initfs {
    pub fn files(&self) -> usize {
        self.entries.iter().filter(|e| e.bytes.is_some()).count()
    }

    pub fn directories(&self) -> usize {
        self.entries.len() - self.files()
    }

    /// File data, without headers.
    pub fn data_bytes(&self) -> u64 {
        self.entries.iter().filter_map(|e| e.bytes).sum()
    }
}

/// Packs every request (module docs). Errors name the missing or unusable path.
pub fn pack(specs: &[FileSpec]) -> anyhow::Result<Initfs> {
    let mut packer = Packer::default();
    for spec in specs {
        if !spec.host.exists() {
            return Err(
                anyhow!("{}: {} does not exist", spec.origin, spec.host.display())
                    .context(Failure::Project),
            );
        }
        packer
            .add(&spec.host, &spec.guest)
            .with_context(|| spec.origin.clone())?;
    }
    packer.finish()
}

#[derive(Default)]
struct Packer {
    archive: Vec<u8>,
    entries: Vec<PackedEntry>,
}

impl Packer {
    fn add(&mut self, host: &Path, guest: &str) -> anyhow::Result<()> {
        let meta =
            std::fs::metadata(host).with_context(|| format!("cannot read {}", host.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        let name = guest.trim_start_matches('/');
        let ino = u32::try_from(self.entries.len() + 1).unwrap_or(u32::MAX);
        let header = cpio::newc::Builder::new(name).ino(ino).mtime(mtime);
        if meta.is_dir() {
            let writer = header
                .mode(0o040_000 | mode)
                .nlink(2)
                .write(&mut self.archive, 0);
            writer.finish()?;
            self.entries.push(PackedEntry {
                guest: guest.to_owned(),
                host: host.to_owned(),
                bytes: None,
            });
            let mut children = std::fs::read_dir(host)
                .with_context(|| format!("cannot list {}", host.display()))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("cannot list {}", host.display()))?;
            children.sort();
            for child in children {
                let child_name = child.to_str().with_context(|| {
                    format!("{}: the name is not UTF-8", host.join(&child).display())
                })?;
                self.add(&host.join(&child), &format!("{guest}/{child_name}"))?;
            }
        } else if meta.is_file() {
            let data =
                std::fs::read(host).with_context(|| format!("cannot read {}", host.display()))?;
            let size = u32::try_from(data.len()).with_context(|| {
                format!("{} is larger than 4 GiB (the cpio limit)", host.display())
            })?;
            let mut writer = header.mode(0o100_000 | mode).write(&mut self.archive, size);
            writer.write_all(&data)?;
            writer.finish()?;
            self.entries.push(PackedEntry {
                guest: guest.to_owned(),
                host: host.to_owned(),
                bytes: Some(data.len() as u64),
            });
        } else {
            bail!(
                "{} is neither a regular file nor a directory",
                host.display()
            );
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Initfs> {
        cpio::newc::trailer(&mut self.archive)?;
        Ok(Initfs {
            archive: self.archive,
            entries: self.entries,
        })
    }
}

/// Writes `archive` as an ELF object with the one section `.unikernel_initfs` into
/// `dir`, named after the archive's digest; older objects there are removed.
pub fn write_object(archive: &[u8], dir: &Path) -> anyhow::Result<PathBuf> {
    let mut hasher = DefaultHasher::new();
    archive.hash(&mut hasher);
    let path = dir.join(format!("initfs-{:016x}.o", hasher.finish()));
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for stale in std::fs::read_dir(dir)?.flatten() {
        if stale.file_name().to_string_lossy().starts_with("initfs-") {
            let _ = std::fs::remove_file(stale.path());
        }
    }
    let mut object = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let section = object.add_section(
        Vec::new(),
        SECTION.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    object.append_section_data(section, archive, 8);
    let bytes = object
        .write()
        .map_err(|e| anyhow!("cannot write the initial-files object: {e}"))?;
    crate::replace::write(&path, bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes_specs() {
        let spec = FileSpec::parse("assets:/srv//assets/./", Path::new("/pkg"), "--file").unwrap();
        assert_eq!(spec.host, Path::new("/pkg/assets"));
        assert_eq!(spec.guest, "/srv/assets");
        for bad in ["assets", ":/x", "a:relative", "a:/x/../y", "a:/"] {
            assert!(
                FileSpec::parse(bad, Path::new("/"), "--file").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_metadata_files() {
        let meta = serde_json::json!({ "unikernel": { "files": ["a:/a"] } });
        let specs = specs(&meta, Path::new("/pkg"), &["b:/b".into()]).unwrap();
        assert_eq!(specs[0].host, Path::new("/pkg/a"));
        assert_eq!(specs[1].guest, "/b");
        let wrong = serde_json::json!({ "unikernel": { "files": "a:/a" } });
        assert!(specs_err(&wrong).contains("expected an array"));
    }

    fn specs_err(meta: &serde_json::Value) -> String {
        specs(meta, Path::new("/"), &[]).unwrap_err().to_string()
    }

    #[test]
    fn packs_a_tree_in_order_and_names_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tree/sub")).unwrap();
        std::fs::write(dir.path().join("tree/b.txt"), "bee").unwrap();
        std::fs::write(dir.path().join("tree/sub/a.txt"), "a").unwrap();
        let spec = FileSpec::parse("tree:/data", dir.path(), "--file").unwrap();
        let packed = pack(&[spec]).unwrap();
        let names: Vec<_> = packed.entries.iter().map(|e| e.guest.as_str()).collect();
        assert_eq!(
            names,
            ["/data", "/data/b.txt", "/data/sub", "/data/sub/a.txt"]
        );
        assert_eq!(
            (packed.files(), packed.directories(), packed.data_bytes()),
            (2, 2, 4)
        );
        assert!(packed.archive.starts_with(b"070701"));
        assert!(packed.archive.windows(10).any(|w| w == b"TRAILER!!!"));

        let missing = FileSpec::parse("nope:/x", dir.path(), "--file").unwrap();
        let error = pack(&[missing]).unwrap_err();
        assert!(crate::error::message(&error).contains("nope does not exist"));
        assert_eq!(Failure::of(&error), Some(Failure::Project));
    }
}
