//! The error list against Linux's numbering and glibc's messages.

use std::collections::HashSet;

use super::*;

#[test]
fn numbers_sorted_unique_and_where_linux_has_them() {
    let numbers: Vec<i32> = Errno::ALL.iter().map(|e| e.0).collect();
    // asm-generic: 1..=133; 41 and 58 belonged to the aliases EWOULDBLOCK and EDEADLOCK.
    let expected: Vec<i32> = (1..=133).filter(|n| ![41, 58].contains(n)).collect();
    assert_eq!(numbers, expected);
}

#[test]
fn names_unique_and_every_number_named() {
    let names: HashSet<&str> = Errno::ALL.iter().map(|e| e.name().unwrap()).collect();
    assert_eq!(names.len(), Errno::ALL.len());
    assert!(names.iter().all(|n| n.starts_with('E')));
}

#[test]
fn well_known_names() {
    let expected = [
        (1, "EPERM", Errno::EPERM),
        (2, "ENOENT", Errno::ENOENT),
        (7, "E2BIG", Errno::E2BIG),
        (11, "EAGAIN", Errno::EWOULDBLOCK),
        (14, "EFAULT", Errno::EFAULT),
        (22, "EINVAL", Errno::EINVAL),
        (35, "EDEADLK", Errno::EDEADLOCK),
        (38, "ENOSYS", Errno::ENOSYS),
        (75, "EOVERFLOW", Errno::EOVERFLOW),
        (95, "EOPNOTSUPP", Errno::ENOTSUP),
        (110, "ETIMEDOUT", Errno::ETIMEDOUT),
        (133, "EHWPOISON", Errno::EHWPOISON),
    ];
    for (number, name, constant) in expected {
        assert_eq!(constant, Errno(number), "{name}");
        assert_eq!(Errno(number).name(), Some(name));
        assert_eq!(format!("{:?}", Errno(number)), name);
    }
}

#[test]
fn messages_are_glibcs() {
    let sample = [
        (Errno::EPERM, "Operation not permitted"),
        (Errno::ENOENT, "No such file or directory"),
        (Errno::EAGAIN, "Resource temporarily unavailable"),
        (Errno::EXDEV, "Invalid cross-device link"),
        (Errno::ENOSYS, "Function not implemented"),
        (Errno::ELOOP, "Too many levels of symbolic links"),
        (Errno::ELIBSCN, ".lib section in a.out corrupted"),
        (Errno::ETOOMANYREFS, "Too many references: cannot splice"),
        (Errno::ECANCELED, "Operation canceled"),
        (Errno::EHWPOISON, "Memory page has hardware error"),
    ];
    for (errno, message) in sample {
        assert_eq!(errno.message().unwrap().to_str(), Ok(message), "{errno:?}");
    }
}

/// The test runs on x86_64-unknown-linux-gnu, where std formats an OS error with
/// glibc's `strerror_r`: every message must be the host glibc's.
#[test]
fn messages_agree_with_the_host_glibc() {
    for &errno in Errno::ALL {
        let ours = errno.message().unwrap().to_str().unwrap();
        let glibc = std::io::Error::from_raw_os_error(errno.0).to_string();
        assert_eq!(glibc, format!("{ours} (os error {})", errno.0), "{errno:?}");
    }
}

#[test]
fn unnamed_numbers() {
    for number in [0, 41, 58, 134, 4095, -1] {
        assert_eq!(Errno(number).name(), None, "{number}");
        assert_eq!(Errno(number).message(), None, "{number}");
    }
    assert_eq!(format!("{:?}", Errno(134)), "Errno(134)");
}

#[test]
fn return_values() {
    assert_eq!(Errno::ENOSYS.to_return_value(), -38);
    assert_eq!(Errno::EPERM.to_return_value(), -1);
}
