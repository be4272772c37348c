//! libc's `syscall` and the open flags the fuzzer's own set-up uses (x86-64 values).

use std::ffi::c_long;

pub const O_RDWR: c_long = 2;
pub const O_CREAT: c_long = 0o100;
pub const O_NONBLOCK: c_long = 0o4000;
pub const O_DIRECTORY: c_long = 0o200000;
pub const O_CLOEXEC: c_long = 0o2000000;

unsafe extern "C" {
    pub fn syscall(number: c_long, ...) -> c_long;
}
