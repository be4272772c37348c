//! The system call list against what Linux's `syscall_64.tbl` promises: sorted, unique,
//! dense where Linux is, and every lookup agreeing with every other.

use std::collections::HashSet;

use super::*;

#[test]
fn numbers_sorted_and_unique() {
    assert!(
        Sysno::ALL.windows(2).all(|w| w[0].number() < w[1].number()),
        "the list is sorted by number, each number once"
    );
}

#[test]
fn names_unique() {
    let names: HashSet<&str> = Sysno::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names.len(), Sysno::ALL.len());
}

#[test]
fn dense_where_linux_is() {
    // 0..=336 and 424..=469 without holes; nothing in between or above.
    let numbers: Vec<usize> = Sysno::ALL.iter().map(|s| s.number()).collect();
    let expected: Vec<usize> = (0..=336).chain(424..=469).collect();
    assert_eq!(numbers, expected);
    assert_eq!(Sysno::ALL.last(), Some(&Sysno::file_setattr));
}

#[test]
fn lookups_round_trip() {
    for &sysno in Sysno::ALL {
        let (nr, name) = (sysno.number(), sysno.name());
        assert_eq!(Sysno::from_number(nr), Some(sysno), "{name}");
        assert_eq!(Sysno::from_name(name), Some(sysno), "{name}");
        assert_eq!(super::name(nr), Some(name), "{name}");
        assert_eq!(number(name), Some(nr), "{name}");
        assert_eq!(
            is_register_frame(nr),
            sysno.needs_register_frame(),
            "{name}"
        );
    }
}

#[test]
fn upper_case_constants_match_the_names() {
    assert_eq!(nr::ALL.len(), Sysno::ALL.len());
    for (&(constant, value), sysno) in nr::ALL.iter().zip(Sysno::ALL) {
        assert_eq!(constant, sysno.name().to_ascii_uppercase());
        assert_eq!(value, sysno.number(), "{constant}");
    }
}

#[test]
fn well_known_numbers() {
    let expected = [
        (0, "read", nr::READ),
        (1, "write", nr::WRITE),
        (15, "rt_sigreturn", nr::RT_SIGRETURN),
        (39, "getpid", nr::GETPID),
        (56, "clone", nr::CLONE),
        (60, "exit", nr::EXIT),
        (156, "_sysctl", nr::_SYSCTL),
        (202, "futex", nr::FUTEX),
        (228, "clock_gettime", nr::CLOCK_GETTIME),
        (231, "exit_group", nr::EXIT_GROUP),
        (257, "openat", nr::OPENAT),
        (262, "newfstatat", nr::NEWFSTATAT),
        (318, "getrandom", nr::GETRANDOM),
        (332, "statx", nr::STATX),
        (334, "rseq", nr::RSEQ),
        (424, "pidfd_send_signal", nr::PIDFD_SEND_SIGNAL),
        (435, "clone3", nr::CLONE3),
        (449, "futex_waitv", nr::FUTEX_WAITV),
        (462, "mseal", nr::MSEAL),
    ];
    for (number, name, constant) in expected {
        assert_eq!(super::name(number), Some(name), "number {number}");
        assert_eq!(super::number(name), Some(number), "name {name}");
        assert_eq!(constant, number, "nr constant of {name}");
    }
}

#[test]
fn gaps_and_out_of_range_have_no_name() {
    for number in [337, 400, 423, 470, 512, usize::MAX] {
        assert_eq!(name(number), None, "number {number}");
        assert_eq!(Sysno::from_number(number), None, "number {number}");
        assert!(!is_register_frame(number), "number {number}");
    }
    assert_eq!(number("sys_read"), None);
    assert_eq!(number(""), None);
}

#[test]
fn register_frame_calls() {
    use Sysno::*;
    assert_eq!(
        REGISTER_FRAME,
        [rt_sigreturn, clone, fork, vfork, execve, clone3]
    );
    let numbers: Vec<usize> = REGISTER_FRAME.iter().map(|s| s.number()).collect();
    assert_eq!(numbers, [15, 56, 57, 58, 59, 435]);
    assert!(!is_register_frame(nr::READ) && !is_register_frame(nr::EXIT_GROUP));
}
