//! Files and directories.

pub mod copy;
pub mod dir;
pub mod fd;
pub mod path;
pub mod realpath;
pub mod stat;
