//! `poll_oneoff`: clock subscriptions, and readiness of descriptors.
//!
//! Files of the namespace are always ready, as regular files are in POSIX
//! (a read of a capability response may then block, bounded by the run's
//! deadline); stdin reports the bytes it holds. When no descriptor is ready
//! the call sleeps until the earliest clock subscription fires, or until the
//! run's deadline, whichever is first.

use std::io::SeekFrom;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::abi::{Errno, clock, event, rights};
use super::call::{Cx, Fail, HostResult};
use super::fdtable::FdKind;
use super::{DeadlineReached, monotonic_anchor};

/// One subscription, decoded.
enum Sub {
    Clock { at: Instant },
    Fd { fd: u32, read: bool },
    Invalid(Errno),
}

/// One event to report.
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
}

fn encode(e: &Event) -> [u8; event::EVENT_SIZE as usize] {
    let mut out = [0u8; event::EVENT_SIZE as usize];
    out[0..8].copy_from_slice(&e.userdata.to_le_bytes());
    out[8..10].copy_from_slice(&e.error.0.to_le_bytes());
    out[10] = e.kind;
    out[16..24].copy_from_slice(&e.nbytes.to_le_bytes());
    out
}

fn clock_deadline(id: u32, timeout: u64, flags: u16) -> Result<Instant, Errno> {
    let now = Instant::now();
    let after = |d: Duration| {
        now.checked_add(d)
            .unwrap_or(now + Duration::from_secs(1 << 32))
    };
    if flags & event::ABSTIME == 0 {
        return match id {
            clock::REALTIME | clock::MONOTONIC | clock::PROCESS_CPUTIME | clock::THREAD_CPUTIME => {
                Ok(after(Duration::from_nanos(timeout)))
            }
            _ => Err(Errno::INVAL),
        };
    }
    match id {
        clock::MONOTONIC => {
            let elapsed = monotonic_anchor().elapsed();
            Ok(after(Duration::from_nanos(timeout).saturating_sub(elapsed)))
        }
        clock::REALTIME => {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Ok(after(Duration::from_nanos(timeout).saturating_sub(wall)))
        }
        _ => Err(Errno::INVAL),
    }
}

/// The `poll_oneoff` import.
pub(crate) fn poll_oneoff(cx: &mut Cx<'_>, subs: u32, events: u32, n: u32, out: u32) -> HostResult {
    if n == 0 {
        return Err(Errno::INVAL.into());
    }
    let mut decoded = Vec::with_capacity(n.min(64) as usize);
    for i in 0..n {
        let at = i
            .checked_mul(event::SUBSCRIPTION_SIZE)
            .and_then(|o| subs.checked_add(o))
            .ok_or(Errno::FAULT)?;
        // One bounds check for the whole subscription, then plain bytes.
        let raw = cx.mem.slice(at, event::SUBSCRIPTION_SIZE)?;
        let u16_at = |o: usize| u16::from_le_bytes([raw[o], raw[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[o..o + 8]);
            u64::from_le_bytes(b)
        };
        let userdata = u64_at(0);
        let tag = raw[8];
        let sub = match tag {
            event::CLOCK => match clock_deadline(u32_at(16), u64_at(24), u16_at(40)) {
                Ok(at) => Sub::Clock { at },
                Err(e) => Sub::Invalid(e),
            },
            event::FD_READ | event::FD_WRITE => Sub::Fd {
                fd: u32_at(16),
                read: tag == event::FD_READ,
            },
            _ => return Err(Errno::INVAL.into()),
        };
        decoded.push((userdata, tag, sub));
    }

    let mut ready = Vec::new();
    for (userdata, tag, sub) in &decoded {
        let (error, nbytes) = match sub {
            Sub::Clock { .. } => continue,
            Sub::Invalid(e) => (*e, 0),
            Sub::Fd { fd, read } => match readiness(cx, *fd, *read) {
                Ok(nbytes) => (Errno::SUCCESS, nbytes),
                Err(e) => (e, 0),
            },
        };
        ready.push(Event {
            userdata: *userdata,
            error,
            kind: *tag,
            nbytes,
        });
    }

    let earliest = decoded
        .iter()
        .filter_map(|(_, _, s)| match s {
            Sub::Clock { at } => Some(*at),
            _ => None,
        })
        .min();
    if ready.is_empty()
        && let Some(at) = earliest
    {
        let wake = match cx.h.deadline {
            Some(d) if d < at => d,
            _ => at,
        };
        let now = Instant::now();
        if wake > now {
            std::thread::sleep(wake - now);
        }
        if cx.h.deadline.is_some_and(|d| d <= Instant::now()) && at > Instant::now() {
            return Err(Fail::Trap(DeadlineReached.into()));
        }
    }
    let now = Instant::now();
    for (userdata, tag, sub) in &decoded {
        if let Sub::Clock { at } = sub
            && *at <= now
        {
            ready.push(Event {
                userdata: *userdata,
                error: Errno::SUCCESS,
                kind: *tag,
                nbytes: 0,
            });
        }
    }
    for (i, e) in ready.iter().enumerate() {
        let at = u32::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(event::EVENT_SIZE))
            .and_then(|o| events.checked_add(o))
            .ok_or(Errno::FAULT)?;
        cx.mem.write(at, &encode(e))?;
    }
    Ok(cx
        .mem
        .put_u32(out, u32::try_from(ready.len()).unwrap_or(u32::MAX))?)
}

/// Whether `fd` is ready, and how many bytes a read would find: `EBADF`
/// for a descriptor that cannot be read (or written), `ENOTCAPABLE` without
/// the rights to read (or write) it and to poll it.
fn readiness(cx: &mut Cx<'_>, fd: u32, read: bool) -> Result<u64, Errno> {
    let stdin_ready = cx.h.stdin.ready_bytes();
    let entry = cx.h.fds.get(fd)?;
    let needed = rights::POLL_FD_READWRITE
        | if read {
            rights::FD_READ
        } else {
            rights::FD_WRITE
        };
    let ready = match &mut entry.kind {
        FdKind::Stdin if read => stdin_ready,
        FdKind::Stdout | FdKind::Stderr if !read => 0,
        FdKind::File(f) if read => {
            let size = f.handle.stat().map(|m| m.size).unwrap_or(0);
            let pos = f.handle.seek(SeekFrom::Current(0)).unwrap_or(0);
            size.saturating_sub(pos)
        }
        FdKind::File(_) => 0,
        _ => return Err(Errno::BADF),
    };
    entry.rights.require(needed)?;
    Ok(ready)
}
