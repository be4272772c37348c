//! Listening sockets' backlogs, owned by the stack so that it can top them up between
//! two received frames.
//!
//! smoltcp has no backlog: one of its sockets listens for one connection, and a SYN
//! that finds no socket listening is answered with a reset. A backlog therefore keeps
//! up to [`LISTENING`] smoltcp sockets listening on its port and, once one of them
//! takes a SYN, puts a fresh one in its place at once (the stack calls
//! [`Stack::top_up_backlogs`] after every frame), as long as the connections not yet
//! accepted stay under `listen(2)`'s backlog. A burst of SYNs, as a load generator
//! sends them, then queues up to the backlog like Linux's, instead of being reset
//! after the first few.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use smoltcp::socket::tcp::State as TcpState;
use smoltcp::wire::IpListenEndpoint;

use super::{Options, new_socket};
use crate::errno::Errno;
use crate::net::{Handle, Net, Stack};

/// smoltcp sockets listening at once per interface of one backlog: as many SYNs as
/// one frame burst between two top-ups can bring.
const LISTENING: usize = 8;
/// The largest backlog (Linux's `somaxconn` default).
pub const SOMAXCONN: usize = 4096;

/// One listening socket's smoltcp sockets.
#[derive(Debug)]
pub struct Backlog {
    endpoint: IpListenEndpoint,
    nets: &'static [Net],
    /// `listen(2)`'s backlog: the most connections not yet accepted, per interface.
    limit: usize,
    options: Options,
    /// Listening sockets and connections not yet accepted, oldest first.
    handles: Vec<Handle>,
}

/// Every backlog, by the key its listening socket holds.
#[derive(Debug, Default)]
pub struct Backlogs {
    next: u64,
    by_key: BTreeMap<u64, Backlog>,
}

/// Whether a backlog's socket has finished its handshake (or already ended: accept
/// hands out a connection reset before it was accepted too, as Linux does).
fn ready(state: TcpState) -> bool {
    !matches!(state, TcpState::Listen | TcpState::SynReceived)
}

impl Stack {
    /// A new backlog of `limit` for `endpoint` on `nets`: its key.
    pub(super) fn open_backlog(
        &mut self,
        endpoint: IpListenEndpoint,
        nets: &'static [Net],
        limit: usize,
        options: Options,
    ) -> Result<u64, Errno> {
        let key = self.backlogs.next;
        self.backlogs.next += 1;
        let backlog = Backlog {
            endpoint,
            nets,
            limit: limit.clamp(1, SOMAXCONN),
            options,
            handles: Vec::new(),
        };
        self.backlogs.by_key.insert(key, backlog);
        self.top_up_backlogs();
        let listening = self.backlogs.by_key[&key].handles.len();
        if listening == 0 {
            self.close_backlog(key);
            return Err(Errno::EINVAL);
        }
        Ok(key)
    }

    /// A second `listen(2)`: the new backlog, and the options new connections get.
    pub(super) fn resize_backlog(&mut self, key: u64, limit: usize, options: Options) {
        if let Some(backlog) = self.backlogs.by_key.get_mut(&key) {
            backlog.limit = limit.clamp(1, SOMAXCONN);
            backlog.options = options;
        }
        self.top_up_backlogs();
    }

    /// Whether a connection waits to be accepted.
    pub(super) fn backlog_ready(&self, key: u64) -> bool {
        self.backlogs.by_key.get(&key).is_some_and(|backlog| {
            backlog
                .handles
                .iter()
                .any(|&handle| ready(self.tcp(handle).state()))
        })
    }

    /// The oldest connection waiting to be accepted, out of the backlog.
    pub(super) fn accept_from(&mut self, key: u64) -> Option<Handle> {
        let backlog = self.backlogs.by_key.get(&key)?;
        let index = backlog
            .handles
            .iter()
            .position(|&handle| ready(self.tcp(handle).state()))?;
        let handle = self.backlogs.by_key.get_mut(&key)?.handles.remove(index);
        self.top_up_backlogs();
        Some(handle)
    }

    /// The listening socket's last descriptor closed: its connections not yet accepted
    /// are reset, as Linux resets them.
    pub(super) fn close_backlog(&mut self, key: u64) {
        if let Some(backlog) = self.backlogs.by_key.remove(&key) {
            for handle in backlog.handles {
                self.tcp_mut(handle).abort();
                self.closing.push(handle);
            }
        }
    }

    /// Puts fresh listening sockets where SYNs took them, within each backlog.
    pub(crate) fn top_up_backlogs(&mut self) {
        let mut backlogs = core::mem::take(&mut self.backlogs.by_key);
        for backlog in backlogs.values_mut() {
            for &net in backlog.nets {
                let (mut listening, mut waiting) = (0, 0);
                for &handle in backlog.handles.iter().filter(|h| h.net == net) {
                    match self.tcp(handle).state() {
                        TcpState::Listen => listening += 1,
                        _ => waiting += 1,
                    }
                }
                while listening < LISTENING && waiting < backlog.limit {
                    let mut socket = new_socket();
                    super::apply_options(&backlog.options, &mut socket);
                    if socket.listen(backlog.endpoint).is_err() {
                        break;
                    }
                    backlog.handles.push(self.add(net, socket));
                    listening += 1;
                }
            }
        }
        self.backlogs.by_key = backlogs;
    }
}
