//! One socket's session: its requests, handled one at a time in the order
//! they arrived, and the identity `authenticate` gave it.
//!
//! socketioxide runs every event handler as its own task, so two events from
//! one client could otherwise race (an `add-hack` overtaking the
//! `authenticate` sent just before it). Instead a single catch-all handler
//! queues each event synchronously, in arrival order, and one task per
//! socket works through the queue. Unknown event names arrive there too and
//! get a `protocol-error` like any other refusal.

use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::ConnectInfo;
use serde::Serialize;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value as RawValue};
use socketioxide::socket::Socket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::replies::{
    ack_err, ack_ok, AuthenticateResponse, Done, LoginResponse, ProtocolError,
    AUTHENTICATE_RESPONSE, LOGIN_RESPONSE, PROTOCOL_ERROR,
};
use super::subscriber::Subscriber;
use super::InFlight;
use crate::core::access::AccessError;
use crate::core::auth::{self, Action, Identity, Op};
use crate::core::ops::OpError;
use crate::core::requests::{self, Request};
use crate::core::Core;
use crate::limits::{Permit, RateLimiter, Verdict};
use crate::metrics::Protocol;
use crate::store::idempotency::{fingerprint, set_scope, with_claim, Claim};
use crate::store::StoreError;

/// Requests one socket may have waiting; more are refused until it catches up.
pub const QUEUE: usize = 64;

/// An event as it arrived.
struct Incoming {
    socket: SocketRef,
    event: String,
    /// The first argument; `None` when there was none or it could not be decoded.
    payload: Option<serde_json::Value>,
    ack: AckSender,
    wants_ack: bool,
}

/// Sets a newly connecting socket up: runs before socket.io confirms the
/// connection, so no event can arrive before the handlers are in place.
pub(super) fn attach(
    sledge: Arc<Core>,
    socket: SocketRef,
    permit: Permit,
    event_rate: (u64, u64),
    stop: Stop,
) {
    sledge.metrics.connection_opened(Protocol::Sledge);
    let ip = socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let (queue, requests) = mpsc::channel(QUEUE);
    let (rate, burst) = event_rate;
    socket.on_fallback(Inbox {
        queue,
        rate: Mutex::new(RateLimiter::new(rate, burst, "event", Instant::now())),
        stop: stop.clone(),
    });
    let on_disconnect = sledge.clone();
    let key = Subscriber::next_key();
    // The connection's place is freed at disconnect (or with the handler,
    // should the socket go without one).
    let permit = Arc::new(std::sync::Mutex::new(Some(permit)));
    socket.on_disconnect(move |_: SocketRef| async move {
        drop(permit.lock().map(|mut p| p.take()));
        on_disconnect.metrics.connection_closed(Protocol::Sledge);
        on_disconnect.sync.unsubscribe(key);
    });
    let session = Session {
        sledge,
        ip,
        identity: Identity::Anonymous,
        subscribed: false,
        key,
        in_flight: stop.in_flight,
    };
    tokio::spawn(session.run(requests));
}

/// What a graceful stop needs of every session: whether it began, and the
/// requests taken and not yet answered.
#[derive(Clone)]
pub(super) struct Stop {
    /// Cancelled when the server closes connections (`crate::drain`).
    pub closing: CancellationToken,
    pub in_flight: Arc<InFlight>,
}

/// What a request sent once the server began closing connections gets.
pub const RESTARTING: &str = "the server is restarting: nothing was changed; send this again \
                              once reconnected (socket.io reconnects by itself)";

/// The catch-all event handler: holds each socket to its event rate, and
/// queues what passes for the session task.
struct Inbox {
    queue: mpsc::Sender<Incoming>,
    /// Checked here, before anything is queued or parsed further, so a
    /// flooding socket costs as little as possible.
    rate: Mutex<RateLimiter>,
    stop: Stop,
}

impl Inbox {
    /// Refuses an event: a `protocol-error`, and an error acknowledgement
    /// when one was asked for.
    fn refuse(
        s: &Arc<Socket<LocalAdapter>>,
        event: String,
        message: String,
        ack: Option<AckSender>,
    ) {
        let error = ProtocolError {
            original: event,
            message,
        };
        let _ = s.emit(PROTOCOL_ERROR, &error);
        if let Some(ack) = ack {
            let _ = ack.send(&ack_err(&error));
        }
    }
}

/// Marks [`Inbox`]'s handler implementation apart from socketioxide's own
/// closure handlers.
pub struct Queued;

impl MessageHandler<LocalAdapter, Queued> for Inbox {
    fn call(&self, s: Arc<Socket<LocalAdapter>>, mut v: RawValue, ack_id: Option<i64>) {
        let Ok(Event(event)) = Event::from_message_parts(&s, &mut v, &ack_id) else {
            return;
        };
        let payload = match TryData::<serde_json::Value>::from_message_parts(&s, &mut v, &ack_id) {
            Ok(TryData(payload)) => payload.ok(),
            Err(never) => match never {},
        };
        let ack = match AckSender::from_message_parts(&s, &mut v, &ack_id) {
            Ok(ack) => ack,
            Err(never) => match never {},
        };
        let verdict = self
            .rate
            .lock()
            .map_or(Verdict::Accept, |mut rate| rate.admit(Instant::now()));
        match verdict {
            Verdict::Accept => {}
            Verdict::Drop(message) => {
                Inbox::refuse(&s, event, message, ack_id.map(|_| ack));
                return;
            }
            Verdict::Abuse => {
                tracing::info!(sid = %s.id, "disconnecting a socket.io client over its event rate for 5 s");
                let _ = SocketRef::from(s).disconnect();
                return;
            }
        }
        // Counted before the check, so a stop that begins in between waits
        // for this request rather than closing the socket under it.
        self.stop.in_flight.take();
        if self.stop.closing.is_cancelled() {
            self.stop.in_flight.done();
            Inbox::refuse(&s, event, RESTARTING.to_string(), ack_id.map(|_| ack));
            return;
        }
        let incoming = Incoming {
            socket: SocketRef::from(s),
            event,
            payload,
            ack,
            wants_ack: ack_id.is_some(),
        };
        if let Err(refused) = self.queue.try_send(incoming) {
            self.stop.in_flight.done();
            let mpsc::error::TrySendError::Full(incoming) = refused else {
                return;
            };
            let error = ProtocolError {
                original: incoming.event,
                message: format!(
                    "too many requests waiting: this socket already has {QUEUE} queued; \
                     wait for answers (or acknowledgements) before sending more"
                ),
            };
            let _ = incoming.socket.emit(PROTOCOL_ERROR, &error);
            let _ = incoming.ack.send(&ack_err(&error));
        }
    }
}

/// Why a request was refused, and whether it earns a `protocol-error`.
struct Refusal {
    message: String,
    /// False when it was reported already: a wrong login code by
    /// `login-response`, a failed `authenticate` by its own `protocol-error`.
    report: bool,
}

impl Refusal {
    fn protocol(reason: impl Display) -> Refusal {
        Refusal {
            message: reason.to_string(),
            report: true,
        }
    }
}

impl From<auth::Denied> for Refusal {
    fn from(denied: auth::Denied) -> Refusal {
        Refusal::protocol(denied)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        tracing::error!(error = %e, "storage failure serving a sledge request");
        Refusal::protocol(format!(
            "the server could not complete this request because storage failed ({e}); \
             nothing was changed, try again later"
        ))
    }
}

impl From<OpError> for Refusal {
    fn from(e: OpError) -> Refusal {
        match e {
            OpError::Store(e) => e.into(),
            refused => Refusal::protocol(refused),
        }
    }
}

impl From<AccessError> for Refusal {
    fn from(e: AccessError) -> Refusal {
        match e {
            AccessError::Store(e) => e.into(),
            refused => Refusal::protocol(refused),
        }
    }
}

/// How long a socket's first request waits for socketioxide to mark the
/// socket connected.
const CONNECT_MARK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits until socketioxide marks `socket` connected (or
/// [`CONNECT_MARK_WAIT`] passed). It sends the client the connect packet
/// first and marks the socket just after, and refuses to emit to a socket
/// not marked: a server thread descheduled between the two (on a loaded
/// machine) let a quick client's `authenticate` and `subscribe-database` in
/// before the mark, and the `update-full`, or the `protocol-error` saying
/// why there was none, was refused ("the socket disconnected before its
/// subscription started"). The window is one thread's time slice, so the
/// first request alone waits, and a socket already marked does not.
async fn marked_connected(socket: &SocketRef) {
    let give_up = tokio::time::Instant::now() + CONNECT_MARK_WAIT;
    while !socket.connected() && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

struct Session {
    sledge: Arc<Core>,
    /// The client's address, for throttling guesses.
    ip: Option<IpAddr>,
    identity: Identity,
    subscribed: bool,
    /// What the live-update task knows this socket by.
    key: u64,
    /// Each request is counted here until it is answered.
    in_flight: Arc<InFlight>,
}

impl Session {
    /// Works through the queue until the socket is gone (its handlers, and
    /// with them the queue's sender, are dropped with it).
    async fn run(mut self, mut requests: mpsc::Receiver<Incoming>) {
        if let Some(first) = requests.recv().await {
            marked_connected(&first.socket).await;
            self.handle(first).await;
            self.in_flight.done();
        }
        while let Some(incoming) = requests.recv().await {
            self.handle(incoming).await;
            self.in_flight.done();
        }
    }

    async fn handle(&mut self, incoming: Incoming) {
        let Incoming {
            socket,
            event,
            payload,
            ack,
            wants_ack,
        } = incoming;
        self.sledge.metrics.message_in(Protocol::Sledge);
        let mut payload = payload;
        let outcome = match requests::take_idempotency_key(&mut payload) {
            Err(e) => Err(Refusal::protocol(e)),
            Ok(None) => self.parse_and_execute(&socket, &event, payload).await,
            Ok(Some(key)) => {
                // A repeat must be the same event with the same payload.
                let body = serde_json::to_vec(&payload).unwrap_or_default();
                let print = fingerprint(&[b"socket.io", event.as_bytes(), &body]);
                let scope = self.identity.idempotency_scope();
                with_claim(Claim::new(key, print), async {
                    if let Some(scope) = scope {
                        set_scope(scope);
                    }
                    self.parse_and_execute(&socket, &event, payload).await
                })
                .await
            }
        };
        let reply = match outcome {
            Ok(done) => {
                tracing::debug!(sid = %socket.id, %event, ?done, "sledge request done");
                ack_ok(done)
            }
            Err(refusal) => {
                tracing::debug!(sid = %socket.id, %event, message = %refusal.message, "sledge request refused");
                let error = ProtocolError {
                    original: event,
                    message: refusal.message,
                };
                if refusal.report {
                    self.emit(&socket, PROTOCOL_ERROR, &error);
                }
                ack_err(&error)
            }
        };
        if wants_ack {
            match ack.send(&reply) {
                Ok(()) => self.sledge.metrics.messages_out(Protocol::Sledge, 1),
                Err(e) => tracing::debug!(error = %e, "cannot send acknowledgement"),
            }
        }
    }

    async fn parse_and_execute(
        &mut self,
        socket: &SocketRef,
        event: &str,
        payload: Option<serde_json::Value>,
    ) -> Result<Done, Refusal> {
        match requests::parse(event, payload) {
            Ok(request) => self.execute(socket, request).await,
            Err(e) => Err(Refusal::protocol(e)),
        }
    }

    async fn execute(&mut self, socket: &SocketRef, request: Request) -> Result<Done, Refusal> {
        let sledge = &self.sledge;
        let who = self.identity;
        match request {
            Request::Command(command) => Ok(Done::Wrote(command.run(sledge, who).await?)),
            Request::SubscribeDatabase => {
                auth::authorize(who, Action::Subscribe)?;
                self.subscribe(socket).await
            }
            Request::Login(login) => self.login(socket, login).await,
            Request::Authenticate(authenticate) => {
                let outcome = self
                    .sledge
                    .authenticate(self.ip, authenticate.user_id, &authenticate.secret)
                    .await;
                let identity = match outcome {
                    Ok(identity) => identity,
                    Err(e) => {
                        // HackRU's SledgeClient closes its socket on a failed
                        // authenticate-response, so the reason goes first.
                        let refusal = Refusal::from(e);
                        let error = ProtocolError {
                            original: "authenticate".to_string(),
                            message: refusal.message.clone(),
                        };
                        self.emit(socket, PROTOCOL_ERROR, &error);
                        let failed = AuthenticateResponse {
                            success: false,
                            user_id: None,
                            judge_id: None,
                        };
                        self.emit(socket, AUTHENTICATE_RESPONSE, &failed);
                        return Err(Refusal {
                            report: false,
                            ..refusal
                        });
                    }
                };
                let (user_id, judge_id) = identity.user_and_judge_id();
                let response = AuthenticateResponse {
                    success: true,
                    user_id: Some(user_id),
                    judge_id: Some(judge_id),
                };
                self.emit(socket, AUTHENTICATE_RESPONSE, &response);
                self.identity = identity;
                if self.subscribed {
                    // The view changes with the identity: start it over.
                    self.subscribe(socket).await?;
                }
                Ok(Done::Authenticated { user_id, judge_id })
            }
        }
    }

    /// `login`: the outcome goes out as `login-response` too, except when
    /// the judge does not exist (a `protocol-error` only).
    async fn login(&mut self, socket: &SocketRef, login: requests::Login) -> Result<Done, Refusal> {
        match self
            .sledge
            .login(self.ip, login.judge_id, &login.login_code)
            .await
        {
            Ok(secret) => {
                self.emit(
                    socket,
                    LOGIN_RESPONSE,
                    &LoginResponse {
                        success: true,
                        secret: Some(secret.clone()),
                        user_id: Some(login.judge_id),
                    },
                );
                Ok(Done::LoggedIn {
                    secret,
                    user_id: login.judge_id,
                })
            }
            Err(e @ AccessError::Throttled(_)) => {
                self.emit(socket, LOGIN_RESPONSE, &LoginResponse::failed());
                Err(e.into())
            }
            Err(e @ AccessError::WrongLoginCode) => {
                self.emit(socket, LOGIN_RESPONSE, &LoginResponse::failed());
                // login-response reports it; no protocol-error.
                Err(Refusal {
                    message: e.to_string(),
                    report: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn subscribe(&mut self, socket: &SocketRef) -> Result<Done, Refusal> {
        let viewer = self
            .identity
            .viewer()
            .ok_or(auth::Denied::NotAuthenticated { op: Op::SUBSCRIBE })?;
        self.sledge
            .sync
            .subscribe(Box::new(Subscriber::new(socket.clone(), self.key)), viewer)
            .await
            .map_err(Refusal::protocol)?;
        self.subscribed = true;
        Ok(Done::Subscribed)
    }

    fn emit<T: Serialize>(&self, socket: &SocketRef, event: &str, data: &T) {
        match socket.emit(event, data) {
            Ok(()) => self.sledge.metrics.messages_out(Protocol::Sledge, 1),
            Err(e) => tracing::debug!(error = %e, event, "cannot send to a sledge socket"),
        }
    }
}
