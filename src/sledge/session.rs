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
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ConnectInfo;
use serde::Serialize;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::{FromMessageParts, MessageHandler, Value as RawValue};
use socketioxide::socket::Socket;
use tokio::sync::mpsc;

use super::auth::{self, Action, Identity, SecretKind};
use super::events::{self, EventName, Request};
use super::replies::{
    ack_err, ack_ok, AuthenticateResponse, Done, LoginResponse, ProtocolError,
    AUTHENTICATE_RESPONSE, LOGIN_RESPONSE, PROTOCOL_ERROR,
};
use super::throttle::{Attempt, Throttle};
use super::Sledge;
use crate::limits::Permit;
use crate::metrics::Protocol;
use crate::store::judging::{JudgingError, NewHack, NewJudge, Ranking};
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
pub(super) fn attach(sledge: Arc<Sledge>, socket: SocketRef, permit: Permit) {
    sledge.metrics.connection_opened(Protocol::Sledge);
    let ip = socket
        .req_parts()
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let (queue, requests) = mpsc::channel(QUEUE);
    socket.on_fallback(Inbox { queue });
    let on_disconnect = sledge.clone();
    // The connection's place is freed at disconnect (or with the handler,
    // should the socket go without one).
    let permit = Arc::new(std::sync::Mutex::new(Some(permit)));
    socket.on_disconnect(move |socket: SocketRef| async move {
        drop(permit.lock().map(|mut p| p.take()));
        on_disconnect.metrics.connection_closed(Protocol::Sledge);
        on_disconnect.sync.unsubscribe(socket.id);
    });
    let session = Session {
        sledge,
        ip,
        identity: Identity::Anonymous,
        subscribed: false,
    };
    tokio::spawn(session.run(requests));
}

/// The catch-all event handler: queues each event for the session task.
struct Inbox {
    queue: mpsc::Sender<Incoming>,
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
        let incoming = Incoming {
            socket: SocketRef::from(s),
            event,
            payload,
            ack,
            wants_ack: ack_id.is_some(),
        };
        if let Err(mpsc::error::TrySendError::Full(incoming)) = self.queue.try_send(incoming) {
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
    /// False only for a wrong login code, which `login-response` reports.
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

impl From<JudgingError> for Refusal {
    fn from(e: JudgingError) -> Refusal {
        match e {
            JudgingError::Store(e) => e.into(),
            refused => Refusal::protocol(refused),
        }
    }
}

/// Counts a wrong login code or secret towards throttling.
fn failed(attempt: Option<Attempt<'_>>) {
    if let Some(attempt) = attempt {
        attempt.failed(Instant::now());
    }
}

struct Session {
    sledge: Arc<Sledge>,
    /// The client's address, for throttling guesses.
    ip: Option<IpAddr>,
    identity: Identity,
    subscribed: bool,
}

impl Session {
    /// Works through the queue until the socket is gone (its handlers, and
    /// with them the queue's sender, are dropped with it).
    async fn run(mut self, mut requests: mpsc::Receiver<Incoming>) {
        while let Some(incoming) = requests.recv().await {
            self.handle(incoming).await;
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
        let outcome = match events::parse(&event, payload) {
            Ok(request) => self.execute(&socket, request).await,
            Err(e) => Err(Refusal::protocol(e)),
        };
        let reply = match outcome {
            Ok(done) => {
                tracing::debug!(sid = %socket.id, %event, ?done, "sledge request done");
                ack_ok(&done)
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

    async fn execute(&mut self, socket: &SocketRef, request: Request) -> Result<Done, Refusal> {
        let store = &self.sledge.store;
        let event = request.event();
        match request {
            Request::AddHack(hack) => {
                auth::authorize(self.identity, Action::Administer(event))?;
                let hack = store
                    .add_hack(NewHack {
                        name: hack.name,
                        description: hack.description,
                        location: hack.location,
                    })
                    .await?;
                Ok(Done::Hack(hack))
            }
            Request::AddJudge(judge) => {
                auth::authorize(self.identity, Action::Administer(event))?;
                let judge = store
                    .add_judge(NewJudge {
                        name: judge.name,
                        email: judge.email,
                    })
                    .await?;
                Ok(Done::Judge(judge))
            }
            Request::AddSuperlative(superlative) => {
                auth::authorize(self.identity, Action::Administer(event))?;
                let superlative = store.add_superlative(superlative.name).await?;
                Ok(Done::Superlative(superlative))
            }
            Request::RateHack(rate) => {
                auth::authorize(self.identity, Action::ActAsJudge(event, rate.judge_id))?;
                let rating = store.rate(rate.judge_id, rate.hack_id, rate.rating).await?;
                Ok(Done::Rating(rating))
            }
            Request::RankSuperlative(rank) => {
                auth::authorize(self.identity, Action::ActAsJudge(event, rank.judge_id))?;
                let placement = store
                    .rank(Ranking {
                        judge_id: rank.judge_id,
                        superlative_id: rank.super_id,
                        first_choice_id: rank.first_id,
                        second_choice_id: rank.second_id,
                    })
                    .await?;
                Ok(Done::Placement(placement))
            }
            Request::SubscribeDatabase => {
                auth::authorize(self.identity, Action::Subscribe)?;
                self.subscribe(socket).await
            }
            Request::Login(login) => self.login(socket, login).await,
            Request::Authenticate(authenticate) => {
                let outcome = self.authenticate(authenticate).await;
                let response = match &outcome {
                    Ok(identity) => {
                        let (user_id, judge_id) = identity.user_and_judge_id();
                        AuthenticateResponse {
                            success: true,
                            user_id: Some(user_id),
                            judge_id: Some(judge_id),
                        }
                    }
                    Err(_) => AuthenticateResponse {
                        success: false,
                        user_id: None,
                        judge_id: None,
                    },
                };
                self.emit(socket, AUTHENTICATE_RESPONSE, &response);
                let identity = outcome?;
                self.identity = identity;
                if self.subscribed {
                    // The view changes with the identity: start it over.
                    self.subscribe(socket).await?;
                }
                let (user_id, judge_id) = identity.user_and_judge_id();
                Ok(Done::Authenticated { user_id, judge_id })
            }
        }
    }

    /// The identity `authenticate` earns; failures are counted for throttling.
    async fn authenticate(&self, auth: events::Authenticate) -> Result<Identity, Refusal> {
        let sledge = self.sledge.clone();
        let attempt = self.wait_turn(&sledge.throttle).await?;
        let store = &self.sledge.store;
        let kind = if self.sledge.secrets.is_admin_secret(&auth.secret) {
            SecretKind::Admin
        } else if auth.user_id > 0 {
            match store.judge_for_secret(&auth.secret).await? {
                Some(judge) => SecretKind::Judge(judge),
                None => SecretKind::Unknown,
            }
        } else {
            SecretKind::Unknown
        };
        let identity = match auth::authenticate(auth.user_id, kind) {
            Ok(identity) => identity,
            Err(failure) => {
                failed(attempt);
                return Err(Refusal::protocol(failure));
            }
        };
        if let (Identity::Judge(judge), SecretKind::Admin) = (identity, kind) {
            if !store.judge_exists(judge).await? {
                return Err(Refusal::protocol(JudgingError::NoSuchJudge(judge)));
            }
        }
        Ok(identity)
    }

    async fn login(&mut self, socket: &SocketRef, login: events::Login) -> Result<Done, Refusal> {
        let sledge = self.sledge.clone();
        let attempt = match self.wait_turn(&sledge.throttle).await {
            Ok(attempt) => attempt,
            Err(refusal) => {
                self.emit(socket, LOGIN_RESPONSE, &LoginResponse::failed());
                return Err(refusal);
            }
        };
        let store = &self.sledge.store;
        if !store.judge_exists(login.judge_id).await? {
            return Err(Refusal::protocol(JudgingError::NoSuchJudge(login.judge_id)));
        }
        if !self.sledge.secrets.is_login_code(&login.login_code) {
            failed(attempt);
            self.emit(socket, LOGIN_RESPONSE, &LoginResponse::failed());
            return Err(Refusal {
                message: "the login code is wrong: ask the organiser for the current code".into(),
                report: false,
            });
        }
        let secret = store.issue_judge_secret(login.judge_id).await?;
        tracing::info!(
            judge = login.judge_id,
            "judge logged in: a new secret was issued"
        );
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

    async fn subscribe(&mut self, socket: &SocketRef) -> Result<Done, Refusal> {
        let viewer = self
            .identity
            .viewer()
            .ok_or(auth::Denied::NotAuthenticated {
                event: EventName::SubscribeDatabase.as_str(),
            })?;
        self.sledge
            .sync
            .subscribe(socket.clone(), viewer)
            .await
            .map_err(Refusal::protocol)?;
        self.subscribed = true;
        Ok(Done::Subscribed)
    }

    /// Holds a login or authentication attempt as long as earlier failures
    /// (and attempts still being checked) from this client's address
    /// require. The attempt counts as in flight until it is dropped.
    async fn wait_turn<'t>(&self, throttle: &'t Throttle) -> Result<Option<Attempt<'t>>, Refusal> {
        let Some(ip) = self.ip else { return Ok(None) };
        let attempt = throttle
            .admit(ip, Instant::now())
            .map_err(Refusal::protocol)?;
        let wait = attempt.wait();
        if !wait.is_zero() {
            tracing::debug!(%ip, ?wait, "throttling a login or authentication attempt");
            tokio::time::sleep(wait).await;
        }
        Ok(Some(attempt))
    }

    fn emit<T: Serialize>(&self, socket: &SocketRef, event: &str, data: &T) {
        match socket.emit(event, data) {
            Ok(()) => self.sledge.metrics.messages_out(Protocol::Sledge, 1),
            Err(e) => tracing::debug!(error = %e, event, "cannot send to a sledge socket"),
        }
    }
}
