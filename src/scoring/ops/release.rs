//! A clicker's connection ended: its device is disconnected on every node,
//! unless another connection took the id over already (then that one holds
//! it, and nothing changes).

use std::convert::Infallible;

use crate::judging::ops::Operation;
use crate::scoring::{DeviceId, Holder};
use crate::store::Presence;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub device: DeviceId,
    pub holder: Holder,
}

impl Operation for Release {
    type Facts = ();
    /// Delete the presence row if `holder` still holds the device.
    type Plan = ();
    /// Whether the row was deleted.
    type Written = bool;
    type Reply = ();
    type Refusal = Infallible;
    type Published = Option<Presence>;

    fn decide(&self, (): ()) -> Result<(), Infallible> {
        Ok(())
    }

    fn finish(&self, (): (), released: bool) -> Result<((), Option<Presence>), Infallible> {
        let change = released.then_some(Presence {
            device: self.device,
            holder: self.holder,
            connected: false,
        });
        Ok(((), change))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_holder_s_release_is_heard() {
        let holder = Holder {
            node: 2,
            session: 9,
        };
        let op = Release { device: 4, holder };
        let Ok(((), heard)) = op.finish((), true);
        assert_eq!(
            heard,
            Some(Presence {
                device: 4,
                holder,
                connected: false,
            })
        );
        let Ok(((), taken_over)) = op.finish((), false);
        assert_eq!(taken_over, None);
    }
}
