//! Warm environments kept between submissions: a small pool per thread.
//!
//! A judged submission's environment is recycled instead of dropped: its box is replaced
//! by an empty one (`sandbox::Environment::load_box`), which also takes the reset of its
//! last run, and it waits here for the next submission of a configuration it fits (same
//! root filesystem, binds and sizes: in practice the same language), which loads its own
//! box into it. An environment serves one submission at a time and is never shared; one
//! whose recycling fails is dropped.
//!
//! Per thread, because an environment lives and dies with the thread that made it (its
//! holder's parent-death signal). A thread's pool goes with the thread.

use sandbox::{Environment, RunConfig};
use std::cell::RefCell;

thread_local! {
    static IDLE: RefCell<Vec<Environment>> = const { RefCell::new(Vec::new()) };
}

/// An environment for `cfg`: an idle one of this thread that fits it, its box loaded from
/// `cfg`'s, or a new one. None when no environment can be made (rootless, no cgroups, a
/// policy that leaves the keyrings open): the caller runs cold.
pub(crate) fn take(cfg: &RunConfig) -> Option<Environment> {
    let found = IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let at = idle.iter().position(|e| e.fits(cfg))?;
        Some(idle.remove(at))
    });
    if let Some(mut env) = found {
        match env.load_box(cfg.box_dir.as_deref()) {
            Ok(()) => return Some(env),
            Err(e) => tracing::warn!("a pooled environment could not take the box ({e}); making a new one"),
        }
    }
    Environment::new(cfg).ok()
}

/// Gives `env` back after its submission: emptied and kept if fewer than `keep` wait
/// here, else dropped (the oldest first).
pub(crate) fn give_back(mut env: Environment, keep: usize) {
    if keep == 0 {
        return;
    }
    if let Err(e) = env.load_box(None) {
        tracing::warn!("a used environment could not be emptied ({e}); dropped");
        return;
    }
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.push(env);
        while idle.len() > keep {
            idle.remove(0);
        }
    });
}

/// How many environments wait in this thread's pool.
pub fn idle_here() -> usize {
    IDLE.with(|idle| idle.borrow().len())
}

/// A submission's environment (if any), given back to the pool when the judging ends,
/// whichever way it ends.
pub(crate) struct Held {
    pub env: Option<Environment>,
    keep: usize,
}

impl Held {
    pub fn new(env: Option<Environment>, keep: usize) -> Held {
        Held { env, keep }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(env) = self.env.take() {
            give_back(env, self.keep);
        }
    }
}
