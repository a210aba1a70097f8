//! A connection takes its device's id back after the cluster released it
//! while the connection stayed open (its node's lease lapsed), unless
//! another connection holds the id now.

use std::convert::Infallible;

use crate::judging::ops::Operation;
use crate::scoring::{DeviceId, Holder};
use crate::store::Presence;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaim {
    pub device: DeviceId,
    pub holder: Holder,
}

impl Operation for Reclaim {
    type Facts = ();
    /// Insert the presence row unless the device has one.
    type Plan = ();
    /// Whether the row was inserted.
    type Written = bool;
    /// Whether the connection holds its id again.
    type Reply = bool;
    type Refusal = Infallible;
    type Published = Option<Presence>;

    fn decide(&self, (): ()) -> Result<(), Infallible> {
        Ok(())
    }

    fn finish(&self, (): (), taken: bool) -> Result<(bool, Option<Presence>), Infallible> {
        let change = taken.then_some(Presence {
            device: self.device,
            holder: self.holder,
            connected: true,
        });
        Ok((taken, change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_comes_back_only_if_no_one_took_it() {
        let holder = Holder {
            node: 3,
            session: 1,
        };
        let op = Reclaim { device: 8, holder };
        let Ok((back, heard)) = op.finish((), true);
        assert!(back);
        assert_eq!(
            heard,
            Some(Presence {
                device: 8,
                holder,
                connected: true,
            })
        );
        let Ok((back, heard)) = op.finish((), false);
        assert!(!back);
        assert_eq!(heard, None);
    }
}
