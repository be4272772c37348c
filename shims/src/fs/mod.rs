//! Files and directories.

pub mod dir;
pub mod fd;
pub mod path;
pub mod realpath;
pub mod stat;
