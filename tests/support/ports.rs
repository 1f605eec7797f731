//! A loopback port that refuses connections, held for as long as a test needs it.
//!
//! Picking a free port and releasing it races with every other test binary binding port 0:
//! the port can be taken before the test uses it, and "refused" becomes some other server's
//! answer. Here the port stays bound by a socket that never listens, so the kernel answers
//! every connection with a reset, and nothing else can take it. The socket has SO_REUSEADDR,
//! so a test server that sets it too can later bind the same port and listen ("the server
//! comes back").

use std::os::fd::{FromRawFd, OwnedFd};

pub struct RefusedPort {
    /// Closed on drop, which frees the port.
    _socket: OwnedFd,
    pub port: u16,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        // SAFETY: plain socket calls on a descriptor this function owns from creation on;
        // every argument points at a live, correctly sized value.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let socket = OwnedFd::from_raw_fd(fd);
            let one: libc::c_int = 1;
            let set = libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            assert_eq!(set, 0, "SO_REUSEADDR: {}", std::io::Error::last_os_error());
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let named =
                libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len);
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            RefusedPort {
                port: u16::from_be(addr.sin_port),
                _socket: socket,
            }
        }
    }
}

/// A host name that fails to resolve without a query leaving the machine: its first label,
/// `tag` and 64 more letters, is longer than DNS allows (63 bytes), so the system resolver
/// refuses the name itself. A plain `.invalid` name is still asked of the configured
/// nameserver: traffic off the loopback, and on a busy machine an answer slower than a test's
/// timeout.
pub fn unresolvable_host(tag: &str) -> String {
    format!("{tag}{}.invalid", "x".repeat(64))
}
