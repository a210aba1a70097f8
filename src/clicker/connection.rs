//! One clicker WebSocket connection, from upgrade to close.
//!
//! A connection becomes a sender (REGISTER) or a listener (LISTEN or
//! SUBSCRIBE) by its first accepted command. A sender may have up to
//! [`WINDOW`] SCOREs being committed at once; their SCOREDs go out in order,
//! each only after its commit, and the newest score is then handed to the
//! hub. A listener drains its hub queue in batches, one flush per batch.
//! Heartbeat, the frame size and rate limits (see [`crate::limits`]: a
//! sender's SCOREs are judged by their timestamps too), the
//! deadline for a first command, takeover, slow-listener drops and server
//! shutdown all end here with a close code that says why. A graceful stop
//! ([`crate::drain`]) takes the frames already on their way, answers every
//! SCORE it took once committed, and closes with 1012 so the clicker
//! reconnects; frames that arrive after that are not read.
//!
//! A sender is never closed for being silent or for not reading: clicker
//! firmware (MicroPython's) reads `REGISTERED` and nothing after, so it
//! answers no ping and its TCP window fills with unread `SCORED`s. Its
//! replies are written only when the socket takes them at once, and dropped
//! (counted in `/metrics`) otherwise; its scores are stored and broadcast
//! all the same. A dead sender is found by TCP keepalive (`crate::listener`).

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::{interval_at, timeout, Instant};

use super::hub::{Listener, SessionHandle};
use super::protocol::{parse_command, Command, Draft, Score, ServerMessage};
use super::queue;
use super::Clicker;
use crate::limits::{RateLimiter, Verdict};
use crate::metrics::Protocol;
use crate::scoring::{DeviceId, Holder, ScoreOutcome};
use crate::store::StoreError;

/// Close code: the server is shutting down at once (standard "going away").
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: the server is restarting or handing its clients to other
/// nodes: connect again (standard "service restart", RFC 6455 7.4.1 as
/// registered by IANA).
pub const CLOSE_SERVICE_RESTART: u16 = 1012;
/// The reason sent with [`CLOSE_SERVICE_RESTART`].
pub const RESTART_REASON: &str = "server restarting: connect again";
/// Close code: a text frame was not valid UTF-8 (standard).
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code: a frame exceeded the transport limit (standard "message too big").
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: a newer connection registered with this device's secret.
pub const CLOSE_TAKEN_OVER: u16 = 4000;
/// Close code: this listener's send queue overflowed; it was not reading.
pub const CLOSE_TOO_SLOW: u16 = 4001;
/// Close code: no pong or other frame for a whole heartbeat interval (not
/// for senders).
pub const CLOSE_HEARTBEAT: u16 = 4002;
/// Close code: frames kept coming over the rate limit for several seconds.
pub const CLOSE_RATE_LIMIT: u16 = 4003;
/// Close code: no REGISTER, LISTEN or SUBSCRIBE within the time allowed.
pub const CLOSE_NO_COMMAND: u16 = 4004;

/// SCOREs a sender may have awaiting commit; past this the connection stops
/// reading until acknowledgements drain (TCP pushes back on the client).
pub const WINDOW: usize = 64;
/// Frames a graceful stop takes from what already arrived, at most: a
/// client that sends without pause cannot hold its connection open.
const TAKEN_AT_CLOSE: usize = 16 * WINDOW;
/// How long a graceful stop waits for a connection's next frame before it
/// reads no more: frames in flight on a LAN arrive well within it.
const TAKE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(50);
/// Frames taken from a listener's queue per flush.
const BATCH: usize = 64;
/// How long a closing peer gets to take the close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

type Pending = Pin<Box<dyn Future<Output = (Score, Result<ScoreOutcome, StoreError>)> + Send>>;

enum Role {
    New,
    Sender(SessionHandle),
    Listener {
        listener: Arc<Listener>,
        queue: queue::Receiver,
        /// Frames taken from the queue, being written; kept for its allocation.
        batch: Vec<Utf8Bytes>,
        ids: HashSet<DeviceId>,
    },
}

/// What woke the connection up.
enum Event {
    /// Shutdown, takeover or a slow-listener drop.
    Interrupted(End),
    Committed(Score, Result<ScoreOutcome, StoreError>),
    Queued,
    Incoming(Option<Result<Message, axum::Error>>),
    Ping,
    /// The time for a first command ran out.
    Late,
}

/// Why the loop ended, and what close frame (if any) to send.
#[derive(Debug)]
enum End {
    Close(u16, &'static str),
    /// A graceful stop: answer what was taken, then close with 1012.
    Restart,
    /// The peer closed or vanished: nothing more to send.
    Gone,
}

/// Serves one upgraded `/ws` connection until it ends.
pub async fn serve(socket: WebSocket, app: Arc<Clicker>, peer: IpAddr) {
    app.metrics.connection_opened(Protocol::Clicker);
    let limits = &app.settings.limits;
    let now = Instant::now();
    let mut conn = Connection {
        socket,
        app: app.clone(),
        role: Role::New,
        pending: FuturesOrdered::new(),
        interrupt: Box::pin(std::future::pending()),
        rate: RateLimiter::new(
            limits.clicker_rate,
            limits.clicker_burst,
            "frame",
            now.into_std(),
        ),
        peer,
        first_command_by: limits.first_command().map(|d| now + d),
        unflushed: false,
        closing: false,
    };
    conn.interrupt = conn.interrupted();
    let end = conn.run().await;
    // At debug level: why a connection ended is what an operator asks when a
    // device drops (a transport error says which at its own site).
    tracing::debug!(%peer, ?end, "clicker connection ended");
    conn.finish(end).await;
    match &conn.role {
        Role::Sender(session) => {
            app.hub.detach(session);
            release(&app, session.device, session.holder);
        }
        Role::Listener { listener, ids, .. } => {
            app.hub.remove_listener(listener, ids.iter().copied())
        }
        Role::New => {}
    }
    app.metrics.connection_closed(Protocol::Clicker);
}

/// Tells the store a sender's connection ended, so every node's listeners
/// hear `DISCONNECT` (unless the id was taken over). Retried while storage
/// is unreachable: until it is written, the cluster counts the device as
/// connected (a dead node's devices are released by its lease instead).
fn release(app: &Arc<Clicker>, device: DeviceId, holder: Holder) {
    let store = app.store.clone();
    let shutdown = app.shutdown.clone();
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            match store.device_disconnected(device, holder).await {
                Ok(()) => return,
                Err(e) if !warned => {
                    warned = true;
                    tracing::warn!(device, error = %e, "cannot record a device's disconnection yet; retrying");
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RELEASE_RETRY) => {}
            }
        }
    });
}

/// Wait between attempts to record a disconnection.
const RELEASE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

struct Connection {
    socket: WebSocket,
    app: Arc<Clicker>,
    role: Role,
    pending: FuturesOrdered<Pending>,
    /// [`Connection::interrupted`] for the current role, made once per role
    /// rather than once per frame (its token clones showed in profiles).
    interrupt: Pin<Box<dyn Future<Output = End> + Send>>,
    rate: RateLimiter,
    /// The client's address, for the registration budget.
    peer: IpAddr,
    /// While the role is still new: when the connection is closed.
    first_command_by: Option<Instant>,
    /// A sender's replies are queued in the socket but not yet all written:
    /// the event loop flushes them as the peer's window allows.
    unflushed: bool,
    /// A graceful stop began: nothing more is read; the connection closes
    /// with 1012 once no SCORE awaits commit.
    closing: bool,
}

impl Connection {
    async fn run(&mut self) -> End {
        let heartbeat = self.app.settings.heartbeat;
        let mut ping = interval_at(Instant::now() + heartbeat, heartbeat);
        let mut heard = true;
        loop {
            let event = self.next_event(&mut ping).await;
            let step = match event {
                Event::Interrupted(end) => Err(end),
                Event::Committed(score, outcome) => self.acknowledge(score, outcome).await,
                Event::Queued => self.forward().await,
                Event::Incoming(None) => Err(End::Gone),
                Event::Incoming(Some(Err(e))) => Err(transport_error(e)),
                Event::Incoming(Some(Ok(message))) => {
                    heard = true;
                    self.receive(message).await
                }
                // A sender may never answer (see the module's note): pinged
                // when its socket has room, never closed for silence.
                Event::Ping if matches!(self.role, Role::Sender(_)) => {
                    self.reply(Message::Ping(Default::default()))
                }
                Event::Ping if !heard => Err(End::Close(CLOSE_HEARTBEAT, "no answer to ping")),
                Event::Ping => {
                    heard = false;
                    self.send(Message::Ping(Default::default())).await
                }
                Event::Late => Err(End::Close(
                    CLOSE_NO_COMMAND,
                    "no REGISTER, LISTEN or SUBSCRIBE in time",
                )),
            };
            let step = match step {
                // (Also when it cut a listener's write short: nothing of
                // that needs an answer.)
                Err(End::Restart) => self.begin_closing().await,
                step => step,
            };
            if let Err(end) = step {
                return end;
            }
            if self.closing && self.pending.is_empty() {
                return End::Close(CLOSE_SERVICE_RESTART, RESTART_REASON);
            }
        }
    }

    /// A graceful stop: takes the frames that reach the connection while
    /// they keep coming within [`TAKE_PATIENCE`] of each other (a clicker
    /// that does not read its SCOREDs would never send those again), then
    /// reads nothing more. From now on only an immediate stop (or a
    /// takeover) interrupts; the loop closes with 1012 once no SCORE awaits
    /// commit.
    async fn begin_closing(&mut self) -> Result<(), End> {
        self.closing = true;
        self.interrupt = self.interrupted();
        for _ in 0..TAKEN_AT_CLOSE {
            match timeout(TAKE_PATIENCE, self.socket.next()).await {
                Err(_) => break,
                Ok(None) => return Err(End::Gone),
                Ok(Some(Err(e))) => return Err(transport_error(e)),
                Ok(Some(Ok(message))) => self.receive(message).await?,
            }
        }
        Ok(())
    }

    /// Waits for the next thing this connection must act on.
    async fn next_event(&mut self, ping: &mut tokio::time::Interval) -> Event {
        let interrupted = &mut self.interrupt;
        let deadline = match self.role {
            Role::New => self.first_command_by,
            _ => None,
        };
        let role = &mut self.role;
        let queued = async {
            match role {
                Role::Listener { queue, .. } => queue.ready().await,
                _ => std::future::pending().await,
            }
        };
        let pending = &mut self.pending;
        let can_read = pending.len() < WINDOW && !self.closing;
        let socket = &mut self.socket;
        let unflushed = &mut self.unflushed;
        // Reading, and writing out a sender's queued replies, share the socket.
        let io = std::future::poll_fn(|cx| {
            if *unflushed {
                match socket.poll_flush_unpin(cx) {
                    Poll::Ready(Ok(())) => *unflushed = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Event::Incoming(Some(Err(e)))),
                    Poll::Pending => {}
                }
            }
            if can_read {
                if let Poll::Ready(incoming) = socket.poll_next_unpin(cx) {
                    return Poll::Ready(Event::Incoming(incoming));
                }
            }
            Poll::Pending
        });
        let late = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            end = interrupted => Event::Interrupted(end),
            Some((score, outcome)) = pending.next(), if !pending.is_empty() => Event::Committed(score, outcome),
            () = queued => Event::Queued,
            event = io => event,
            _ = ping.tick() => Event::Ping,
            _ = late => Event::Late,
        }
    }

    /// Resolves when something outside ends this connection: shutdown, or
    /// (by role) a takeover of the device or a slow-listener drop. Writes
    /// race it too, so a peer that stopped reading cannot delay either.
    fn interrupted(&self) -> Pin<Box<dyn Future<Output = End> + Send>> {
        let shutdown = self.app.shutdown.clone();
        // Once closing, only the immediate stop is still news.
        let closing = (!self.closing).then(|| self.app.closing.clone());
        let kicked = match &self.role {
            Role::Sender(s) => Some((
                s.kicked.clone(),
                End::Close(CLOSE_TAKEN_OVER, "device taken over by a newer connection"),
            )),
            Role::Listener { listener, .. } => Some((
                listener.dropped.clone(),
                End::Close(CLOSE_TOO_SLOW, "listener too slow: send queue overflowed"),
            )),
            Role::New => None,
        };
        Box::pin(async move {
            let kick = async {
                match kicked {
                    Some((token, end)) => {
                        token.cancelled_owned().await;
                        end
                    }
                    None => std::future::pending().await,
                }
            };
            let closing = async {
                match closing {
                    Some(token) => token.cancelled_owned().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = shutdown.cancelled_owned() => End::Close(CLOSE_GOING_AWAY, "server shutting down"),
                end = kick => end,
                () = closing => End::Restart,
            }
        })
    }

    /// Handles one frame from the peer.
    async fn receive(&mut self, message: Message) -> Result<(), End> {
        let text = match message {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
            // Pings are answered by the WebSocket layer; any frame counts as alive.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
            // The close reply is queued by the WebSocket layer; keep polling
            // until the stream ends so it is flushed.
            Message::Close(_) => return Ok(()),
        };
        let limit = self.app.settings.max_frame_bytes;
        // Parsed before the rate is judged: a sender's SCORE is judged by
        // when its device says it sent it too (see `crate::limits`).
        let command = text
            .as_ref()
            .filter(|text| text.len() <= limit)
            .map(|text| parse_command(text));
        let now = std::time::Instant::now();
        let verdict = match (&command, &self.role) {
            (Some(Ok(Command::Score(score))), Role::Sender(_)) => {
                self.rate.admit_stamped(now, score.timestamp)
            }
            _ => self.rate.admit(now),
        };
        match verdict {
            Verdict::Accept => {}
            Verdict::Drop(why) => return self.error(&why).await,
            Verdict::Abuse => {
                return Err(End::Close(
                    CLOSE_RATE_LIMIT,
                    "over the rate limit for too long",
                ))
            }
        }
        let Some(text) = text else {
            return self
                .error("binary frames are not accepted: send text commands")
                .await;
        };
        self.app.metrics.message_in(Protocol::Clicker);
        match command {
            Some(Ok(command)) => self.apply(command).await,
            Some(Err(e)) => self.error(&e.to_string()).await,
            None => {
                let msg = format!(
                    "frame too large: {} bytes; the limit is {limit}",
                    text.len()
                );
                self.error(&msg).await
            }
        }
    }

    async fn apply(&mut self, command: Command) -> Result<(), End> {
        if self.closing && !matches!(command, Command::Score(_)) {
            return self.error("the server is restarting: connect again").await;
        }
        match (command, &mut self.role) {
            (Command::Register { secret }, Role::New) => self.register(secret).await,
            (Command::Register { .. }, Role::Sender(s)) => {
                let msg = format!("already registered as {:06} on this connection", s.device);
                self.error(&msg).await
            }
            (Command::Register { .. }, Role::Listener { .. }) => {
                self.error(
                    "REGISTER on a listening connection: open a new connection to send scores",
                )
                .await
            }
            (Command::Score(score), Role::Sender(session)) => {
                let store = self.app.store.clone();
                let device = session.device;
                self.pending.push_back(Box::pin(async move {
                    let outcome = store
                        .record_score(
                            device,
                            score.timestamp,
                            score.score as i64,
                            score.msg_id.map(|m| m as i64),
                        )
                        .await;
                    (score, outcome)
                }));
                Ok(())
            }
            (Command::Score(_), _) => {
                self.error("SCORE before REGISTER: register this connection first")
                    .await
            }
            (Command::Listen { draft, ids }, Role::New) => {
                let capacity = self.app.settings.listener_queue;
                let (listener, queue) = self.app.hub.new_listener(draft, capacity);
                self.app.hub.listen(&listener, &ids);
                self.role = Role::Listener {
                    listener,
                    queue,
                    batch: Vec::new(),
                    ids: ids.into_iter().collect(),
                };
                self.interrupt = self.interrupted();
                Ok(())
            }
            (
                Command::Listen { ids, .. },
                Role::Listener {
                    listener,
                    ids: known,
                    ..
                },
            ) => {
                // Later LISTENs add ids; the format stays the connection's first draft.
                self.app.hub.listen(listener, &ids);
                known.extend(ids);
                Ok(())
            }
            (Command::Listen { draft, .. }, Role::Sender(_)) => {
                let verb = if draft == Draft::One {
                    "LISTEN"
                } else {
                    "SUBSCRIBE"
                };
                let msg =
                    format!("{verb} on a sending connection: open a new connection to listen");
                self.error(&msg).await
            }
        }
    }

    async fn register(&mut self, secret: Option<String>) -> Result<(), End> {
        let limits = &self.app.registration_limits;
        if let Err(refused) = limits.admit(self.peer, std::time::Instant::now()) {
            return self.error(&refused.to_string()).await;
        }
        let holder = self.app.hub.new_holder();
        match self.app.store.register_device(secret, holder).await {
            Ok(reg) => {
                let session = self.app.hub.attach(reg.id, holder, reg.latest);
                tracing::debug!(device = reg.id, "clicker registered");
                self.role = Role::Sender(session);
                self.interrupt = self.interrupted();
                let reply = ServerMessage::Registered {
                    id: reg.id,
                    secret: reg.secret,
                };
                self.send_text(reply.to_string()).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "REGISTER failed");
                self.error(&format!("cannot register now: {e}")).await
            }
        }
    }

    /// A SCORE's commit finished: acknowledge it, and broadcast it if it is
    /// the device's newest.
    async fn acknowledge(
        &mut self,
        score: Score,
        outcome: Result<ScoreOutcome, StoreError>,
    ) -> Result<(), End> {
        let metrics = &self.app.metrics;
        match outcome {
            Ok(outcome) => {
                match outcome {
                    // Listeners hear of it from the change log (see `super::follow`).
                    ScoreOutcome::New => {
                        metrics.scores_stored.fetch_add(1, Ordering::Relaxed);
                    }
                    ScoreOutcome::Late => {
                        metrics.scores_stored.fetch_add(1, Ordering::Relaxed);
                        metrics.scores_late.fetch_add(1, Ordering::Relaxed);
                    }
                    ScoreOutcome::Duplicate => {
                        metrics.scores_duplicate.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let reply = ServerMessage::Scored {
                    msg_id: score.msg_id,
                    timestamp: score.timestamp,
                };
                // Queued only: acknowledgements that completed together share
                // a flush, the event loop's.
                self.reply(Message::Text(reply.to_string().into()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "SCORE not stored");
                let msg = format!(
                    "score {} not stored ({e}); send it again later",
                    score.timestamp
                );
                self.error(&msg).await
            }
        }
    }

    /// Sends what the hub has queued for this listener (up to [`BATCH`]
    /// frames), in one flush.
    async fn forward(&mut self) -> Result<(), End> {
        let Role::Listener { queue, batch, .. } = &mut self.role else {
            return Ok(());
        };
        queue.take(batch, BATCH);
        let socket = &mut self.socket;
        // One deadline and one interrupt check for the whole batch: per-frame
        // timers showed up in fan-out profiles.
        let write = async {
            let sent = batch.len();
            for frame in batch.drain(..) {
                socket.feed(Message::Text(frame)).await?;
            }
            socket.flush().await.map(|()| sent)
        };
        let limit = self.app.settings.send_timeout;
        tokio::select! {
            written = timeout(limit, write) => match written {
                Ok(Ok(sent)) => {
                    self.app.metrics.messages_out(Protocol::Clicker, sent as u64);
                    Ok(())
                }
                _ => Err(End::Gone),
            },
            end = &mut self.interrupt => Err(end),
        }
    }

    async fn error(&mut self, message: &str) -> Result<(), End> {
        self.send_text(ServerMessage::Error(message.to_string()).to_string())
            .await
    }

    async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.send(Message::Text(text.into())).await
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        if matches!(self.role, Role::Sender(_)) {
            return self.reply(message);
        }
        self.feed(message).await?;
        self.flush().await
    }

    /// A sender's reply (or ping): queued if the socket takes it without
    /// waiting, otherwise dropped, so a clicker that does not read loses
    /// replies rather than its connection (see the module's note). What is
    /// queued stays bounded: the socket stops taking frames once its write
    /// buffer is over its size and the kernel's send buffer is full.
    fn reply(&mut self, message: Message) -> Result<(), End> {
        let text = matches!(message, Message::Text(_));
        let socket = &mut self.socket;
        match std::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).now_or_never() {
            Some(Ok(())) => {}
            Some(Err(_)) => return Err(End::Gone),
            None => {
                if text {
                    let dropped = &self.app.metrics.clicker_replies_dropped;
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                return Ok(());
            }
        }
        self.socket
            .start_send_unpin(message)
            .map_err(|_| End::Gone)?;
        self.unflushed = true;
        if text {
            self.app.metrics.messages_out(Protocol::Clicker, 1);
        }
        Ok(())
    }

    /// Queues a frame in the WebSocket's write buffer. A peer that accepts
    /// nothing for the send timeout is dropped.
    async fn feed(&mut self, message: Message) -> Result<(), End> {
        if matches!(message, Message::Text(_)) {
            self.app.metrics.messages_out(Protocol::Clicker, 1);
        }
        let limit = self.app.settings.send_timeout;
        tokio::select! {
            written = timeout(limit, self.socket.feed(message)) => match written {
                Ok(Ok(())) => Ok(()),
                _ => Err(End::Gone),
            },
            end = &mut self.interrupt => Err(end),
        }
    }

    async fn flush(&mut self) -> Result<(), End> {
        let limit = self.app.settings.send_timeout;
        tokio::select! {
            flushed = timeout(limit, self.socket.flush()) => match flushed {
                Ok(Ok(())) => Ok(()),
                _ => Err(End::Gone),
            },
            end = &mut self.interrupt => Err(end),
        }
    }

    /// Sends the close frame (if any) and waits briefly for the peer's reply,
    /// polling the stream so the close handshake completes.
    async fn finish(&mut self, end: End) {
        if let End::Close(code, reason) = end {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            // A peer that stopped reading gets a few seconds to take the
            // close frame (after its backlog) before the socket is dropped.
            let _ = timeout(CLOSE_GRACE, self.socket.send(Message::Close(Some(frame)))).await;
        }
        let _ = timeout(std::time::Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.socket.next().await {}
        })
        .await;
    }
}

/// Maps a transport error to the close the peer should see.
fn transport_error(error: axum::Error) -> End {
    use std::error::Error as _;
    tracing::debug!(%error, "clicker connection transport error");
    let mut source = error.source();
    while let Some(inner) = source {
        if let Some(ws) = inner.downcast_ref::<tungstenite::Error>() {
            return match ws {
                tungstenite::Error::Capacity(_) => End::Close(CLOSE_TOO_BIG, "frame too large"),
                tungstenite::Error::Utf8(_) => {
                    End::Close(CLOSE_INVALID_DATA, "text frame is not valid UTF-8")
                }
                _ => End::Gone,
            };
        }
        source = inner.source();
    }
    End::Gone
}
