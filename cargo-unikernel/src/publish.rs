//! `run --publish HOST:GUEST`: guest TCP ports forwarded from the host's loopback, as
//! `docker run -p` publishes them, and `run --net`: the QEMU network that carries them.
//!
//! Network safety: the host side of every forward is 127.0.0.1 only, and by default
//! the user network runs with `restrict=on` (QEMU: the guest reaches neither the host
//! nor anything beyond; explicit forwards still work), so no traffic leaves the
//! machine. `--net user:host` lifts the restriction so that the guest can connect to
//! the host's loopback through the gateway 10.0.2.2 (QEMU then also routes the guest's
//! other connections out through the host, as docker's default network does).

use std::fmt;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::str::FromStr;

use anyhow::{Context, bail};

/// One forwarded port: connections (or datagrams, with `udp`) to 127.0.0.1:`host`
/// reach the guest's `guest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    pub host: u16,
    pub guest: u16,
    pub udp: bool,
}

impl FromStr for Publish {
    type Err = String;

    /// `HOST:GUEST` or `GUEST` (the same port on both sides), optionally `/tcp` or
    /// `/udp`.
    fn from_str(text: &str) -> Result<Publish, String> {
        let (ports, udp) = match text.rsplit_once('/') {
            Some((ports, "tcp")) => (ports, false),
            Some((ports, "udp")) => (ports, true),
            Some((_, protocol)) => return Err(format!("unknown protocol `{protocol}`")),
            None => (text, false),
        };
        let port = |word: &str| match word.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("`{word}` is not a port (1-65535)")),
            Ok(port) => Ok(port),
        };
        match ports.split_once(':') {
            Some((host, guest)) => Ok(Publish {
                host: port(host)?,
                guest: port(guest)?,
                udp,
            }),
            None => {
                let same = port(ports)?;
                Ok(Publish {
                    host: same,
                    guest: same,
                    udp,
                })
            }
        }
    }
}

impl fmt::Display for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = if self.udp { "UDP" } else { "TCP" };
        write!(
            f,
            "127.0.0.1:{} -> guest {protocol} port {}",
            self.host, self.guest
        )
    }
}

/// `run --net`: which network the guest gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// QEMU's user network, isolated: a device only when ports are published.
    #[default]
    User,
    /// QEMU's user network, with the host's loopback reachable at 10.0.2.2; always a
    /// device.
    UserHost,
    /// No network device (loopback only); nothing can be published.
    None,
}

impl FromStr for Network {
    type Err = String;

    /// `user`, `user:host`, `none`; `tap:IFNAME` is refused with why.
    fn from_str(text: &str) -> Result<Network, String> {
        match text {
            "user" => Ok(Network::User),
            "user:host" => Ok(Network::UserHost),
            "none" => Ok(Network::None),
            _ if text.starts_with("tap:") => Err(
                "tap networking is not supported: it needs a host interface and privileges; \
                 use `--net user` with `--publish`"
                    .into(),
            ),
            _ => Err(format!(
                "unknown network `{text}` (expected user, user:host or none)"
            )),
        }
    }
}

/// What `run` says about how the guest reaches the host, beyond the forwards.
pub fn host_route(network: Network) -> Option<&'static str> {
    (network == Network::UserHost).then_some("guest reaches this host's 127.0.0.1 at 10.0.2.2")
}

/// Fails if ports are published on a network that cannot carry them.
pub fn check_network(network: Network, publish: &[Publish]) -> anyhow::Result<()> {
    if network == Network::None && !publish.is_empty() {
        bail!("--publish needs a network device: not with `--net none`");
    }
    // QEMU's restrict=on drops the guest's answers to a forwarded UDP port (they are
    // datagrams from the guest to the host, which restrict=on forbids).
    if network == Network::User
        && let Some(udp) = publish.iter().find(|p| p.udp)
    {
        bail!(
            "--publish {}:{}/udp needs `--net user:host`: the isolated network drops the \
             guest's UDP answers",
            udp.host,
            udp.guest
        );
    }
    Ok(())
}

/// QEMU's `-netdev` and `-device` arguments for `network` and these forwards (none
/// for an isolated network without any).
pub fn qemu_network(network: Network, publish: &[Publish]) -> Vec<String> {
    let restrict = match network {
        Network::None => return Vec::new(),
        Network::User if publish.is_empty() => return Vec::new(),
        Network::User => ",restrict=on",
        Network::UserHost => "",
    };
    let mut netdev = format!("user,id=net0{restrict}");
    for Publish { host, guest, udp } in publish {
        let protocol = if *udp { "udp" } else { "tcp" };
        netdev.push_str(&format!(",hostfwd={protocol}:127.0.0.1:{host}-:{guest}"));
    }
    vec![
        "-netdev".into(),
        netdev,
        "-device".into(),
        "virtio-net-device,netdev=net0".into(),
    ]
}

/// Fails if a host port is published twice (per protocol) or is already taken on
/// 127.0.0.1 (QEMU would fail later with a less clear message).
pub fn check_host_ports(publish: &[Publish]) -> anyhow::Result<()> {
    for (i, entry) in publish.iter().enumerate() {
        let protocol = if entry.udp { "UDP" } else { "TCP" };
        if publish[..i]
            .iter()
            .any(|other| other.host == entry.host && other.udp == entry.udp)
        {
            bail!(
                "--publish: {protocol} host port {} is published twice",
                entry.host
            );
        }
        let taken = || {
            format!(
                "--publish: {protocol} host port 127.0.0.1:{} is taken",
                entry.host
            )
        };
        if entry.udp {
            UdpSocket::bind((Ipv4Addr::LOCALHOST, entry.host)).with_context(taken)?;
        } else {
            TcpListener::bind((Ipv4Addr::LOCALHOST, entry.host)).with_context(taken)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: u16, guest: u16) -> Publish {
        Publish {
            host,
            guest,
            udp: false,
        }
    }

    #[test]
    fn publish_forms() {
        let p = |s: &str| s.parse::<Publish>();
        assert_eq!(p("8080:80"), Ok(tcp(8080, 80)));
        assert_eq!(p("80/tcp"), Ok(tcp(80, 80)));
        assert_eq!(
            p("5353:53/udp"),
            Ok(Publish {
                host: 5353,
                guest: 53,
                udp: true
            })
        );
        assert!(p("0:80").is_err());
        assert!(p("70000").is_err());
        assert!(p("a:b").is_err());
        assert!(p("1:2/sctp").is_err());
    }

    #[test]
    fn forwards_listen_on_loopback_only() {
        let args = qemu_network(Network::User, &[tcp(8080, 80), tcp(2222, 22)]);
        assert_eq!(
            args,
            [
                "-netdev",
                "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:2222-:22",
                "-device",
                "virtio-net-device,netdev=net0"
            ]
        );
        assert!(qemu_network(Network::User, &[]).is_empty());
    }

    #[test]
    fn taken_or_repeated_host_ports_are_refused() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = check_host_ports(&[tcp(port, 1)]).unwrap_err();
        assert!(format!("{err:#}").contains("is taken"), "{err:#}");
        drop(taken);
        let twice = [tcp(port, 1), tcp(port, 2)];
        assert!(check_host_ports(&twice).is_err());
    }

    #[test]
    fn udp_forwards_and_ports() {
        let dns = "5353:53/udp".parse::<Publish>().unwrap();
        let args = qemu_network(Network::User, &[tcp(5353, 53), dns]);
        assert_eq!(
            args[1],
            "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:5353-:53,hostfwd=udp:127.0.0.1:5353-:53"
        );
        assert_eq!(dns.to_string(), "127.0.0.1:5353 -> guest UDP port 53");
        let taken = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let udp = Publish {
            host: port,
            guest: 1,
            udp: true,
        };
        let err = check_host_ports(&[udp]).unwrap_err();
        assert!(format!("{err:#}").contains("UDP host port"), "{err:#}");
        drop(taken);
        // The same number for TCP and for UDP is two ports.
        assert!(check_host_ports(&[udp, tcp(port, 1)]).is_ok());
        assert!(check_host_ports(&[udp, udp]).is_err());
    }

    #[test]
    fn networks() {
        assert_eq!("user".parse(), Ok(Network::User));
        assert_eq!("user:host".parse(), Ok(Network::UserHost));
        assert_eq!("none".parse(), Ok(Network::None));
        assert!(
            "tap:tap0"
                .parse::<Network>()
                .unwrap_err()
                .contains("not supported")
        );
        assert!("bridge".parse::<Network>().is_err());
        let web = [tcp(8080, 80)];
        assert!(qemu_network(Network::User, &[]).is_empty());
        assert!(qemu_network(Network::None, &[]).is_empty());
        assert!(check_network(Network::None, &web).is_err());
        let dns = "53/udp".parse::<Publish>().unwrap();
        assert!(check_network(Network::User, &[dns]).is_err());
        assert!(check_network(Network::UserHost, &[dns]).is_ok());
        let open = qemu_network(Network::UserHost, &[]);
        assert_eq!(open[1], "user,id=net0");
        let open = qemu_network(Network::UserHost, &web);
        assert_eq!(open[1], "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80");
        assert!(host_route(Network::UserHost).unwrap().contains("10.0.2.2"));
        assert_eq!(host_route(Network::User), None);
    }
}
