//! `echo udp DATAGRAMS`: std::net UDP over 127.0.0.1 with no device needed. A server
//! thread sends every datagram back to its sender; the client sends DATAGRAMS of
//! sizes up to 8000 bytes with `send_to` and checks each echo and its source. Then,
//! connected: `send`/`recv`, the names, a datagram from a stranger dropped, a short
//! buffer taking one datagram's head only, `peek_from`, a receive timeout, and a
//! `send` on an unconnected socket. Prints only what does not vary between runs.

use std::net::{Ipv4Addr, UdpSocket};
use std::thread;
use std::time::Duration;

pub fn run(datagrams: usize) -> std::io::Result<()> {
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let server_address = server.local_addr()?;
    println!("server on {}", server_address.ip());
    let echo = thread::spawn(move || -> std::io::Result<usize> {
        let mut buf = vec![0u8; 65536];
        let mut echoed = 0;
        loop {
            let (n, from) = server.recv_from(&mut buf)?;
            if &buf[..n] == b"quit" {
                return Ok(echoed);
            }
            server.send_to(&buf[..n], from)?;
            echoed += 1;
        }
    });

    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = vec![0u8; 65536];
    for i in 0..datagrams {
        let datagram: Vec<u8> = (0..(i * 397 % 8000) + 1).map(|b| (b + i) as u8).collect();
        client.send_to(&datagram, server_address)?;
        let (n, from) = client.recv_from(&mut buf)?;
        if buf[..n] != datagram[..] || from != server_address {
            return Err(std::io::Error::other(format!("datagram {i}: wrong echo")));
        }
    }
    println!("client {datagrams} datagrams echoed");

    match client.send(b"x") {
        Err(error) => println!("send unconnected: {error}"),
        Ok(_) => println!("send unconnected: sent"),
    }
    client.connect(server_address)?;
    println!(
        "peer is the server: {}",
        client.peer_addr()? == server_address
    );
    println!("local address {}", client.local_addr()?.ip());
    let stranger = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    stranger.send_to(b"from a stranger", client.local_addr()?)?;
    client.send(&[5u8; 100])?;
    let (n, from) = client.peek_from(&mut buf)?;
    println!(
        "peeked {n} bytes from the server: {}",
        from == server_address
    );
    let n = client.recv(&mut buf[..10])?;
    println!("short buffer took {n} bytes");
    client.send(b"next")?;
    let n = client.recv(&mut buf)?;
    println!(
        "next datagram whole: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    client.set_read_timeout(Some(Duration::from_millis(200)))?;
    match client.recv(&mut buf) {
        Err(error) => println!("receive with nothing sent: {:?}", error.kind()),
        Ok(n) => println!("receive with nothing sent: {n} bytes"),
    }
    client.send(b"quit")?;
    let echoed = echo.join().expect("server thread panicked")?;
    println!("server echoed {echoed} datagrams");
    Ok(())
}

/// `echo udp-serve`: sends each of `datagrams` datagrams back to its sender, then
/// prints how many bytes it echoed. A datagram `probe` is echoed without counting: a
/// client sends probes until one comes back, as a network that drops the first
/// datagrams (QEMU's user network does until it has resolved the guest's address)
/// needs.
pub fn serve(address: &str, port: u16, datagrams: usize) -> std::io::Result<()> {
    let socket = UdpSocket::bind((address, port))?;
    println!("listening on port {}", socket.local_addr()?.port());
    let mut buf = vec![0u8; 65536];
    let mut bytes = 0;
    let mut counted = 0;
    while counted < datagrams {
        let (n, from) = socket.recv_from(&mut buf)?;
        socket.send_to(&buf[..n], from)?;
        if &buf[..n] != b"probe" {
            counted += 1;
            bytes += n;
        }
    }
    println!("echoed {datagrams} datagrams, {bytes} bytes");
    Ok(())
}
