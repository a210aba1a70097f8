//! Fuzzes the clicker command parser with whatever text a WebSocket frame
//! can carry: it must never panic, whatever it accepts must format back to
//! the same command, and its refusals must stay short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podium::clicker::protocol::{parse_command, Draft, ServerMessage};

/// Error replies quote at most 32 characters of input, each at most a
/// 10-byte escape, so none is longer than this whatever the frame.
const MAX_ERROR_BYTES: usize = 512;

fuzz_target!(|data: &[u8]| {
    // The WebSocket layer closes the connection (1007) on text frames that
    // are not UTF-8, so only valid text ever reaches the parser.
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
    match parse_command(frame) {
        Ok(command) => assert_eq!(parse_command(&command.to_string()), Ok(command)),
        Err(e) => assert!(e.to_string().len() <= MAX_ERROR_BYTES, "{e}"),
    }
    // Clients (and the load generator) parse server frames with this.
    let _ = ServerMessage::parse(frame, Draft::One);
    let _ = ServerMessage::parse(frame, Draft::Two);
});
