//! `cargo unikernel run --gdb[=PORT]`: QEMU's gdb stub on the host's loopback, the guest
//! halted before its first instruction, and the command that attaches gdb.
//!
//! What could make the boot wait for nothing is checked before the build: the port must
//! be free on 127.0.0.1 (QEMU would otherwise fail to start, or another process would
//! take the connection) and a `gdb` must be on PATH to attach with.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The port of `--gdb` without a value: QEMU's `-s` default.
pub const DEFAULT_PORT: u16 = 1234;

/// The debugger found on PATH, or why there is none.
pub fn find_gdb() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("gdb"))
        .find(|candidate| candidate.is_file())
        .context("--gdb: no `gdb` on PATH to attach with; install it (`apt-get install gdb`)")
}

/// Fails if `port` on 127.0.0.1 is taken (the stub listens only there).
pub fn check_port(port: u16) -> anyhow::Result<()> {
    if port == 0 {
        bail!("--gdb=0: name a port (default {DEFAULT_PORT})");
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map(drop)
        .with_context(|| {
            format!("--gdb: port 127.0.0.1:{port} is taken; pick another with --gdb=PORT")
        })
}

/// QEMU's arguments: the stub on the loopback only (`-s` would listen on every
/// interface) and the CPU stopped until gdb continues it (`-S`).
pub fn qemu_args(port: u16) -> [String; 3] {
    ["-gdb".into(), format!("tcp:127.0.0.1:{port}"), "-S".into()]
}

/// The command that attaches gdb to the stopped guest, with the image's symbols and
/// debug info.
pub fn attach_command(image: &Path, port: u16) -> String {
    format!("gdb {} -ex 'target remote :{port}'", image.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_refused() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let error = check_port(port).unwrap_err().to_string();
        assert!(
            error.contains(&format!("127.0.0.1:{port} is taken")),
            "{error}"
        );
        drop(listener);
        assert!(check_port(port).is_ok());
        assert!(check_port(0).is_err());
    }

    #[test]
    fn attach_command_names_image_and_port() {
        assert_eq!(
            attach_command(Path::new("/t/hello"), 4321),
            "gdb /t/hello -ex 'target remote :4321'"
        );
        assert_eq!(qemu_args(4321), ["-gdb", "tcp:127.0.0.1:4321", "-S"]);
    }
}
