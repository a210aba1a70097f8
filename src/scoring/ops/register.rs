//! A clicker's REGISTER. A secret this server issued earlier (on any node)
//! gets that device's id back, with its newest score; anything else (no
//! secret, or one never issued) gets a new device with the next id and a
//! fresh secret. Either way the registering connection takes hold of the
//! id, taking it over from any other.

use crate::judging::ops::Operation;
use crate::scoring::{DeviceId, Holder, LatestScore, Registration, MAX_DEVICE_ID};
use crate::secrets::{self, SecretHash};
use crate::store::Presence;
use crate::store::RegisterError;

/// Bytes of CSPRNG output in a device secret.
const DEVICE_SECRET_BYTES: usize = 16;

/// A REGISTER by `holder`, with the secret the device sent, if any. The
/// secret a new device would get is drawn when the operation is made. No
/// `Debug`: secrets must never reach a log.
pub struct Register {
    pub holder: Holder,
    sent: Option<String>,
    fresh: String,
}

impl Register {
    pub fn new(sent: Option<String>, holder: Holder) -> Register {
        Register {
            holder,
            sent,
            fresh: secrets::generate(DEVICE_SECRET_BYTES),
        }
    }

    /// The hash to look the sent secret up by.
    pub fn sent_hash(&self) -> Option<SecretHash> {
        self.sent.as_deref().map(secrets::hash)
    }

    /// What a new device's row stores: the fresh secret's hash, never the secret.
    pub fn fresh_hash(&self) -> SecretHash {
        secrets::hash(&self.fresh)
    }
}

/// What the store found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facts {
    /// The sent secret is this device's.
    Known {
        id: DeviceId,
        latest: Option<LatestScore>,
    },
    /// No device has the sent secret (or none was sent): the next free id
    /// (one above the highest), which may lie past the six-digit range.
    Unknown { next: i64 },
}

/// The writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Take hold of a known device's id.
    Hold {
        id: DeviceId,
        latest: Option<LatestScore>,
    },
    /// Store a new device (its id and the fresh secret's hash) and take
    /// hold of its id.
    Create { id: DeviceId },
}

impl Plan {
    pub fn id(&self) -> DeviceId {
        match *self {
            Plan::Hold { id, .. } | Plan::Create { id } => id,
        }
    }
}

impl Operation for Register {
    type Facts = Facts;
    type Plan = Plan;
    type Written = ();
    type Reply = Registration;
    type Refusal = RegisterError;
    /// The device's new holder, so every node's listeners hear of it and
    /// the node of a connection taken over closes it.
    type Published = Option<Presence>;

    const REPLY_IS_SECRET: bool = true;

    fn decide(&self, facts: Facts) -> Result<Plan, RegisterError> {
        match facts {
            Facts::Known { id, latest } => Ok(Plan::Hold { id, latest }),
            Facts::Unknown { next } => match DeviceId::try_from(next) {
                Ok(id) if (1..=MAX_DEVICE_ID).contains(&id) => Ok(Plan::Create { id }),
                _ => Err(RegisterError::IdsExhausted),
            },
        }
    }

    fn finish(
        &self,
        plan: Plan,
        (): (),
    ) -> Result<(Registration, Option<Presence>), RegisterError> {
        let (secret, latest) = match plan {
            Plan::Hold { latest, .. } => (self.sent.clone().unwrap_or_default(), latest),
            Plan::Create { .. } => (self.fresh.clone(), None),
        };
        let id = plan.id();
        let registration = Registration { id, secret, latest };
        Ok((
            registration,
            Some(Presence {
                device: id,
                holder: self.holder,
                connected: true,
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLDER: Holder = Holder {
        node: 1,
        session: 7,
    };

    #[test]
    fn a_known_secret_gets_its_device_back_with_its_newest_score() {
        let op = Register::new(Some("kept".into()), HOLDER);
        let latest = Some(LatestScore {
            timestamp: 5,
            score: 40,
        });
        let plan = op.decide(Facts::Known { id: 12, latest }).unwrap();
        assert_eq!(plan, Plan::Hold { id: 12, latest });
        let (reply, published) = op.finish(plan, ()).unwrap();
        assert_eq!(
            (reply.id, reply.secret.as_str(), reply.latest),
            (12, "kept", latest)
        );
        assert_eq!(
            published,
            Some(Presence {
                device: 12,
                holder: HOLDER,
                connected: true,
            })
        );
    }

    #[test]
    fn anything_else_gets_the_next_id_and_a_fresh_secret() {
        let op = Register::new(Some("never issued".into()), HOLDER);
        let plan = op.decide(Facts::Unknown { next: 3 }).unwrap();
        assert_eq!(plan, Plan::Create { id: 3 });
        let (reply, _) = op.finish(plan, ()).unwrap();
        assert_eq!(reply.id, 3);
        assert_ne!(reply.secret, "never issued");
        assert_eq!(secrets::hash(&reply.secret), op.fresh_hash());
        assert_eq!(reply.latest, None);
    }

    #[test]
    fn past_the_six_digit_range_no_device_is_made() {
        let op = Register::new(None, HOLDER);
        let full = op.decide(Facts::Unknown {
            next: i64::from(MAX_DEVICE_ID) + 1,
        });
        assert!(matches!(full, Err(RegisterError::IdsExhausted)));
        assert_eq!(
            op.decide(Facts::Unknown {
                next: i64::from(MAX_DEVICE_ID)
            })
            .unwrap(),
            Plan::Create { id: MAX_DEVICE_ID }
        );
    }
}
