//! A clicker on a venue's wifi: the server (or the network) stalls while the
//! device goes on sending SCOREs at an honest pace, and the frames that
//! piled up arrive together when it resumes. The rate limit must not take
//! them for a burst (`src/limits.rs` judges a SCORE by its timestamp too).
//! Here the stall is real: the `podium` binary is stopped with SIGSTOP for
//! 8 s, with its default limits (200 frames a second, bursts of 400), while
//! an Espruino-like device (raw WebSocket, `Origin: Espruino`, `Date.now()|0`
//! timestamps that wrap to negative during the stall) sends a SCORE every
//! 10 ms. Before the fix about half of the 800-frame backlog was refused
//! with `ERROR rate limit exceeded`.

mod common;

use std::time::Duration;

use common::raw::{self, RawWs};
use common::ChildServer;
use tokio::time::Instant;

/// The device's pace: a SCORE every 10 ms, half the default rate.
const PACE: Duration = Duration::from_millis(10);
/// How long the server is stopped.
const STALL: Duration = Duration::from_secs(8);
/// SCOREs sent (and acknowledged) before the stall, and after it.
const BEFORE: u64 = 100;
const AFTER: u64 = 100;

/// `Date.now() | 0` of the Espruino firmware, for a clock reading `ms`.
fn espruino_clock(ms: i64) -> i64 {
    i64::from(ms as i32)
}

fn signal(server: &ChildServer, signal: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    let done = unsafe { libc::kill(server.child.id() as libc::pid_t, signal) };
    assert_eq!(done, 0, "signal {signal} to the server");
}

/// What the device has heard back.
#[derive(Default)]
struct Replies {
    scored: Vec<i64>,
    errors: Vec<String>,
}

impl Replies {
    fn take(&mut self, frame: raw::Frame) {
        match frame.opcode {
            raw::TEXT => {
                let text = frame.text();
                match text.strip_prefix("SCORED ") {
                    Some(rest) => {
                        let ts = rest.split(' ').nth(1).expect("SCORED <msgId> <ts>");
                        self.scored.push(ts.parse().unwrap());
                    }
                    None => self.errors.push(text),
                }
            }
            raw::PING => {}
            _ => panic!("the server sent {frame:?}"),
        }
    }
}

/// Sends SCOREs `range` one [`PACE`] apart at least (a late one is not
/// made up for: a device sends each click as it happens), stamped with the
/// device's clock, reading replies between them when `reading`.
async fn send_paced(
    device: &mut RawWs,
    replies: &mut Replies,
    range: std::ops::Range<u64>,
    clock: &mut impl FnMut() -> i64,
    reading: bool,
) {
    for n in range {
        let ts = clock();
        device.send_text(&format!("SCORE {n} {ts} {n}")).await;
        let next = Instant::now() + PACE;
        if reading {
            while let Some(frame) = device
                .next_frame(next.saturating_duration_since(Instant::now()))
                .await
            {
                replies.take(frame);
            }
        }
        tokio::time::sleep_until(next).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_sent_at_an_honest_pace_through_a_stall_are_all_taken() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChildServer::start(dir.path()).await;
    let mut device = RawWs::open(server.addr, Some("Espruino"), None).await;
    device.send_text("REGISTER").await;
    let registered = device.recv_text().await;
    let id = registered.split(' ').nth(1).unwrap().to_string();

    // The device's clock: 2.5 s before `Date.now() | 0` wraps (2^31 * 809
    // ms after 1970), so that it wraps during the stall.
    let started = std::time::Instant::now();
    let wrap = (1i64 << 31) * 809;
    // Every click at its own millisecond: two SCOREs with one timestamp are
    // one score sent twice (the second is acknowledged, not stored).
    let mut newest = 0;
    let mut clock = move || {
        newest = (wrap - 2_500 + started.elapsed().as_millis() as i64).max(newest + 1);
        espruino_clock(newest)
    };
    let mut replies = Replies::default();

    send_paced(&mut device, &mut replies, 1..BEFORE + 1, &mut clock, true).await;
    while replies.scored.len() < BEFORE as usize && replies.errors.is_empty() {
        let frame = device.next_frame(common::PATIENCE).await;
        replies.take(frame.expect("the SCOREDs before the stall"));
    }
    assert_eq!(replies.errors, Vec::<String>::new());

    signal(&server, libc::SIGSTOP);
    let stalled = Instant::now();
    let during = ((STALL.as_millis() / PACE.as_millis()) as u64).max(1);
    let backlog = BEFORE + 1..BEFORE + 1 + during;
    send_paced(&mut device, &mut replies, backlog, &mut clock, false).await;
    tokio::time::sleep_until(stalled + STALL).await;
    signal(&server, libc::SIGCONT);

    let total = BEFORE + during + AFTER;
    let after = BEFORE + during + 1..total + 1;
    send_paced(&mut device, &mut replies, after, &mut clock, true).await;
    let last = clock();
    while replies.scored.len() < total as usize && replies.errors.is_empty() {
        let frame = device.next_frame(common::PATIENCE).await;
        let Some(frame) = frame else {
            panic!(
                "{} of {total} SCOREs answered after {:?}",
                replies.scored.len(),
                stalled.elapsed()
            );
        };
        replies.take(frame);
    }
    assert_eq!(
        replies.errors.first(),
        None,
        "{} SCOREs refused",
        replies.errors.len()
    );
    assert!(
        replies.scored[0] > 2_147_000_000 && last < -2_147_000_000,
        "the clock wrapped during the stall: {} .. {last}",
        replies.scored[0]
    );
    let stored = common::device_scores(server.addr, &id).await;
    assert_eq!(stored.len(), total as usize);
    eprintln!(
        "{total} SCOREs at one every {PACE:?}, {during} of them sent during a stall of {STALL:?}: \
         all acknowledged and stored, none refused"
    );
}
