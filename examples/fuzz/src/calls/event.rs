//! poll, ppoll, the epoll calls and eventfd. Every wait has a timeout of at most a
//! millisecond (`poll` and `epoll_wait` 0 or 1 ms, never -1; `ppoll` and
//! `epoll_pwait2` a short or invalid timespec, never NULL), so none waits for good.
//! The structures handed in (pollfd arrays, `epoll_event`, signal masks) are private.

use super::Call;
use crate::args::{After, Gen, Prepared};
use crate::errno::*;

const POLL: &[i32] = &[EFAULT, EINTR, EINVAL, ENOMEM];
const EPOLL_WAIT: &[i32] = &[EBADF, EFAULT, EINTR, EINVAL];
const EPOLL_CREATE: &[i32] = &[EINVAL, EMFILE, ENFILE, ENOMEM];
/// epoll_ctl(2)'s ERRORS, and EFAULT: Linux returns it for an unreadable `event`
/// (fs/eventpoll.c copies it in first), though the page does not list it.
const EPOLL_CTL: &[i32] = &[
    EBADF, EEXIST, EINVAL, ELOOP, ENOENT, ENOMEM, ENOSPC, EPERM, EFAULT,
];
const EVENTFD: &[i32] = &[EINVAL, EMFILE, ENFILE, ENODEV, ENOMEM];

/// A private pollfd array of 4, a bad pointer; and a count.
fn pollfds(g: &mut Gen) -> (usize, usize) {
    let fds = if g.one_in(5) {
        g.bad_pointer()
    } else {
        let mut words = [0u64; 4];
        for word in &mut words {
            let fd = g.fd() as u32 as u64;
            let events = g.flags(0x3ff) as u64 & 0xffff;
            *word = fd | (events << 32);
        }
        g.place(&words)
    };
    let count = if g.one_in(8) {
        g.pick(&[usize::MAX, 1 << 20, 0x8000_0000])
    } else {
        g.below(5) as usize
    };
    (fds, count)
}

/// A signal mask for ppoll/epoll_pwait: NULL, private, or bad; and its size.
fn mask(g: &mut Gen) -> (usize, usize) {
    let mask = match g.below(3) {
        0 => 0,
        1 => {
            let bits = g.sigset();
            g.place(&[bits])
        }
        _ => g.bad_pointer(),
    };
    let size = if g.one_in(6) { g.length() } else { 8 };
    (mask, size)
}

fn epfd(g: &mut Gen) -> usize {
    if g.one_in(2) {
        g.world.epoll_fd as usize
    } else {
        g.fd()
    }
}

fn max_events(g: &mut Gen) -> usize {
    g.pick(&[0, 1, 4, 8, usize::MAX, 1 << 30])
}

pub const CALLS: &[Call] = &[
    Call {
        name: "poll",
        number: 7,
        errnos: &[POLL],
        make: |g| {
            let (fds, count) = pollfds(g);
            Prepared::new(&[fds, count, g.below(2) as usize])
        },
    },
    Call {
        name: "epoll_create",
        number: 213,
        errnos: &[EPOLL_CREATE],
        make: |g| Prepared::new(&[g.pick(&[1, 0, usize::MAX, 100])]).then(After::CloseResult),
    },
    Call {
        name: "epoll_wait",
        number: 232,
        errnos: &[EPOLL_WAIT],
        make: |g| Prepared::new(&[epfd(g), g.out_pointer(), max_events(g), g.below(2) as usize]),
    },
    Call {
        name: "epoll_ctl",
        number: 233,
        errnos: &[EPOLL_CTL],
        make: |g| {
            let op = g.pick(&[1, 2, 3, 0, 99]);
            let event = match g.below(4) {
                0 => g.bad_pointer(),
                _ => {
                    let events = g.flags(0xf000_03ff) as u64 & 0xffff_ffff;
                    let data = g.rng.next();
                    g.place(&[events | (data << 32), data >> 32])
                }
            };
            Prepared::new(&[epfd(g), op, g.fd(), event])
        },
    },
    Call {
        name: "ppoll",
        number: 271,
        errnos: &[POLL],
        make: |g| {
            let (fds, count) = pollfds(g);
            let timeout = g.short_timespec();
            let (mask, size) = mask(g);
            Prepared::new(&[fds, count, timeout, mask, size])
        },
    },
    Call {
        name: "epoll_pwait",
        number: 281,
        errnos: &[EPOLL_WAIT],
        make: |g| {
            let (mask, size) = mask(g);
            let (fd, out, max) = (epfd(g), g.out_pointer(), max_events(g));
            Prepared::new(&[fd, out, max, g.below(2) as usize, mask, size])
        },
    },
    Call {
        name: "eventfd",
        number: 284,
        errnos: &[EVENTFD],
        make: |g| Prepared::new(&[g.rng.next() as u32 as usize]).then(After::CloseResult),
    },
    Call {
        name: "eventfd2",
        number: 290,
        errnos: &[EVENTFD],
        make: |g| {
            let value = g.rng.next() as u32 as usize;
            Prepared::new(&[value, g.flags(0o2004001)]).then(After::CloseResult)
        },
    },
    Call {
        name: "epoll_create1",
        number: 291,
        errnos: &[EPOLL_CREATE],
        make: |g| Prepared::new(&[g.flags(0o2000000)]).then(After::CloseResult),
    },
    Call {
        name: "epoll_pwait2",
        number: 441,
        errnos: &[EPOLL_WAIT],
        make: |g| {
            let (mask, size) = mask(g);
            let (fd, out, max) = (epfd(g), g.out_pointer(), max_events(g));
            let timeout = g.short_timespec();
            Prepared::new(&[fd, out, max, timeout, mask, size])
        },
    },
];
