//! The load generator's socket.io connections: the shared client
//! (`crates/sio-client`) over this crate's tuned, retrying WebSockets.

use sio_client::Eio;
use tokio::net::TcpStream;

use crate::cli::EioChoice;
use crate::conn;

pub type SioClient = sio_client::Sio<TcpStream>;

/// Opens `/socket.io/` on `host` (see [`conn::connect`]) and joins the
/// default namespace.
pub async fn connect(host: &str, eio: Eio) -> Result<SioClient, String> {
    let ws = conn::connect(host, eio.query()).await?;
    SioClient::joined(ws, eio).await
}

/// The protocol of the `i`th client: `mixed` alternates, starting with 4.
pub fn eio_for_index(choice: EioChoice, i: usize) -> Eio {
    match choice {
        EioChoice::Three => Eio::V3,
        EioChoice::Four => Eio::V4,
        EioChoice::Mixed if i.is_multiple_of(2) => Eio::V4,
        EioChoice::Mixed => Eio::V3,
    }
}
