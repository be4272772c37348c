//! The stack's progress: frames in and out of both interfaces, one at a time, with the
//! listening backlogs topped up between two frames ([`super::tcp::Backlogs`]), and smoltcp's
//! timers. Every loop is bounded: a flood of frames cannot keep the caller here.

use smoltcp::iface::{PollIngressSingleResult, PollResult};

use super::{Link, Stack, now};

impl Stack {
    /// Packets in and out of both interfaces, timers; wakes waiters if a socket
    /// changed. Frame by frame, with the listening backlogs topped up after each (a
    /// burst of SYNs finds a listening socket for every one the backlog has room for).
    pub fn poll(&mut self) {
        let mut changed = false;
        self.lo.iface.poll_maintenance(now());
        // Bounded: a flood of packets cannot keep the caller here for ever.
        for _ in 0..64 {
            for _ in 0..64 {
                let Some(change) = self.lo.ingress_one() else {
                    break;
                };
                changed |= change;
                self.top_up_backlogs();
            }
            changed |= self.lo.egress();
            if !self.lo.device.has_packet() {
                break;
            }
        }
        if let Some(eth) = &mut self.eth {
            eth.link.iface.poll_maintenance(now());
            if let Some(line) = &eth.line {
                line.take();
                eth.link.device.ack_interrupt();
            }
        }
        for round in 0..64 {
            let Some(eth) = &mut self.eth else {
                break;
            };
            let frame = eth.link.ingress_one();
            // An edge that came while the line was masked is lost: unmask only after
            // the first look at the device, and look again until it is empty.
            if round == 0
                && let Some(line) = &eth.line
            {
                line.unmask();
            }
            let Some(change) = frame else {
                break;
            };
            changed |= change;
            self.top_up_backlogs();
        }
        if let Some(eth) = &mut self.eth {
            changed |= eth.link.egress();
        }
        self.reap();
        if changed {
            self.changed();
        }
    }
}

impl<D: smoltcp::phy::Device> Link<D> {
    /// One received frame through the interface: `None` if none waited, else whether
    /// a socket changed.
    fn ingress_one(&mut self) -> Option<bool> {
        match self
            .iface
            .poll_ingress_single(now(), &mut self.device, &mut self.sockets)
        {
            PollIngressSingleResult::None => None,
            PollIngressSingleResult::PacketProcessed => Some(false),
            PollIngressSingleResult::SocketStateChanged => Some(true),
        }
    }

    /// What the sockets have to send, sent (bounded by the sockets' windows, as in
    /// smoltcp's own `poll`): whether a socket changed.
    fn egress(&mut self) -> bool {
        let mut changed = false;
        while self
            .iface
            .poll_egress(now(), &mut self.device, &mut self.sockets)
            == PollResult::SocketStateChanged
        {
            changed = true;
        }
        changed
    }
}
