//! Counts each user's open event sockets in this process, so that one account cannot hold an
//! unbounded number of them (each costs a task, a subscription and a session re-read every
//! few seconds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

/// Open sockets per user.
#[derive(Clone, Default)]
pub struct SocketSlots {
    open: Arc<Mutex<HashMap<Uuid, u32>>>,
}

/// One open socket; dropping it frees the slot.
pub struct Slot {
    slots: SocketSlots,
    user: Uuid,
}

impl SocketSlots {
    /// Takes a slot for `user` if they hold fewer than `max`.
    pub fn open(&self, user: Uuid, max: u32) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(user).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            user,
        })
    }

    /// How many sockets `user` holds.
    pub fn count(&self, user: Uuid) -> u32 {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&user).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_freed_on_drop() {
        let slots = SocketSlots::default();
        let (joe, jane) = (Uuid::now_v7(), Uuid::now_v7());
        let a = slots.open(joe, 2).unwrap();
        let _b = slots.open(joe, 2).unwrap();
        assert!(slots.open(joe, 2).is_none());
        let _c = slots.open(jane, 2).unwrap();
        drop(a);
        assert_eq!(slots.count(joe), 1);
        assert!(slots.open(joe, 2).is_some());
    }
}
