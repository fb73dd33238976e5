//! A warm environment's cgroups, made before their run and removed after it on a thread of
//! the environment's own, so that neither step is on a run's path.
//!
//! Each run still gets a group of its own, made fresh (never reused: a v1 memory group
//! would keep the page cache earlier runs were charged for, and a reused group's peak
//! would count it). The next run's group is made while the caller is busy between runs
//! (checking an output, say) and the environment's holder resets; the last run's group is
//! removed at the same time, after its figures were read. A group made for limits the
//! next run does not ask for is removed and one is made on the spot.

use crate::cgroup::{CgroupLimits, Layout, RunCgroup};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

enum Order {
    /// Make a group with these limits; the answer goes to `made`.
    Make(Layout, CgroupLimits),
    /// Remove this group (its figures were read, its processes are dead).
    Remove(RunCgroup),
}

type Made = std::io::Result<Option<RunCgroup>>;

pub(crate) struct Keeper {
    orders: Option<Sender<Order>>,
    made: Receiver<Made>,
    /// The limits of the group ordered last and not yet taken.
    ordered: Option<CgroupLimits>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    pub(crate) fn new() -> std::io::Result<Keeper> {
        let (orders, inbox) = channel::<Order>();
        let (outbox, made) = channel::<Made>();
        let thread = std::thread::Builder::new().name("sandbox-cgroups".into()).spawn(move || {
            for order in inbox {
                match order {
                    Order::Make(layout, limits) => {
                        if outbox.send(RunCgroup::create(&layout, limits)).is_err() {
                            return;
                        }
                    }
                    Order::Remove(mut cg) => {
                        cg.kill();
                        if let Err(e) = cg.destroy() {
                            tracing::warn!("removing a warm run's cgroup: {e}");
                        }
                    }
                }
            }
        })?;
        Ok(Keeper { orders: Some(orders), made, ordered: None, thread: Some(thread) })
    }

    /// The group for a run with `limits`: the one made ahead if its limits are these, else
    /// one made now (and the one made ahead removed).
    pub(crate) fn take(&mut self, layout: &Layout, limits: CgroupLimits) -> Made {
        if let Some(ahead) = self.ordered.take() {
            match self.made.recv() {
                Ok(Ok(Some(cg))) if same(ahead, limits) => return Ok(Some(cg)),
                Ok(Ok(Some(cg))) => self.remove(cg),
                // A failure made ahead is tried again on the spot (and reported from there).
                Ok(_) | Err(_) => {}
            }
        }
        RunCgroup::create(layout, limits)
    }

    /// Removes `cg` in the background.
    pub(crate) fn remove(&mut self, cg: RunCgroup) {
        match self.orders.as_ref() {
            Some(tx) => {
                if let Err(std::sync::mpsc::SendError(Order::Remove(mut cg))) = tx.send(Order::Remove(cg)) {
                    let _ = cg.destroy();
                }
            }
            None => drop(cg),
        }
    }

    /// Orders the next run's group, with the limits the last run had.
    pub(crate) fn make_ahead(&mut self, layout: &Layout, limits: CgroupLimits) {
        if self.ordered.is_some() {
            return;
        }
        if let Some(tx) = self.orders.as_ref() {
            if tx.send(Order::Make(layout.clone(), limits)).is_ok() {
                self.ordered = Some(limits);
            }
        }
    }
}

fn same(a: CgroupLimits, b: CgroupLimits) -> bool {
    (a.memory_bytes, a.pids) == (b.memory_bytes, b.pids)
}

impl Drop for Keeper {
    /// Waits for every removal, and removes a group made ahead and never used: nothing of
    /// the environment's cgroups outlives it.
    fn drop(&mut self) {
        drop(self.orders.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Dropping a RunCgroup removes it.
        while let Ok(made) = self.made.try_recv() {
            drop(made);
        }
    }
}
