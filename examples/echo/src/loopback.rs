//! `echo loopback LINES`: a server thread and a client thread in one program over
//! 127.0.0.1, no network device needed. The server binds 127.0.0.1:0 and echoes one
//! connection's lines; the client sends LINES lines and checks each echo. Then a
//! connect to a port nobody listens on (refused) and a bind to an address no
//! interface has (not available). Prints only what does not vary between runs.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;

pub fn run(lines: usize) -> std::io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let address = listener.local_addr()?;
    println!("listening on {}", address.ip());
    let server = thread::spawn(move || -> std::io::Result<(SocketAddr, usize)> {
        let (stream, peer) = listener.accept()?;
        Ok((peer, super::echo_lines(stream)?))
    });
    let client = thread::spawn(move || -> std::io::Result<SocketAddr> {
        let stream = TcpStream::connect(address)?;
        let local = stream.local_addr()?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let mut echoed = String::new();
        for i in 0..lines {
            let line = format!("line {i} {}", "y".repeat(i * 37 % 3000));
            writeln!(writer, "{line}")?;
            echoed.clear();
            reader.read_line(&mut echoed)?;
            if echoed.strip_suffix('\n') != Some(line.as_str()) {
                return Err(std::io::Error::other(format!(
                    "sent {line:?}, got {echoed:?}"
                )));
            }
        }
        Ok(local)
    });
    let local = client.join().expect("client thread panicked")?;
    let (peer, served) = server.join().expect("server thread panicked")?;
    println!("client {lines} lines echoed");
    println!("server served {served} lines");
    println!("peer seen by the server is the client: {}", peer == local);
    println!("peer address {}", peer.ip());

    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?;
    match TcpStream::connect(closed) {
        Err(error) => println!("connect to a closed port: {:?}", error.kind()),
        Ok(_) => println!("connect to a closed port: connected"),
    }
    match TcpListener::bind((Ipv4Addr::new(192, 0, 2, 1), 0)) {
        Err(error) if error.kind() == ErrorKind::AddrNotAvailable => {
            println!("bind 192.0.2.1: address not available")
        }
        Err(error) => println!("bind 192.0.2.1: {error}"),
        Ok(_) => println!("bind 192.0.2.1: bound"),
    }
    Ok(())
}
