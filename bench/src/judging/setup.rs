//! Creating the judging event through the protocol itself: the admin
//! authenticates, adds hacks and judges (pipelined, each acked), then reads
//! their ids back from a database snapshot, matched by unique name/email.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use serde_json::{json, Value};

use super::db;
use crate::sio::{self, SioClient};
use sio_client::{ack_ok, Eio, Packet};

/// Unacknowledged add-* events in flight during set-up.
const SETUP_WINDOW: usize = 32;

pub struct Event {
    pub judge_ids: Vec<u64>,
    pub hack_ids: Vec<u64>,
}

pub async fn authenticate(c: &mut SioClient, secret: &str, user_id: u64) -> Result<(), String> {
    let r = c
        .request(
            "authenticate",
            &json!({"secret": secret, "userId": user_id}),
            "authenticate-response",
        )
        .await?;
    if r.get("success").and_then(Value::as_bool) == Some(true) {
        Ok(())
    } else {
        Err(format!("authenticate as user {user_id} refused: {r}"))
    }
}

pub async fn admin(host: &str, eio: Eio, secret: &str) -> Result<SioClient, String> {
    let mut c = sio::connect(host, eio).await?;
    authenticate(&mut c, secret, 0).await?;
    Ok(c)
}

/// Logs judge `judge_id` in with the shared login code and authenticates
/// with the secret it is given.
pub async fn judge(
    host: &str,
    eio: Eio,
    judge_id: u64,
    login_code: &str,
) -> Result<SioClient, String> {
    let mut c = sio::connect(host, eio).await?;
    let r = c
        .request(
            "login",
            &json!({"judgeId": judge_id, "loginCode": login_code}),
            "login-response",
        )
        .await?;
    if r.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(format!("login of judge {judge_id} refused: {r}"));
    }
    let secret = r
        .get("secret")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("login-response without secret: {r}"))?
        .to_string();
    let user_id = r
        .get("userId")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("login-response without userId: {r}"))?;
    authenticate(&mut c, &secret, user_id).await?;
    Ok(c)
}

/// Sends every event with an ack, keeping a window in flight, and fails on
/// the first refusal.
async fn emit_all(c: &mut SioClient, events: Vec<(&'static str, Value)>) -> Result<(), String> {
    let mut queue: VecDeque<_> = events.into();
    let mut waiting: HashMap<u64, &'static str> = HashMap::new();
    // One bound for the whole set-up, however chatty the server is meanwhile.
    let deadline = Instant::now() + std::time::Duration::from_secs(10 + queue.len() as u64 / 10);
    while !queue.is_empty() || !waiting.is_empty() {
        while waiting.len() < SETUP_WINDOW {
            let Some((name, data)) = queue.pop_front() else {
                break;
            };
            let id = c
                .feed_event(name, &data, true)
                .await?
                .expect("ack id requested");
            waiting.insert(id, name);
        }
        c.flush().await?;
        match c.next(deadline).await? {
            Some(Packet::Ack { id, data }) => {
                let name = waiting
                    .remove(&id)
                    .ok_or_else(|| format!("ack {id} matches nothing sent"))?;
                if !ack_ok(&data) {
                    return Err(format!("{name} refused: {data}"));
                }
            }
            Some(Packet::Event { name, data, .. }) if name == "protocol-error" => {
                return Err(format!("protocol-error during set-up: {data}"));
            }
            Some(_) => {}
            None => {
                return Err(format!(
                    "{} set-up events still unacknowledged at the set-up deadline",
                    waiting.len()
                ))
            }
        }
    }
    Ok(())
}

/// Creates `hacks` hacks and `judges` judges named with `tag` (unique per
/// run); [`find`] then reads their ids.
pub async fn create(
    c: &mut SioClient,
    tag: &str,
    hacks: usize,
    judges: usize,
) -> Result<(), String> {
    let mut events = Vec::new();
    for h in 0..hacks {
        events.push((
            "add-hack",
            json!({"name": format!("Bench hack {h} {tag}"), "description": "load test entry", "location": h}),
        ));
    }
    for j in 0..judges {
        events.push((
            "add-judge",
            json!({"name": format!("Bench judge {j} {tag}"), "email": format!("judge{j}-{tag}@bench.example")}),
        ));
    }
    emit_all(c, events).await
}

/// Why [`find`] failed: the node's view lacks an entry (it may still be
/// catching up), or anything else.
pub enum FindError {
    Missing(String),
    Other(String),
}

/// The ids of the hacks and judges [`create`] made with `tag`, in creation
/// order, from a fresh `update-full`.
pub async fn find(
    c: &mut SioClient,
    tag: &str,
    hacks: usize,
    judges: usize,
) -> Result<Event, FindError> {
    let full = c
        .request("subscribe-database", &json!({}), "update-full")
        .await
        .map_err(FindError::Other)?;
    let database = full.get("database").cloned().unwrap_or(full);
    let by = |table: &str, key: &str| -> HashMap<String, u64> {
        db::rows(&database, table)
            .into_iter()
            .filter_map(|r| Some((r.get(key)?.as_str()?.to_string(), db::int(r, "id")?)))
            .collect()
    };
    let hack_by_name = by("hacks", "name");
    let judge_by_email = by("judges", "email");
    let hack_ids = (0..hacks)
        .map(|h| {
            hack_by_name
                .get(&format!("Bench hack {h} {tag}"))
                .copied()
                .ok_or_else(|| format!("hack {h} missing from update-full"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(FindError::Missing)?;
    let judge_ids = (0..judges)
        .map(|j| {
            judge_by_email
                .get(&format!("judge{j}-{tag}@bench.example"))
                .copied()
                .ok_or_else(|| format!("judge {j} missing from update-full"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(FindError::Missing)?;
    Ok(Event {
        judge_ids,
        hack_ids,
    })
}
