//! Turn structure: who acts this step, which acts are legal, who is done.

use crate::{AgentId, buffers::Window};
use bevy_ecs::component::Component;

/// How agents take turns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TurnOrder {
    /// Every agent that is not done acts at every step.
    #[default]
    Simultaneous,
    /// Every agent that is not done may act, and the game's `Observe` systems choose which do
    /// ([`Turn::set_acting`]: only donors act, say).
    Chosen,
    /// One agent acts per step, cycling through the agents that are not done in id order.
    RoundRobin,
}

/// Who acts at the coming step. The kernel sets it before `Observe` from the [`TurnOrder`] and
/// the done flags; where the order is [`TurnOrder::Chosen`], the game's `Observe` systems narrow
/// it.
///
/// An idle agent may do nothing: its row of the action masks is all 0. The kernel forbids the
/// rows of agents idle by the order or done as it sets the turn, and, in a game that chooses,
/// those of the agents the game made idle once its `Observe` systems have run.
#[derive(Component, Debug)]
#[component(on_insert = crate::buffers::stay_home::<Self>)]
pub struct Turn {
    pub(crate) order: TurnOrder,
    pub(crate) acting: Window<bool>,
    /// Next agent in round-robin order.
    pub(crate) next: usize,
}

impl Turn {
    pub(crate) fn new(order: TurnOrder, acting: Window<bool>) -> Self {
        Turn {
            order,
            acting,
            next: 0,
        }
    }

    /// Whether `a` acts at the coming step.
    #[inline]
    pub fn is_acting(&self, a: AgentId) -> bool {
        self.acting[a.index()]
    }

    /// Marks `a` as acting or idle at the coming step.
    ///
    /// # Panics
    ///
    /// Where the game's turn order is not [`TurnOrder::Chosen`]: a game that chooses who acts
    /// says so (`Rules::turn_order`), so that the kernel forbids the acts of those it idles.
    #[inline]
    pub fn set_acting(&mut self, a: AgentId, acting: bool) {
        if self.order != TurnOrder::Chosen {
            not_chosen(self.order);
        }
        self.acting[a.index()] = acting;
    }

    /// The acting flags, `[agents]`.
    pub fn acting(&self) -> &[bool] {
        &self.acting
    }

    /// Sets the flags for the coming step from the order and who is done.
    pub(crate) fn advance(&mut self, done: &Done) {
        let n = self.acting.len();
        match self.order {
            TurnOrder::Simultaneous | TurnOrder::Chosen => {
                let flags = self.acting.iter_mut();
                for ((flag, &t), &u) in flags.zip(done.terminated.iter()).zip(done.truncated.iter())
                {
                    *flag = !(t || u);
                }
            }
            TurnOrder::RoundRobin => {
                self.acting.fill(false);
                if let Some(a) = (0..n)
                    .map(|i| (self.next + i) % n)
                    .find(|&a| !done.is_done(AgentId(a as u32)))
                {
                    self.acting[a] = true;
                    self.next = (a + 1) % n;
                }
            }
        }
    }
}

/// [`Turn::set_acting`]'s refusal, out of the loops that call it.
#[cold]
#[inline(never)]
fn not_chosen(order: TurnOrder) -> ! {
    panic!(
        "Turn::set_acting in a game whose turn order is {order:?}: a game that chooses who acts \
         declares `TurnOrder::Chosen` (Rules::turn_order)"
    )
}

/// Per-agent end flags of the episode, PettingZoo style: `terminated` when the game ended for the
/// agent, `truncated` when the step limit cut it short.
#[derive(Component, Debug)]
#[component(on_insert = crate::buffers::stay_home::<Self>)]
pub struct Done {
    pub(crate) terminated: Window<bool>,
    pub(crate) truncated: Window<bool>,
    pub(crate) max_steps: Option<u32>,
}

impl Done {
    pub(crate) fn new(
        terminated: Window<bool>,
        truncated: Window<bool>,
        max_steps: Option<u32>,
    ) -> Self {
        Done {
            terminated,
            truncated,
            max_steps,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.terminated.fill(false);
        self.truncated.fill(false);
    }

    /// Ends the episode for `a` (the game's own end).
    pub fn terminate(&mut self, a: AgentId) {
        self.terminated[a.index()] = true;
    }

    /// Ends the episode for everyone.
    pub fn terminate_all(&mut self) {
        self.terminated.fill(true);
    }

    /// Cuts the episode short for everyone not terminated: a game's own time limit, which ends
    /// it without an outcome, as the scenario's step limit does.
    pub fn truncate_all(&mut self) {
        for (t, u) in self.terminated.iter().zip(self.truncated.iter_mut()) {
            *u = !*t;
        }
    }

    /// Whether the scenario's step limit ends the episode after step `step` (0-based): a game
    /// settles there what it would otherwise settle at the next step.
    pub fn is_last_step(&self, step: u32) -> bool {
        self.max_steps.is_some_and(|m| step + 1 >= m)
    }

    /// Whether `a` is terminated or truncated.
    #[inline]
    pub fn is_done(&self, a: AgentId) -> bool {
        self.terminated[a.index()] || self.truncated[a.index()]
    }

    /// Whether every agent is done.
    pub fn all_done(&self) -> bool {
        self.terminated
            .iter()
            .zip(self.truncated.iter())
            .all(|(t, u)| *t || *u)
    }
}

/// Where the Sim is in time.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct Clock {
    pub(crate) step: u32,
    pub(crate) episode: u64,
}

impl Clock {
    /// Steps taken in this episode (the step being resolved, 0-based, during `Decide`..`Record`).
    pub fn step(&self) -> u32 {
        self.step
    }

    /// Episodes since the last seeded reset (0-based).
    pub fn episode(&self) -> u64 {
        self.episode
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffers::{Envs, RowDims};

    /// Three agents' done flags and turn, in `order`.
    fn flags(order: TurnOrder) -> Envs<(Done, Turn)> {
        Envs::new(1, 3, RowDims::default(), |mut w| {
            let w = w.pop().expect("one env");
            (
                Done::new(w.terminated, w.truncated, None),
                Turn::new(order, w.acting),
            )
        })
    }

    #[test]
    fn round_robin_skips_done_agents() {
        let mut envs = flags(TurnOrder::RoundRobin);
        let (done, turn) = envs.held_mut();
        let mut order = Vec::new();
        for i in 0..5 {
            if i == 2 {
                done.terminate(AgentId(0));
            }
            turn.advance(done);
            order.push(turn.acting.iter().position(|&x| x).unwrap());
            assert_eq!(turn.acting.iter().filter(|&&x| x).count(), 1);
        }
        assert_eq!(order, vec![0, 1, 2, 1, 2]);
    }

    #[test]
    fn simultaneous_acts_for_all_not_done() {
        let mut envs = flags(TurnOrder::Simultaneous);
        let (done, turn) = envs.held_mut();
        done.terminate(AgentId(1));
        turn.advance(done);
        assert_eq!(*turn.acting, [true, false, true]);
        assert!(!done.all_done());
        done.terminate_all();
        assert!(done.all_done());
    }
}
