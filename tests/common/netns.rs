//! A private network namespace whose TCP carries no timestamps, as lwIP's
//! does (the stack under RopeScore's MicroPython firmware builds with
//! `LWIP_TCP_TIMESTAMPS` off). A test that reproduces such a device's wire
//! behaviour runs its server and clients in here: a Linux client would
//! negotiate timestamps, and with them Linux's PAWS checks, which the device
//! never has (see the non-reading clicker test in `tests/clicker.rs`).
//!
//! Needs CAP_SYS_ADMIN and CAP_NET_ADMIN (root, as `.ci/run` runs). The
//! namespace has only its own loopback, so a test in it cannot reach the
//! suite's PostgreSQL: use it for tests of the wire, on SQLite.

use std::future::Future;

/// Runs `body` on a fresh tokio runtime inside a new network namespace with
/// its loopback up and `net.ipv4.tcp_timestamps` 0. Every socket the body
/// opens (the server's listener, its clients, HTTP) lives in that namespace:
/// a namespace belongs to the thread that made it and to the threads and
/// processes it starts, so the runtime's workers are started from there.
pub fn without_tcp_timestamps<F, Fut>(body: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare affects only this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            panic!(
                "this test models a device's TCP in its own network namespace, and \
                 unshare(CLONE_NEWNET) failed: {} (run the suite as root)",
                std::io::Error::last_os_error()
            );
        }
        loopback_up();
        // /proc/sys/net shows the opening thread's namespace.
        std::fs::write("/proc/sys/net/ipv4/tcp_timestamps", "0")
            .expect("turning TCP timestamps off in the test's namespace");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(body());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// `ip link set lo up`, without needing iproute2: a new namespace's
/// loopback starts down.
fn loopback_up() {
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _rest: [u8; 22],
    }
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _rest: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: a plain socket for the ioctls, closed below; `req` is laid out
    // as the kernel's struct ifreq (name, then the flags of its union).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req), 0);
        req.flags |= libc::IFF_UP as libc::c_short;
        let up = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(up, 0, "bringing the namespace's loopback up: {error}");
    }
}
