//! Who listens to which device, and fan-out of pre-formatted frames.
//!
//! One read-locked map lookup per SCORE; each broadcast is formatted once
//! per draft and shared by reference count with every listener's writer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::RwLock;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draft {
    One,
    Two,
}

struct Subscriber {
    conn: u64,
    draft: Draft,
    tx: UnboundedSender<Utf8Bytes>,
}

#[derive(Default)]
struct Topic {
    connected: bool,
    listeners: Vec<Subscriber>,
}

#[derive(Default)]
pub struct Hub {
    last_id: AtomicU32,
    topics: RwLock<HashMap<u32, Topic>>,
}

/// The secret names the id, so re-registering needs no table: this server
/// checks nothing by design.
fn secret_for(id: u32) -> String {
    format!("k{id:06}")
}

impl Hub {
    /// A new id, or the one named by `secret`. Marks it connected.
    pub fn register(&self, secret: Option<&str>) -> (u32, String) {
        let known = secret.and_then(|s| s.strip_prefix('k')?.parse().ok());
        let id = known.unwrap_or_else(|| self.last_id.fetch_add(1, Ordering::Relaxed) + 1);
        self.set_connected(id, true);
        (id, secret_for(id))
    }

    pub fn set_connected(&self, id: u32, connected: bool) {
        let mut topics = self.topics.write().expect("hub lock");
        let topic = topics.entry(id).or_default();
        topic.connected = connected;
        let word = if connected { "CONNECT" } else { "DISCONNECT" };
        let frame = Utf8Bytes::from(format!("{word} {id:06}"));
        for s in &topic.listeners {
            let _ = s.tx.send(frame.clone());
        }
    }

    /// Adds a listener to each id; returns those currently connected.
    pub fn subscribe(
        &self,
        conn: u64,
        draft: Draft,
        tx: &UnboundedSender<Utf8Bytes>,
        ids: &[u32],
    ) -> Vec<u32> {
        let mut topics = self.topics.write().expect("hub lock");
        let mut connected = Vec::new();
        for &id in ids {
            let topic = topics.entry(id).or_default();
            if !topic.listeners.iter().any(|s| s.conn == conn) {
                topic.listeners.push(Subscriber {
                    conn,
                    draft,
                    tx: tx.clone(),
                });
            }
            if topic.connected {
                connected.push(id);
            }
        }
        connected
    }

    pub fn unsubscribe(&self, conn: u64, ids: &[u32]) {
        let mut topics = self.topics.write().expect("hub lock");
        for id in ids {
            if let Some(t) = topics.get_mut(id) {
                t.listeners.retain(|s| s.conn != conn);
            }
        }
    }

    pub fn score(&self, id: u32, ts: &str, score: &str) {
        let topics = self.topics.read().expect("hub lock");
        let Some(topic) = topics.get(&id) else { return };
        if topic.listeners.is_empty() {
            return;
        }
        let d1 = Utf8Bytes::from(format!("SCORE {ts} {id:06} {score}"));
        let d2 = Utf8Bytes::from(format!("SCORE {ts} {score} {id:06}"));
        for s in &topic.listeners {
            let frame = match s.draft {
                Draft::One => d1.clone(),
                Draft::Two => d2.clone(),
            };
            let _ = s.tx.send(frame);
        }
    }
}
