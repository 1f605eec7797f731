//! The process's file descriptor limit.
//!
//! Every connection, feed poll, database file and `.eml` file costs a descriptor, and the
//! soft limit a service starts with is often 1,024 while the hard limit is far higher. The
//! daemon raises its soft limit to the hard one at start, and the listener's connection cap
//! is fitted under whatever limit results (`http::connection_cap`), so the web side can
//! never take the descriptors polls and mail need.

/// The soft limit on open descriptors, if the system says.
pub fn descriptor_limit() -> Option<u64> {
    current().map(|(soft, _)| soft)
}

/// Raises the soft limit to the hard one; returns the soft limit before and after.
#[allow(clippy::unnecessary_cast)]
pub fn raise_descriptor_limit() -> std::io::Result<(u64, u64)> {
    let (soft, hard) = current().ok_or_else(std::io::Error::last_os_error)?;
    if soft >= hard {
        return Ok((soft, soft));
    }
    let raised = libc::rlimit {
        rlim_cur: hard as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((soft, current().map_or(hard, |(now, _)| now)))
}

/// The soft and hard limits; "unlimited" reads as `u64::MAX`.
// `rlim_t` is u64 on Linux but not on every target.
#[allow(clippy::unnecessary_cast)]
fn current() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    Some((limit.rlim_cur as u64, limit.rlim_max as u64))
}
