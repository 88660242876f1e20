//! The kernel's per-agent rows of every env (observations, masks, actions, acting flags, the
//! step's rewards, done flags), held in flat buffers, one a kind for all the envs of a `Sim` or a
//! `VecEnv`, and the windows through which each env's components use its part of them. Windows
//! also split a block's own per-agent state into block-wide arrays ([`Window::split`]: the reward
//! sums, a game's state through `GameBuilder::env_array`), which nothing but the windows reads.
//!
//! Why: a VecEnv's outputs are these rows, `[envs × agents × ...]`. Kept in each env's components
//! and copied into the caller's buffers after every step, they were touched twice a step; at
//! thousands of envs, out of cache, the copies' destinations were about 12 of the 83 cache lines
//! an env-step brought from memory (docs/BENCHMARKS-LOG.md). Kept here, they are written once,
//! where the caller reads them: Python takes them as numpy arrays without a copy.
//!
//! The windows are the crate's one use of `unsafe`. Each holds a share of the buffers (an `Arc`),
//! so their memory outlives every window, wherever a window goes; the buffers are written only
//! through the windows, each the only way to its part; and [`Envs`], which holds the buffers and
//! the blocks that hold the windows together, lends the buffers out only through `&self`, while
//! no block can run. Bevy lets game code move a component out of its World (an exclusive system
//! can take one, or the World itself), and a window so moved could be written on another thread
//! while the rows are read. So every time game code has had a block's World, [`Holders::play`]
//! checks that it is still the block's World and counts the components that hold windows there,
//! and the holders' insert hook ([`stay_home`]) checks that each enters only a World of its own
//! buffers; where either fails the process stops. A window outside its World, or in another
//! owner's, is never there when the rows are lent.
#![allow(unsafe_code, reason = "the windows: see the module's doc")]

use crate::{ActionMasks, Actions, Done, Observations, StepRewards, Turn};
use bevy_ecs::{
    archetype::ArchetypeId,
    component::ComponentId,
    lifecycle::HookContext,
    prelude::*,
    world::{DeferredWorld, WorldId},
};
use std::{
    fmt,
    panic::{self, AssertUnwindSafe},
    ptr::NonNull,
    sync::Arc,
};

/// What holds a set of envs (`T`: a block, or a `VecEnv`'s blocks) and the buffers of those envs'
/// rows, together: the envs' components use the buffers through windows, which stay in `T`.
pub(crate) struct Envs<T> {
    held: T,
    rows: Arc<VecBuffers>,
}

impl<T> Envs<T> {
    /// `envs` envs of `agents` agents: zeroed rows, and `make` given each env's windows (in env
    /// order) to build what holds them.
    pub(crate) fn new(
        envs: usize,
        agents: usize,
        dims: RowDims,
        make: impl FnOnce(Vec<EnvWindows>) -> T,
    ) -> Envs<T> {
        let mut rows = VecBuffers::new(envs, agents, dims);
        // Taken while the buffers are ours alone, through `as_mut_ptr`, which materialises no
        // reference to their memory: the windows write through these, and the `Arc` that
        // moves the buffers moves none of that memory.
        let starts = Starts {
            obs: rows.obs.as_mut_ptr(),
            masks: rows.masks.as_mut_ptr(),
            acting: rows.acting.as_mut_ptr(),
            rewards: rows.rewards.as_mut_ptr(),
            reward_components: rows.reward_components.as_mut_ptr(),
            terminated: rows.terminated.as_mut_ptr(),
            truncated: rows.truncated.as_mut_ptr(),
            actions: rows.actions.as_mut_ptr(),
        };
        let rows = Arc::new(rows);
        let windows = (0..envs).map(|e| starts.windows(&rows, envs, e)).collect();
        Envs {
            held: make(windows),
            rows,
        }
    }

    /// The envs' rows as their last run left them.
    pub(crate) fn rows(&self) -> &VecBuffers {
        &self.rows
    }

    /// What holds the envs.
    pub(crate) fn held(&self) -> &T {
        &self.held
    }

    /// What holds the envs, to run them.
    pub(crate) fn held_mut(&mut self) -> &mut T {
        &mut self.held
    }
}

/// A component that holds windows into the buffers of one owner (all its windows into the same).
pub(crate) trait HoldsWindows {
    /// The buffers its windows are parts of.
    fn buffers(&self) -> *const ();
}

/// The buffers a block's windows are parts of, as a resource of its World (by address): which
/// holders may enter it.
#[derive(Resource)]
pub(crate) struct Home(usize);

impl Home {
    pub(crate) fn of(windows: &EnvWindows) -> Home {
        Home(windows.obs.owner() as usize)
    }
}

/// The insert hook of every component that holds windows: it may enter only a World whose
/// buffers its windows are parts of. Game code that carried one into another owner's World (two
/// Sims stepped at once, handing components between them) would have it written there while its
/// owner's rows are read: the process stops.
pub(crate) fn stay_home<C: Component + HoldsWindows>(world: DeferredWorld, ctx: HookContext) {
    let home = world.get_resource::<Home>().map(|h| h.0);
    let held = world.get::<C>(ctx.entity).map(|c| c.buffers() as usize);
    if home.is_none() || home != held {
        let name = std::any::type_name::<C>()
            .rsplit("::")
            .next()
            .unwrap_or("?");
        stop(&format!(
            "a game moved the kernel's `{name}` component into another World than its own"
        ));
    }
}

/// Stops the process: game code has put a window where it could be written while its rows are
/// read (nothing else would be sound: the window is out of reach, and a caught panic would leave
/// the rows lent out).
#[cold]
fn stop(what: &str) -> ! {
    eprintln!(
        "socium: {what}. It holds a window into the rows the caller reads, so the process \
         stops. A game must leave the kernel's components in their env (docs/ARCHITECTURE.md, \
         Invariants)."
    );
    std::process::abort()
}

/// The components that hold an env's windows, by their ids in a block's World: each env has one
/// of each, and nothing else can make one.
pub(crate) struct Holders {
    /// The block's World, which game code must leave in place.
    world: WorldId,
    ids: [(ComponentId, &'static str); 6],
    /// An archetype with all six, which held every env at the last count: while it holds as
    /// many entities, each holder is there once an env, and nothing needs counting.
    home: Option<ArchetypeId>,
}

impl Holders {
    /// The holders' ids in `world`.
    pub(crate) fn new(world: &mut World) -> Holders {
        fn id<C: Component>(world: &mut World, name: &'static str) -> (ComponentId, &'static str) {
            (world.register_component::<C>(), name)
        }
        Holders {
            world: world.id(),
            ids: [
                id::<Observations>(world, "Observations"),
                id::<ActionMasks>(world, "ActionMasks"),
                id::<Actions>(world, "Actions"),
                id::<Turn>(world, "Turn"),
                id::<Done>(world, "Done"),
                id::<StepRewards>(world, "StepRewards"),
            ],
            home: None,
        }
    }

    /// Runs game code (`play`) on `world`, a block of `envs` envs, and the commands it queued;
    /// then, even when `play` panicked, checks that `world` is still the block's and counts the
    /// holders in it. Where the World is another or some holders are missing, game code has
    /// moved a window out, which could be written while the rows are read: the process stops.
    pub(crate) fn play<R>(
        &mut self,
        world: &mut World,
        envs: usize,
        play: impl FnOnce(&mut World) -> R,
    ) -> R {
        let played = panic::catch_unwind(AssertUnwindSafe(|| {
            let played = play(world);
            // Commands game code queued (through a `DeferredWorld`, say) run now, not after.
            world.flush();
            played
        }));
        if world.id() != self.world {
            stop("a game replaced its block's World")
        }
        if let Err((name, found)) = self.count(world, envs) {
            stop(&format!(
                "a game moved the kernel's `{name}` component out of its env: a block of {envs} \
                 envs holds {found}"
            ));
        }
        played.unwrap_or_else(|panic| panic::resume_unwind(panic))
    }

    /// Whether `world` holds each holder `envs` times; if not, the first short and how many of it
    /// the World holds.
    fn count(&mut self, world: &World, envs: usize) -> Result<(), (&'static str, usize)> {
        let archetypes = world.archetypes();
        let at_home = |a: ArchetypeId| archetypes.get(a).is_some_and(|a| a.len() as usize == envs);
        if self.home.is_some_and(at_home) {
            return Ok(());
        }
        let holding = |id| archetypes.component_index().get(&id).into_iter().flatten();
        for &(id, name) in &self.ids {
            let found: usize = holding(id)
                .map(|(&a, _)| archetypes[a].len() as usize)
                .sum();
            if found != envs {
                return Err((name, found));
            }
        }
        let holds_all =
            |a: &ArchetypeId| self.ids.iter().all(|&(id, _)| archetypes[*a].contains(id));
        self.home = holding(self.ids[0].0)
            .map(|(&a, _)| a)
            .find(|&a| at_home(a) && holds_all(&a));
        Ok(())
    }
}

impl HoldsWindows for Observations {
    fn buffers(&self) -> *const () {
        self.0.data.owner()
    }
}

impl HoldsWindows for ActionMasks {
    fn buffers(&self) -> *const () {
        self.0.data.owner()
    }
}

impl HoldsWindows for Actions {
    fn buffers(&self) -> *const () {
        self.0.data.owner()
    }
}

impl HoldsWindows for Turn {
    fn buffers(&self) -> *const () {
        self.acting.owner()
    }
}

impl HoldsWindows for Done {
    fn buffers(&self) -> *const () {
        self.terminated.owner()
    }
}

impl HoldsWindows for StepRewards {
    fn buffers(&self) -> *const () {
        self.components.owner()
    }
}

/// Where each buffer of a [`VecBuffers`] starts.
struct Starts {
    obs: *mut f32,
    masks: *mut u8,
    acting: *mut bool,
    rewards: *mut f32,
    reward_components: *mut f32,
    terminated: *mut bool,
    truncated: *mut bool,
    actions: *mut f32,
}

impl Starts {
    /// Env `env`'s windows (of `envs`) into `rows`, whose buffers these are the starts of.
    fn windows(&self, rows: &Arc<VecBuffers>, envs: usize, env: usize) -> EnvWindows {
        fn window<T>(
            rows: &Arc<VecBuffers>,
            start: *mut T,
            total: usize,
            envs: usize,
            env: usize,
        ) -> Window<T> {
            let len = total / envs.max(1);
            Window {
                start: NonNull::new(start.wrapping_add(env * len))
                    .expect("a Vec's pointer is never null"),
                len,
                owner: Arc::clone(rows) as Arc<dyn Send + Sync>,
            }
        }
        EnvWindows {
            obs: window(rows, self.obs, rows.obs.len(), envs, env),
            masks: window(rows, self.masks, rows.masks.len(), envs, env),
            acting: window(rows, self.acting, rows.acting.len(), envs, env),
            rewards: window(rows, self.rewards, rows.rewards.len(), envs, env),
            reward_components: window(
                rows,
                self.reward_components,
                rows.reward_components.len(),
                envs,
                env,
            ),
            terminated: window(rows, self.terminated, rows.terminated.len(), envs, env),
            truncated: window(rows, self.truncated, rows.truncated.len(), envs, env),
            actions: window(rows, self.actions, rows.actions.len(), envs, env),
        }
    }
}

/// Every env's rows, `[envs × agents × ...]` each, as the last reset or step left them. A
/// [`crate::VecEnv`] holds one for all its envs and lends it out read-only
/// ([`crate::VecEnv::outputs`]); a clone is a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VecBuffers {
    /// Observations for the coming step, `[envs × agents × obs_dim]`.
    pub obs: Vec<f32>,
    /// Action masks for the coming step, `[envs × agents × mask_dim]` (1 = legal).
    pub masks: Vec<u8>,
    /// Who acts at the coming step, `[envs × agents]`.
    pub acting: Vec<bool>,
    /// Scalar rewards of the step, `[envs × agents]` (0 for an env reset by it).
    pub rewards: Vec<f32>,
    /// Transformed rewards per dimension, `[envs × agents × dims]` (0 for an env reset by it).
    pub reward_components: Vec<f32>,
    /// Whether the game ended for the agent, `[envs × agents]`.
    pub terminated: Vec<bool>,
    /// Whether the step limit cut the agent's episode short, `[envs × agents]`.
    pub truncated: Vec<bool>,
    /// Every agent's action at the last step, `[envs × agents × action_dim]` (an env reset by the
    /// step keeps its episode's last actions; the rows of agents that did not act are stale).
    pub actions: Vec<f32>,
}

/// Values per agent in each kind of row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowDims {
    pub(crate) obs: usize,
    pub(crate) masks: usize,
    pub(crate) actions: usize,
    pub(crate) rewards: usize,
}

/// One env's part of every buffer of a [`VecBuffers`].
pub(crate) struct EnvWindows {
    pub(crate) obs: Window<f32>,
    pub(crate) masks: Window<u8>,
    pub(crate) acting: Window<bool>,
    pub(crate) rewards: Window<f32>,
    pub(crate) reward_components: Window<f32>,
    pub(crate) terminated: Window<bool>,
    pub(crate) truncated: Window<bool>,
    pub(crate) actions: Window<f32>,
}

impl VecBuffers {
    /// Zeroed buffers for `envs` envs of `agents` agents.
    pub(crate) fn new(envs: usize, agents: usize, dims: RowDims) -> VecBuffers {
        let rows = envs * agents;
        VecBuffers {
            obs: vec![0.0; rows * dims.obs],
            masks: vec![0; rows * dims.masks],
            acting: vec![false; rows],
            rewards: vec![0.0; rows],
            reward_components: vec![0.0; rows * dims.rewards],
            terminated: vec![false; rows],
            truncated: vec![false; rows],
            actions: vec![0.0; rows * dims.actions],
        }
    }

    /// Whether `values` lies, in whole or in part, in one of these buffers. Safe Rust cannot lend
    /// a step its own rows, but a caller from outside can (Python passing `outputs()`' actions
    /// back): the step, which writes them, must then read a copy.
    pub fn overlaps<T>(&self, values: &[T]) -> bool {
        fn bytes<T>(s: &[T]) -> std::ops::Range<usize> {
            let r = s.as_ptr_range();
            r.start as usize..r.end as usize
        }
        let given = bytes(values);
        [
            bytes(&self.obs),
            bytes(&self.masks),
            bytes(&self.acting),
            bytes(&self.rewards),
            bytes(&self.reward_components),
            bytes(&self.terminated),
            bytes(&self.truncated),
            bytes(&self.actions),
        ]
        .iter()
        .any(|b| b.start < given.end && given.start < b.end)
    }

    /// Whether every agent of env `env` is done (terminated or truncated).
    pub(crate) fn all_done(&self, env: usize, agents: usize) -> bool {
        let rows = env * agents..(env + 1) * agents;
        self.terminated[rows.clone()]
            .iter()
            .zip(&self.truncated[rows])
            .all(|(t, u)| *t || *u)
    }
}

/// One env's part of a block-wide array, which its component reads and writes as a slice, and a
/// share of what owns the array, which keeps it alive: a buffer of a [`VecBuffers`], or an array
/// of a block's own per-agent state (a game's, through `GameBuilder::env_array`). No two windows
/// overlap, and none is cloned: a window is as one env's `Box<[T]>`.
///
/// Why block-wide arrays: a system sweeping a block's envs then streams each array, which the
/// hardware prefetches, where a vector of each env's own is a scattered short run
/// (`benches/layout_probe.rs`: with 12 MiB of state, 0.9 of the 64-env speed against half). The
/// reward sums and the cultural donor game's state so kept took the Python VecEnv at 4,096 envs
/// from 0.63–0.72 of its 64-env rate to 0.71–0.74 on a 32 MiB L3 (docs/BENCHMARKS-LOG.md).
pub struct Window<T> {
    start: NonNull<T>,
    len: usize,
    owner: Arc<dyn Send + Sync>,
}

impl<T: Clone + Send + Sync + 'static> Window<T> {
    /// `count` windows of `len` values each, all `value`, into one new array: env `e`'s the
    /// `e`-th. Only the windows reach the array, so, unlike the buffers' windows, these need no
    /// holder checks: moved anywhere, a window is still the one way to its part.
    pub fn split(value: T, len: usize, count: usize) -> Vec<Window<T>> {
        let mut array = vec![value; len * count];
        // Taken before the array moves into its `Arc`, which moves none of its memory.
        let start = array.as_mut_ptr();
        let owner: Arc<dyn Send + Sync> = Arc::new(array);
        (0..count)
            .map(|e| Window {
                start: NonNull::new(start.wrapping_add(e * len))
                    .expect("a Vec's pointer is never null"),
                len,
                owner: Arc::clone(&owner),
            })
            .collect()
    }
}

impl<T> Window<T> {
    /// What owns the array, by address.
    fn owner(&self) -> *const () {
        Arc::as_ptr(&self.owner).cast()
    }
}

// SAFETY: a window is the only way to write its part of the buffer, like a `&mut [T]` that the
// World holding it carries from thread to thread (the module's doc).
unsafe impl<T: Send> Send for Window<T> {}
// SAFETY: as above: shared, it only reads.
unsafe impl<T: Sync> Sync for Window<T> {}

impl<T> std::ops::Deref for Window<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: the window's share keeps the memory alive and initialised (the buffers are
        // never resized), and only this window writes to it (the module's doc).
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl<T> std::ops::DerefMut for Window<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the window.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), self.len) }
    }
}

impl<T: fmt::Debug> fmt::Debug for Window<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One env's list of a step's records (its utterances, its reward entries), whose number
/// nothing bounds: kept in the room of a window of a block-wide array
/// ([`Window::split`]) until a step outgrows the room, then in a vector of its own (the step's
/// records moved there), for that step and every later one. Reads as one slice either way.
///
/// Why: a vector of each env's own puts each env's records at an address of their own, which a
/// sweep of the block's envs meets as scattered misses; rooms side by side are one stream. An env
/// whose steps outgrow the room pays the move once, not at every step.
pub(crate) struct Log<T> {
    room: Window<T>,
    len: usize,
    /// Whether a step outgrew the room: the records are in `spill` since.
    outgrown: bool,
    spill: Vec<T>,
}

impl<T: Clone + Send + Sync + 'static> Log<T> {
    /// `count` empty logs, each with room for `room` records in one array; `filler` fills the room
    /// not yet used.
    pub(crate) fn split(filler: T, room: usize, count: usize) -> Vec<Log<T>> {
        let rooms = Window::split(filler, room, count);
        rooms.into_iter().map(Log::new).collect()
    }

    /// An empty log with room for `room.len()` records.
    fn new(room: Window<T>) -> Log<T> {
        Log {
            room,
            len: 0,
            outgrown: false,
            spill: Vec::new(),
        }
    }

    /// Adds a record at the end.
    #[inline]
    pub(crate) fn push(&mut self, record: T) {
        if !self.outgrown {
            if let Some(free) = self.room.get_mut(self.len) {
                *free = record;
                self.len += 1;
                return;
            }
            self.outgrown = true;
            self.spill.extend_from_slice(&self.room[..self.len]);
        }
        self.spill.push(record);
        self.len += 1;
    }
}

impl<T> Log<T> {
    /// Empties the log (the room's old records stay until written over).
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }
}

impl<T> std::ops::Deref for Log<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self.outgrown {
            false => &self.room[..self.len],
            true => &self.spill,
        }
    }
}

impl<T> Default for Log<T> {
    /// A log without room: every record goes to its own vector.
    fn default() -> Log<T> {
        let room = Window {
            start: NonNull::dangling(),
            len: 0,
            owner: Arc::new(()),
        };
        Log {
            room,
            len: 0,
            outgrown: true,
            spill: Vec::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Log<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_env_writes_its_own_part() {
        let dims = RowDims {
            obs: 2,
            masks: 0,
            actions: 1,
            rewards: 3,
        };
        let mut envs = Envs::new(3, 2, dims, |windows| windows);
        for (e, w) in envs.held_mut().iter_mut().enumerate() {
            assert_eq!(
                (w.obs.len(), w.masks.len(), w.reward_components.len()),
                (4, 0, 6)
            );
            w.obs.fill(e as f32);
            w.terminated[1] = e == 1;
            w.truncated[0] = e == 1;
        }
        let rows = envs.rows();
        assert_eq!(rows.obs, [0., 0., 0., 0., 1., 1., 1., 1., 2., 2., 2., 2.]);
        assert_eq!(
            (0..3).map(|e| rows.all_done(e, 2)).collect::<Vec<_>>(),
            [false, true, false]
        );
    }

    /// A split array's windows are the envs' parts in order, each written alone, and the array
    /// lives as long as any window does.
    #[test]
    fn split_windows_are_the_envs_parts_in_order() {
        let mut windows = Window::split(7u32, 3, 4);
        assert_eq!(windows.len(), 4);
        for (e, w) in windows.iter_mut().enumerate() {
            assert_eq!(**w, [7, 7, 7]);
            w[1] = e as u32;
        }
        let starts: Vec<usize> = windows.iter().map(|w| w.as_ptr() as usize).collect();
        let step = std::mem::size_of::<u32>() * 3;
        assert!(starts.windows(2).all(|s| s[1] - s[0] == step), "{starts:?}");
        let last = windows.pop().expect("four windows");
        drop(windows);
        assert_eq!(*last, [7, 3, 7]);
        assert!(Window::split(0.0f64, 0, 3).iter().all(|w| w.is_empty()));
    }

    /// A log keeps its records in its room until a step outgrows it, then all of them, in order,
    /// in its own vector, at that step and the later ones.
    #[test]
    fn a_log_fills_its_room_then_moves_out_for_good() {
        let mut logs = Log::split(0u32, 2, 3);
        let mut log = logs.remove(1);
        log.push(1);
        log.push(2);
        assert_eq!((&*log, log.spill.is_empty()), (&[1, 2][..], true));
        log.clear();
        log.push(3);
        assert_eq!((&*log, log.spill.is_empty()), (&[3][..], true));
        log.push(4);
        log.push(5);
        assert_eq!((&*log, log.spill.len()), (&[3, 4, 5][..], 3));
        log.clear();
        assert!(log.is_empty());
        log.push(6);
        assert_eq!((&*log, log.spill.len()), (&[6][..], 1));
        assert_eq!(log.room[..], [3, 4], "the room is no longer written");
        let mut roomless = Log::<u32>::default();
        roomless.push(7);
        assert_eq!(*roomless, [7]);
        assert!(logs.iter().all(|l| l.is_empty()));
    }

    #[test]
    fn overlaps_finds_memory_of_any_buffer() {
        let dims = RowDims {
            obs: 2,
            masks: 1,
            actions: 1,
            rewards: 2,
        };
        let rows = VecBuffers::new(3, 2, dims);
        assert!(rows.overlaps(&rows.actions));
        assert!(rows.overlaps(&rows.actions[5..]));
        assert!(rows.overlaps(&rows.obs[3..4]));
        assert!(rows.overlaps(&rows.reward_components[..1]));
        assert!(rows.overlaps(&rows.truncated[2..]));
        let copy = rows.clone();
        assert!(!rows.overlaps(&copy.actions));
        assert!(!rows.overlaps(&rows.obs[..0]));
        assert!(!rows.overlaps(&[0.5f32; 6]));
    }
}
