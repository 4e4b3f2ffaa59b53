//! Ports the caller serves on the sandbox's own loopback: the command connects, the caller's
//! handler answers, and nothing outside the sandbox can reach them.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::sync::mpsc;
use std::time::Duration;

use oanix_sandbox::{Command, Exit, SandboxError};

use crate::support::{Capture, Root};

/// What a test's handlers report.
struct Served {
    /// A clone of each listener a handler was called with, sent first thing.
    clones: mpsc::Receiver<TcpListener>,
    /// For each connection: the port it came in on and the line the client sent.
    lines: mpsc::Receiver<(u16, String)>,
}

/// Makes handlers that send a clone of their listener, then answer every connection's
/// first line with `reply` until the listener is shut down.
struct Handlers {
    clones: mpsc::Sender<TcpListener>,
    lines: mpsc::Sender<(u16, String)>,
}

fn handlers() -> (Handlers, Served) {
    let (clones_tx, clones) = mpsc::channel();
    let (lines_tx, lines) = mpsc::channel();
    (
        Handlers {
            clones: clones_tx,
            lines: lines_tx,
        },
        Served { clones, lines },
    )
}

impl Handlers {
    fn answer(&self, reply: &'static str) -> impl FnOnce(TcpListener) + Send + 'static {
        let clones = self.clones.clone();
        let lines = self.lines.clone();
        move |listener| {
            let port = listener.local_addr().unwrap().port();
            clones.send(listener.try_clone().unwrap()).unwrap();
            drop(clones);
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap();
                lines.send((port, line)).unwrap();
                stream.write_all(reply.as_bytes()).unwrap();
            }
        }
    }
}

impl Served {
    /// Stops every handler that was called (waiting until each was called or dropped);
    /// returns the addresses they listened on, and the lines they got.
    fn stop(self) -> (Vec<String>, Vec<(u16, String)>) {
        let mut addresses = Vec::new();
        for clone in self.clones {
            addresses.push(clone.local_addr().unwrap().to_string());
            TcpStream::from(OwnedFd::from(clone))
                .shutdown(Shutdown::Both)
                .unwrap();
        }
        addresses.sort();
        (addresses, self.lines.try_iter().collect())
    }
}

/// A Python program that sends `ping` to each port and prints the first line it gets.
fn client(ports: &[u16]) -> String {
    format!(
        "import socket\n\
         for port in {ports:?}:\n    \
             s = socket.create_connection(('127.0.0.1', port), timeout=30)\n    \
             s.sendall(b'ping\\n')\n    \
             print(port, s.makefile().readline(), end='')\n"
    )
}

fn python_command(program: &str, out: &Capture, err: &Capture) -> Command {
    Command::new("python3")
        .args(["-c", program])
        .stdout(out.clone())
        .stderr(err.clone())
}

#[test]
fn a_handler_answers_the_command_on_the_sandbox_loopback() {
    let root = Root::new();
    let (handlers, served) = handlers();
    let (out, err) = (Capture::default(), Capture::default());
    // The command also tries to take the port itself, and looks for inherited sockets.
    let program = format!(
        "import os, socket\n\
         leaked = [f for f in os.listdir('/proc/self/fd') if f not in ('0', '1', '2')\n          \
                   and os.path.exists('/proc/self/fd/' + f)]\n\
         print('inherited', leaked)\n\
         for host in ('127.0.0.1', '0.0.0.0'):\n    \
             t = socket.socket()\n    \
             t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    \
             try:\n        t.bind((host, 8080)); print('BOUND', host)\n    \
             except OSError as e:\n        print('bind', host, e.errno)\n\
         {}",
        client(&[8080])
    );
    let command = python_command(&program, &out, &err).listen(8080, handlers.answer("pong\n"));
    drop(handlers);
    let outcome = root.sandbox().run(command).unwrap();
    let (addresses, lines) = served.stop();
    assert_eq!(outcome.exit, Exit::Code(0), "{}", err.text());
    assert_eq!(
        out.text(),
        "inherited []\nbind 127.0.0.1 98\nbind 0.0.0.0 98\n8080 pong\n",
        "{}",
        err.text()
    );
    assert_eq!(addresses, ["127.0.0.1:8080"]);
    assert_eq!(lines, [(8080, "ping\n".to_owned())]);
}

#[test]
fn two_ports_have_two_handlers() {
    let root = Root::new();
    let (handlers, served) = handlers();
    let (out, err) = (Capture::default(), Capture::default());
    let command = python_command(&client(&[9090, 8080, 9090]), &out, &err)
        .listen(8080, handlers.answer("eighty-eighty\n"))
        .listen(9090, handlers.answer("ninety-ninety\n"));
    drop(handlers);
    let outcome = root.sandbox().run(command).unwrap();
    let (addresses, mut lines) = served.stop();
    assert_eq!(outcome.exit, Exit::Code(0), "{}", err.text());
    assert_eq!(
        out.text(),
        "9090 ninety-ninety\n8080 eighty-eighty\n9090 ninety-ninety\n"
    );
    assert_eq!(addresses, ["127.0.0.1:8080", "127.0.0.1:9090"]);
    lines.sort();
    assert_eq!(
        lines,
        [
            (8080, "ping\n".to_owned()),
            (9090, "ping\n".to_owned()),
            (9090, "ping\n".to_owned())
        ]
    );
}

#[test]
fn a_connection_waits_in_the_queue_until_the_handler_accepts() {
    let root = Root::new();
    let (connected_tx, connected) = mpsc::channel::<()>();
    let (clone_tx, clones) = mpsc::channel();
    // The handler accepts only once the command has said it is connected.
    let handler = move |listener: TcpListener| {
        clone_tx.send(listener.try_clone().unwrap()).unwrap();
        drop(clone_tx);
        if connected.recv_timeout(Duration::from_secs(60)).is_err() {
            return;
        }
        if let Ok((mut stream, _)) = listener.accept() {
            stream.write_all(b"late\n").unwrap();
        }
    };
    let out = Capture::default();
    let err = Capture::default();
    let signal = FirstLine {
        capture: out.clone(),
        first: Some(connected_tx),
    };
    let command = Command::new("python3")
        .args([
            "-c",
            "import socket, sys\n\
             s = socket.create_connection(('127.0.0.1', 7000), timeout=30)\n\
             print('connected', flush=True)\n\
             print(s.makefile().readline(), end='')\n",
        ])
        .stdout(signal)
        .stderr(err.clone())
        .listen(7000, handler);
    let outcome = root.sandbox().run(command).unwrap();
    for clone in clones {
        TcpStream::from(OwnedFd::from(clone))
            .shutdown(Shutdown::Both)
            .unwrap();
    }
    assert_eq!(outcome.exit, Exit::Code(0), "{}", err.text());
    assert_eq!(out.text(), "connected\nlate\n");
}

/// A sink that tells the test when the first bytes arrive.
struct FirstLine {
    capture: Capture,
    first: Option<mpsc::Sender<()>>,
}

impl Write for FirstLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.capture.write_all(buf)?;
        if let Some(first) = self.first.take() {
            let _ = first.send(());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_host_cannot_reach_the_sandbox_port() {
    // A port free on the host's loopback: bound by the kernel's choice, then let go.
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let root = Root::new();
    let (clone_tx, clones) = mpsc::channel();
    let (seen_tx, seen) = mpsc::channel();
    // While the sandbox listens on the port, the handler — a host thread — tries the
    // host's 127.0.0.1:PORT, then answers the command with what it got.
    let handler = move |listener: TcpListener| {
        clone_tx.send(listener.try_clone().unwrap()).unwrap();
        drop(clone_tx);
        let from_host = TcpStream::connect(("127.0.0.1", port));
        let kind = from_host.as_ref().map_err(std::io::Error::kind).err();
        seen_tx.send(kind).unwrap();
        if let Ok((mut stream, _)) = listener.accept() {
            stream.write_all(format!("{kind:?}\n").as_bytes()).unwrap();
        }
    };
    let (out, err) = (Capture::default(), Capture::default());
    let program = format!(
        "import socket\n\
         s = socket.create_connection(('127.0.0.1', {port}), timeout=30)\n\
         print(s.makefile().readline(), end='')\n"
    );
    let command = python_command(&program, &out, &err).listen(port, handler);
    let outcome = root.sandbox().run(command).unwrap();
    for clone in clones {
        TcpStream::from(OwnedFd::from(clone))
            .shutdown(Shutdown::Both)
            .unwrap();
    }
    assert_eq!(outcome.exit, Exit::Code(0), "{}", err.text());
    assert_eq!(
        seen.recv().unwrap(),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(out.text(), "Some(ConnectionRefused)\n");
    // And after the run, as before it.
    let after = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.kind());
    assert_eq!(after.err(), Some(std::io::ErrorKind::ConnectionRefused));
}

#[test]
fn a_duplicate_port_or_port_zero_is_refused_and_no_handler_is_called() {
    let root = Root::new();
    let sandbox = root.sandbox();
    let cases: [(&[u16], &str); 3] = [
        (
            &[8080, 9090, 8080],
            "invalid sandbox configuration: port 8080 is given to listen on twice",
        ),
        (
            &[0],
            "invalid sandbox configuration: cannot listen on port 0 inside the sandbox: \
             give a port from 1 to 65535",
        ),
        (
            &[80, 80],
            "invalid sandbox configuration: port 80 is given to listen on twice",
        ),
    ];
    for (ports, expected) in cases {
        let (called_tx, called) = mpsc::channel::<u16>();
        let command = ports.iter().fold(Command::new("true"), |command, port| {
            let called_tx = called_tx.clone();
            let port = *port;
            command.listen(port, move |_| called_tx.send(port).unwrap())
        });
        drop(called_tx);
        let error = sandbox.run(command).unwrap_err();
        assert!(matches!(error, SandboxError::InvalidConfig(_)), "{error}");
        assert_eq!(error.to_string(), expected);
        // Every handler was dropped without being called.
        assert_eq!(called.recv(), Err(mpsc::RecvError));
    }
    assert_eq!(root.processes(), Vec::<u32>::new());
}

#[test]
fn a_privileged_port_works_and_the_command_cannot_take_one() {
    let root = Root::new();
    let (handlers, served) = handlers();
    let (out, err) = (Capture::default(), Capture::default());
    let program = format!(
        "import socket\n\
         t = socket.socket()\n\
         for port in (80, 81):\n    \
             try:\n        t.bind(('127.0.0.1', port)); print('BOUND', port)\n    \
             except OSError as e:\n        print('bind', port, e.errno)\n\
         {}",
        client(&[80])
    );
    let command = python_command(&program, &out, &err).listen(80, handlers.answer("http\n"));
    drop(handlers);
    let outcome = root.sandbox().run(command).unwrap();
    let (addresses, lines) = served.stop();
    assert_eq!(outcome.exit, Exit::Code(0), "{}", err.text());
    // 13: EACCES, the command has no capability to bind below 1024.
    assert_eq!(out.text(), "bind 80 13\nbind 81 13\n80 http\n");
    assert_eq!(addresses, ["127.0.0.1:80"]);
    assert_eq!(lines, [(80, "ping\n".to_owned())]);
}

#[test]
fn handlers_are_dropped_when_the_sandbox_fails_before_listening() {
    let root = Root::new();
    // A link where /proc belongs stops the run while the mounts are built.
    symlink("/tmp", root.path().join("proc")).unwrap();
    let (called_tx, called) = mpsc::channel::<u16>();
    let command = Command::new("true").listen(8080, move |_| called_tx.send(8080).unwrap());
    let error = root.sandbox().run(command).unwrap_err();
    assert!(matches!(error, SandboxError::Setup { .. }), "{error}");
    assert!(error.to_string().contains("/proc"), "{error}");
    assert_eq!(called.recv(), Err(mpsc::RecvError));
}

#[test]
fn a_handler_is_called_even_when_the_command_is_then_not_found() {
    let root = Root::new();
    let (handlers, served) = handlers();
    let command = Command::new("no-such-program").listen(8080, handlers.answer("x\n"));
    drop(handlers);
    let error = root.sandbox().run(command).unwrap_err();
    assert!(
        matches!(error, SandboxError::CommandNotFound { .. }),
        "{error}"
    );
    // The caller still has a listener to stop.
    let (addresses, lines) = served.stop();
    assert_eq!(addresses, ["127.0.0.1:8080"]);
    assert!(lines.is_empty());
}
