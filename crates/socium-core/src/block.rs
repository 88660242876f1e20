//! A block: one `bevy_ecs` World hosting many envs of one scenario, stepped by one run of its
//! schedules (`SingleThreadedExecutor`) per call. A `Sim` is a block of one env; a `VecEnv` holds
//! many blocks and steps them in parallel.
//!
//! Why blocks: with one World per env, every step paid a whole schedule run (and its resource
//! lookups) per env, and a thousand Worlds' scattered allocations fell out of the caches. A
//! block's envs are entities whose components lie in a few dense tables, and each system runs
//! once for all of them.
//!
//! ```text
//! reset schedule: BeginReset* ─► Reset ─► BeginTurn*                (envs marked `ResetDue`)
//! step schedule:  Random* ─► Decide ─► Resolve ─► Reward ─► Record ─► Finish*  (the other envs)
//!                 ─► Observe ─► EndTurn*                                      (every env)
//!                                                                   (* kernel-only sets)
//! ```
//!
//! A run is the reset schedule, only when some env is marked, then the step schedule: the order
//! of one chain, without the reset sets' cost in the runs (most of them) that reset no env.

use crate::{
    ActionMasks, Actions, AgentId, AgentOf, Agents, Clock, Controller, Done, Faults, Game,
    GameBuilder, GraphSpec, Metrics, Note, Observations, Phase, PolicyExtras, PotentialId,
    Potentials, ResetDue, Resetting, RewardEntry, Rows, ShapingSpec, SimConfig, SimRng,
    SocialGraph, Spaces, StepRewards, Stepping, Texts, Turn, TurnOrder, Utterance, Utterances,
    buffers::{EnvWindows, Holders, Home, Log, Window},
    env::EnvView,
    policy::Slot,
    reward::{RewardDimensions, RewardLedger, Scratch},
    transcript::{Roles, Transcript, write_transcript},
};
use bevy_ecs::{
    prelude::*,
    schedule::{IntoScheduleConfigs, ScheduleLabel, SingleThreadedExecutor},
    system::ScheduleSystem,
};

/// Kernel systems that bracket the games' phases.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kernel {
    BeginReset,
    BeginTurn,
    Random,
    Finish,
    EndTurn,
}

#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
enum Run {
    Reset,
    Step,
}

/// A block's two schedules: the reset sets, run only when some env is marked for reset, and the
/// step's sets, run every time. Each system is in one of them.
pub(crate) struct Schedules {
    reset: Schedule,
    step: Schedule,
}

impl Schedules {
    fn new() -> Schedules {
        let new = |label: Run| {
            let mut schedule = Schedule::new(label);
            schedule.set_executor(SingleThreadedExecutor::new());
            schedule
        };
        let (mut reset, mut step) = (new(Run::Reset), new(Run::Step));
        reset.configure_sets((Kernel::BeginReset, Phase::Reset, Kernel::BeginTurn).chain());
        step.configure_sets(
            (
                Kernel::Random,
                Phase::Decide,
                Phase::Resolve,
                Phase::Reward,
                Phase::Record,
                Kernel::Finish,
                Phase::Observe,
                Kernel::EndTurn,
            )
                .chain(),
        );
        Schedules { reset, step }
    }

    /// Adds a game's `systems` to `phase`, in the schedule that runs it.
    pub(crate) fn add<M>(
        &mut self,
        phase: Phase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) {
        let schedule = match phase {
            Phase::Reset => &mut self.reset,
            _ => &mut self.step,
        };
        schedule.add_systems(systems.in_set(phase));
    }

    fn initialize(&mut self, world: &mut World) {
        for schedule in [&mut self.reset, &mut self.step] {
            schedule
                .initialize(world)
                .expect("the kernel's and the game's systems form a schedule");
            // After every run the executor applies each system's deferred buffers (`Commands`),
            // empty ones too (1.3% of a played Moran generation, benches/instructions.py): only
            // where a system has any.
            let defers = (schedule.systems())
                .expect("the schedule is initialized")
                .any(|(_, system)| system.has_deferred());
            schedule.set_apply_final_deferred(defers);
        }
    }

    /// Runs the reset schedule where `resets`, then the step schedule.
    fn run(&mut self, world: &mut World, resets: bool) {
        if resets {
            self.reset.run(world);
        }
        self.step.run(world);
    }
}

/// How a block's env is played by one run of the schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Play {
    /// One step with its rows of the actions.
    Step,
    /// A reset: seeded (streams restart, graph redrawn) or continuing the streams.
    Reset {
        /// The seed, for a seeded reset.
        seed: Option<u64>,
    },
}

/// The scenario's graph generator, drawn at every seeded reset.
#[derive(Resource)]
struct GraphRecipe(GraphSpec);

/// What a step touches in each env before the schedules run.
type Prologue = (
    &'static Clock,
    &'static mut RewardLedger,
    &'static mut Utterances,
    &'static mut Actions,
    &'static mut Texts,
    &'static mut Faults,
    &'static mut PolicyExtras,
);

/// What the policies' staging reads of each env after a run.
type Staged = (
    &'static Observations,
    &'static ActionMasks,
    &'static Turn,
    &'static Done,
);

/// One World of envs and the schedules that step them all.
pub(crate) struct Block {
    world: World,
    schedules: Schedules,
    /// The envs, in env order.
    envs: Vec<Entity>,
    /// Each env's seed, that of its last seeded reset: which env asks, for a policy that keeps
    /// its own record of what each env asked ([`crate::PolicyBatch::seeds`]).
    seeds: Vec<u64>,
    /// The components that hold the envs' windows, counted after game code runs.
    holders: Holders,
    prologue: QueryState<Prologue>,
    staged: QueryState<Staged>,
    /// Envs marked for reset by the current run.
    marked: Vec<Entity>,
    /// Whether some env has texts for the coming run: they are dropped after it.
    texts_set: bool,
    /// Whether the last run recorded some env's faults: the next one starts by dropping them.
    faults_noted: bool,
}

impl Block {
    /// A block of one env per seed, each reset with its seed, whose rows are `windows` (one an
    /// env). The config must have passed `Setup::new`'s checks (the game's, the graph's, the
    /// reward dimensions').
    pub(crate) fn new(
        game: &dyn Game,
        config: SimConfig,
        seeds: &[u64],
        spaces: &Spaces,
        windows: Vec<EnvWindows>,
    ) -> Block {
        let SimConfig {
            agents,
            graph,
            rewards,
            combine,
            shaping,
            ties,
            values,
            max_steps,
            transcript,
            text,
            records,
            seed: _,
        } = config;
        // The kernel's own readers of the records: the transcript, the drift of values (each
        // act's two ends) and the ties (who did whom a favour).
        let records = records || transcript || text || values.is_some() || ties.is_some();
        let (n, dims) = (agents.len(), rewards.len());
        let extras = PolicyExtras::new(&agents);
        let mut world = World::new();
        // Before any holder of the windows enters (their insert hook reads it).
        world.insert_resource(Home::of(&windows[0]));
        world.insert_resource(Agents::new(agents));
        world.insert_resource(spaces.clone());
        world.insert_resource(RewardDimensions(rewards, combine));
        let shapes = !shaping.is_empty();
        world.insert_resource(Shaping(shaping));
        world.insert_resource(GraphRecipe(graph));
        // Each env is spawned empty with its agents, given the game's components, and only then
        // the kernel's, in one batch: every insert moves an entity to another table, and the
        // tables it leaves keep their capacity, so the kernel's large rows (six random streams
        // among them) must move once, into their final table. The envs are spawned before any
        // agent, so that their entities' locations, which every step looks up, lie together.
        let envs: Vec<Entity> = seeds.iter().map(|_| world.spawn_empty().id()).collect();
        for &env in &envs {
            world.spawn_batch((0..n as u32).map(move |i| (AgentId(i), AgentOf(env))));
        }
        let mut schedules = Schedules::new();
        schedules.reset.add_systems((
            begin_reset.in_set(Kernel::BeginReset),
            begin_turn.in_set(Kernel::BeginTurn),
        ));
        schedules
            .step
            .add_systems(finish_step.in_set(Kernel::Finish));
        if transcript {
            // The step's lines as `finish_step` leaves it, before the kernel's other finishing
            // systems.
            schedules.step.add_systems(
                write_transcript
                    .in_set(Kernel::Finish)
                    .after(finish_step)
                    .before(crate::values::drift_values)
                    .before(crate::ties::move_ties),
            );
        }
        // A game that chooses who acts does so in `Observe`: after it, the done are idle, and
        // the idle may do nothing (agents idle by the turn order are so as the turn starts).
        if game.turn_order() == TurnOrder::Chosen {
            schedules
                .step
                .add_systems(idle_the_done_and_forbid_the_idle.in_set(Kernel::EndTurn));
        }
        if !world.resource::<Shaping>().0.is_empty() {
            schedules
                .step
                .add_systems((shape, start_potentials).in_set(Kernel::EndTurn));
        }
        if let Some(values) = values {
            world.insert_resource(values);
            for &env in &envs {
                world.entity_mut(env).insert(crate::Values(vec![0.0; n]));
            }
            schedules.reset.add_systems(
                crate::values::draw_values
                    .in_set(Kernel::BeginReset)
                    .after(begin_reset),
            );
            schedules.step.add_systems(
                crate::values::drift_values
                    .in_set(Kernel::Finish)
                    .after(finish_step),
            );
        }
        if let Some(ties) = ties {
            if ties.reciprocity > 0.0 {
                for &env in &envs {
                    world
                        .entity_mut(env)
                        .insert(crate::ties::Favours::default());
                }
                schedules.reset.add_systems(
                    crate::ties::forget_favours
                        .in_set(Kernel::BeginReset)
                        .after(begin_reset),
                );
            }
            world.insert_resource(ties);
            // After the values drift: the ties an episode's end forms read the values it left.
            schedules.step.add_systems(
                crate::ties::move_ties
                    .in_set(Kernel::Finish)
                    .after(finish_step)
                    .after(crate::values::drift_values),
            );
        }
        let mut specs = world.resource::<Agents>().specs.iter();
        if specs.any(|a| a.controller == Controller::Random) {
            schedules
                .step
                .add_systems(random_controllers.in_set(Kernel::Random));
        }
        game.build(&mut GameBuilder {
            world: &mut world,
            schedules: &mut schedules,
            envs: &envs,
        });
        let (obs_dim, action_dim) = (spaces.observation.flat_dim(), spaces.action.flat_dim());
        // The reward sums and the metrics every step adds to, in block-wide arrays (`Window`'s
        // doc says why).
        let raw = Window::split(0.0, n * dims, envs.len());
        let sums = Window::split(0.0, StepRewards::sums_len(n, dims), envs.len());
        let metrics = Window::split(0.0, Metrics::len_for(game.metrics().len()), envs.len());
        let sums = raw.into_iter().zip(sums).zip(metrics);
        // The records each step keeps, side by side where a sweep of many envs reads them, with
        // room for one utterance an agent and one entry an agent and dimension. Not more: the
        // prefetchers fetch the room a step leaves unused too (room for two made the donor game
        // at 4,096 envs 8-10% slower). A block of one env keeps its records in vectors of its
        // own: a million agents would fill rooms for nothing.
        let room = |per_agent: usize| match records && envs.len() > 1 {
            true => n * per_agent,
            false => 0,
        };
        let said = Log::split(Utterance::FILLER, room(1), envs.len());
        let entries = Log::split(RewardEntry::FILLER, room(dims), envs.len());
        let logs = said.into_iter().zip(entries);
        let rngs = SimRng::split(envs.len());
        let rows = (envs.iter().zip(seeds).zip(windows).zip(sums)).zip(rngs.into_iter().zip(logs));
        world.insert_batch(rows.map(
            |((((&env, &seed), w), ((raw, sums), metrics)), (rng, (said, entries)))| {
                let kernel = (
                    (
                        Clock::default(),
                        Turn::new(game.turn_order(), w.acting),
                        Done::new(w.terminated, w.truncated, max_steps),
                        // Seeded by the first (seeded) reset.
                        rng,
                        // Drawn by the first (seeded) reset.
                        GraphSpec::Complete.generate(0, &mut SimRng::new(seed)),
                        Observations(Rows::new(w.obs, obs_dim)),
                        ActionMasks(Rows::new(w.masks, spaces.action.mask_dim())),
                        Actions(Rows::new(w.actions, action_dim)),
                    ),
                    (
                        Utterances {
                            current: said,
                            keep: records,
                            render_text: transcript || text,
                            ..Default::default()
                        },
                        Texts::new(n),
                        RewardLedger::new(raw, entries, dims, records),
                        StepRewards::new(dims, w.reward_components, w.rewards, sums),
                        Metrics::new(metrics),
                        Faults::new(n),
                        Potentials::new(n, game.potentials().len(), shapes),
                        extras.clone(),
                        Transcript::default(),
                        Roles::default(),
                    ),
                );
                (env, kernel)
            },
        ));
        schedules.initialize(&mut world);
        let mut block = Block {
            holders: Holders::new(&mut world),
            prologue: QueryState::new(&mut world),
            staged: QueryState::new(&mut world),
            world,
            schedules,
            envs,
            seeds: seeds.to_vec(),
            marked: Vec::new(),
            texts_set: false,
            faults_noted: false,
        };
        block.run(
            |j| Play::Reset {
                seed: Some(seeds[j]),
            },
            &[],
            &[],
            &[],
        );
        block
    }

    /// Number of envs.
    pub(crate) fn len(&self) -> usize {
        self.envs.len()
    }

    /// Gives the agents `agents` (the same number, each with its controller's kind) and puts
    /// `retune`'s settings in force in every env, keeping the play (see [`crate::Rules::retune`]);
    /// when the game refuses, the agents are put back.
    pub(crate) fn retune(
        &mut self,
        retune: &crate::Retune,
        agents: Vec<crate::AgentSpec>,
    ) -> Result<(), String> {
        debug_assert_eq!(agents.len(), self.world.resource::<Agents>().len());
        let before = std::mem::replace(
            &mut *self.world.resource_mut::<Agents>(),
            Agents::new(agents),
        );
        // The reward transforms' reference groups are labels, which the new agents may move.
        for mut rewards in (self.world.query::<&mut StepRewards>()).iter_mut(&mut self.world) {
            rewards.forget_groups();
        }
        let (schedules, envs) = (&mut self.schedules, &self.envs);
        (self.holders).play(&mut self.world, envs.len(), |world| {
            let mut game = GameBuilder {
                world,
                schedules,
                envs,
            };
            // Put back in `play`: the insert's hooks and observers may run game code.
            retune(&mut game).inspect_err(|_| {
                game.world.insert_resource(before);
            })
        })
    }

    /// Each env's seed, that of its last seeded reset.
    pub(crate) fn seeds(&self) -> &[u64] {
        &self.seeds
    }

    /// Env `j` of the block.
    pub(crate) fn env(&self, j: usize) -> EnvView<'_> {
        EnvView::new(&self.world, self.envs[j])
    }

    /// Env `j`'s entity and the World, to change it.
    pub(crate) fn env_mut(&mut self, j: usize) -> EntityWorldMut<'_> {
        self.world.entity_mut(self.envs[j])
    }

    /// One run of the schedules: every env is reset or stepped as `play(j)` says; a stepped env
    /// `j` takes the rows of its `fed` agents from `actions[j × per_env ..]`, and its `notes`
    /// (`(j, agent, note)`, in env order): texts its agents say, faults of their controllers,
    /// what their policies remember.
    pub(crate) fn run(
        &mut self,
        play: impl Fn(usize) -> Play,
        actions: &[f32],
        fed: &[AgentId],
        mut notes: &[(usize, AgentId, Note)],
    ) {
        let per_env = actions.len() / self.envs.len().max(1);
        let agents = self.world.resource::<Agents>().len();
        let drop_faults = std::mem::take(&mut self.faults_noted);
        for (j, &env) in self.envs.iter().enumerate() {
            let mine = notes.partition_point(|(e, _, _)| *e <= j);
            let (env_notes, rest) = notes.split_at(mine);
            notes = rest;
            match play(j) {
                Play::Reset { seed } => {
                    if let Some(seed) = seed {
                        self.seeds[j] = seed;
                    }
                    self.world.entity_mut(env).insert(ResetDue { seed });
                    self.marked.push(env);
                }
                Play::Step => {
                    // The step's prologue, done here rather than by a system: clear the last
                    // step's utterances, reward entries and faults (only where some env had
                    // any), copy in the fed agents' actions and the controllers' notes.
                    let (
                        clock,
                        mut ledger,
                        mut utterances,
                        mut buf,
                        mut texts,
                        mut faults,
                        mut kept,
                    ) = self
                        .prologue
                        .get_mut(&mut self.world, env)
                        .expect("every env has the kernel's components");
                    ledger.clear();
                    utterances.start_step(clock.step);
                    if drop_faults {
                        faults.current.clear();
                    }
                    for (_, a, note) in env_notes {
                        match note {
                            Note::Text(text) => {
                                texts.set(*a, text);
                                self.texts_set = true;
                            }
                            Note::Fault(fault) => {
                                faults.record(*a, fault.clone());
                                self.faults_noted = true;
                            }
                            Note::Remember(text) => kept.remember(*a, agents, text),
                        }
                    }
                    let row = &actions[j * per_env..(j + 1) * per_env];
                    let dim = buf.0.dim();
                    for &a in fed {
                        let i = a.index() * dim;
                        buf.0.row_mut(a).copy_from_slice(&row[i..i + dim]);
                    }
                }
            }
        }
        let (schedules, marked) = (&mut self.schedules, &mut self.marked);
        (self.holders).play(&mut self.world, self.envs.len(), |world| {
            schedules.run(world, !marked.is_empty());
            if !marked.is_empty() {
                for env in marked.drain(..) {
                    world.entity_mut(env).remove::<ResetDue>();
                }
                keep_in_order(world, &self.envs);
            }
        });
        // A step's texts are read as it resolves and dropped after it.
        if std::mem::take(&mut self.texts_set) {
            self.clear_texts();
        }
    }

    /// Sets the text external agent `agent` of env `j` sends with its next action.
    pub(crate) fn set_text(&mut self, j: usize, agent: AgentId, text: &str) {
        let mut env = self.world.entity_mut(self.envs[j]);
        env.get_mut::<Texts>()
            .expect("every env has texts")
            .set(agent, text);
        self.texts_set = true;
    }

    /// Drops every env's texts.
    pub(crate) fn clear_texts(&mut self) {
        let mut texts = self.world.query::<&mut Texts>();
        for t in texts.iter_mut(&mut self.world) {
            t.into_inner().clear();
        }
    }

    /// Env `j`'s policy extras and memory.
    pub(crate) fn extras(&self, j: usize) -> &PolicyExtras {
        self.world
            .get::<PolicyExtras>(self.envs[j])
            .expect("every env keeps policy extras")
    }

    /// Stages every env's policy agents into `slots` (none for an env whose episode is over).
    pub(crate) fn stage(&mut self, slots: &mut [Slot<'_, '_>]) {
        for (slot, &env) in slots.iter_mut().zip(&self.envs) {
            let (obs, masks, turn, done) = self
                .staged
                .get(&self.world, env)
                .expect("every env has the kernel's components");
            slot.stage(&obs.0, &masks.0, turn.acting(), done.all_done());
        }
    }
}

/// Puts the kernel's state of every env marked for reset back to the start of an episode: with
/// a seed, every stream restarts from it, the graph is drawn anew and the episode counter
/// restarts at 0; without, the streams continue, the graph stays as it is (ties a game changed
/// included) and the counter goes up.
#[allow(clippy::type_complexity)]
fn begin_reset(
    agents: Res<Agents>,
    recipe: Res<GraphRecipe>,
    mut envs: Query<
        (
            &ResetDue,
            &mut Clock,
            &mut Done,
            &mut Turn,
            &mut RewardLedger,
            &mut StepRewards,
            &mut Metrics,
            &mut Utterances,
            &mut Texts,
            &mut SimRng,
            &mut SocialGraph,
            &mut Faults,
            &mut PolicyExtras,
            &mut Roles,
        ),
        Resetting,
    >,
) {
    for (
        due,
        clock,
        done,
        turn,
        ledger,
        rewards,
        metrics,
        utterances,
        texts,
        rng,
        graph,
        faults,
        extras,
        roles,
    ) in &mut envs
    {
        faults.into_inner().clear_episode();
        extras.into_inner().clear();
        roles.into_inner().clear();
        let clock = clock.into_inner();
        match due.seed {
            Some(seed) => {
                let rng = rng.into_inner();
                rng.reseed(seed);
                *graph.into_inner() = recipe.0.generate(agents.len(), rng);
                clock.episode = 0;
            }
            None => clock.episode += 1,
        }
        clock.step = 0;
        done.into_inner().clear();
        turn.into_inner().next = 0;
        ledger.into_inner().clear();
        rewards.into_inner().clear_episode();
        metrics.into_inner().clear();
        let u = utterances.into_inner();
        u.next_id = 0;
        u.start_step(0);
        texts.into_inner().clear();
    }
}

/// Sets who acts from the turn order, and makes every act of an acting agent legal and every
/// act of an idle one not; the game narrows both.
fn start_turn(turn: &mut Turn, done: &Done, masks: &mut ActionMasks) {
    turn.advance(done);
    if !masks.0.data.is_empty() {
        masks.0.data.fill(1);
        // In a game that chooses who acts, every idle agent's acts are forbidden once it has.
        if turn.order != TurnOrder::Chosen {
            forbid_idle(turn, masks);
        }
    }
}

/// [`start_turn`] after a reset (a step's finishing system starts the next turn itself).
fn begin_turn(mut envs: Query<(&mut Turn, &Done, &mut ActionMasks), Resetting>) {
    for (turn, done, masks) in &mut envs {
        start_turn(turn.into_inner(), done, masks.into_inner());
    }
}

/// The scenario's potential-based shaping terms.
#[derive(Resource)]
pub(crate) struct Shaping(pub(crate) Vec<(PotentialId, ShapingSpec)>);

/// Adds each agent's shaping term of the step (the potentials the game wrote in `Observe`
/// against those of the step's start; the end of its game has potential 0) to its reward and
/// return; the values become the next step's start.
fn shape(
    shaping: Res<Shaping>,
    mut envs: Query<(&mut Potentials, &Done, &mut StepRewards), Stepping>,
) {
    for (potentials, done, rewards) in &mut envs {
        let (potentials, rewards) = (potentials.into_inner(), rewards.into_inner());
        for a in 0..rewards.reward().len() {
            let (ended, cut) = (done.terminated[a], done.truncated[a]);
            let f = potentials.term(AgentId(a as u32), &shaping.0, ended, cut);
            rewards.add_reward(a, f);
        }
        potentials.advance();
    }
}

/// After a reset, the potentials the game wrote are the start state's.
fn start_potentials(mut envs: Query<&mut Potentials, Resetting>) {
    for potentials in &mut envs {
        potentials.into_inner().start();
    }
}

/// Forbids every act of the agents the game made idle in `Observe` (a game whose turn order is
/// [`TurnOrder::Chosen`]).
fn idle_the_done_and_forbid_the_idle(mut envs: Query<(&Done, &mut Turn, &mut ActionMasks)>) {
    for (done, turn, masks) in &mut envs {
        let turn = turn.into_inner();
        // A game may choose an agent whose game has ended (the next phase's actors, on the step
        // that ended the episode): nobody acts after their end.
        for (flag, (&t, &u)) in
            (turn.acting.iter_mut()).zip(done.terminated.iter().zip(&*done.truncated))
        {
            *flag &= !(t || u);
        }
        if !masks.0.data.is_empty() {
            forbid_idle(turn, masks.into_inner());
        }
    }
}

/// Forbids every act of an agent that is idle at the coming step.
fn forbid_idle(turn: &Turn, masks: &mut ActionMasks) {
    for (a, &acting) in turn.acting.iter().enumerate() {
        if !acting {
            masks.0.row_mut(AgentId(a as u32)).fill(0);
        }
    }
}

/// The kernel acts for `Random` agents, before any game draws from the same `decide` stream.
fn random_controllers(
    agents: Res<Agents>,
    spaces: Res<Spaces>,
    mut envs: Query<(&Turn, &ActionMasks, &mut Actions, &mut SimRng), Stepping>,
) {
    for (turn, masks, actions, rng) in &mut envs {
        let (actions, rng) = (actions.into_inner(), rng.into_inner());
        for a in agents.ids() {
            if turn.is_acting(a) && *agents.controller(a) == Controller::Random {
                spaces
                    .action
                    .sample(&mut rng.decide, masks.0.row(a), actions.0.row_mut(a));
            }
        }
    }
}

/// Sums the step's rewards, advances the clock, truncates at the step limit and starts the next
/// turn.
#[allow(clippy::type_complexity)]
fn finish_step(
    dims: Res<RewardDimensions>,
    agents: Res<Agents>,
    mut scratch: Local<Scratch>,
    mut envs: Query<
        (
            &mut Clock,
            &mut Done,
            &mut Turn,
            &mut ActionMasks,
            &RewardLedger,
            &mut StepRewards,
            &SocialGraph,
        ),
        Stepping,
    >,
) {
    for (clock, done, turn, masks, ledger, rewards, graph) in &mut envs {
        let (clock, done) = (clock.into_inner(), done.into_inner());
        rewards
            .into_inner()
            .aggregate(ledger, &dims, turn.acting(), &agents, graph, &mut scratch);
        let last = done.is_last_step(clock.step);
        clock.step += 1;
        if last {
            for (t, u) in done.terminated.iter().zip(done.truncated.iter_mut()) {
                *u = !t;
            }
        }
        start_turn(turn.into_inner(), done, masks.into_inner());
    }
}

/// Puts `envs` back in their order in their archetype, which marking some for reset upset.
///
/// Why: the systems' queries skip the envs marked [`ResetDue`] (sparse, so that marking moves no
/// component), which makes them walk the envs in their archetype's order, not their table's; and
/// moving an entity out of an archetype puts the archetype's last entity in its place. After a
/// reset of some envs but not all, a sweep would visit the envs out of order, each a jump in every
/// block-wide array, which the prefetchers cannot follow (`mafia_learner.toml` at 4,096 envs ran
/// at 0.6 of its 64-env rate so, 0.8 in order: docs/BENCHMARKS-LOG.md, "a tenth session").
///
/// The one way to move an entity within its archetype is out and back (through a sparse
/// marker), which swaps it with the last one; the envs are sorted by such swaps, about one for
/// each env out of place. Envs spread over several archetypes, or sharing theirs with other
/// entities, are left as they are.
fn keep_in_order(world: &mut World, envs: &[Entity]) {
    let n = envs.len();
    if n < 2 {
        return;
    }
    let locations = envs
        .iter()
        .map(|&env| world.entities().get(env).ok().flatten());
    let Some(locations) = locations.collect::<Option<Vec<_>>>() else {
        return;
    };
    let archetype = locations[0].archetype_id;
    if locations.iter().any(|l| l.archetype_id != archetype)
        || world.archetypes()[archetype].len() as usize != n
    {
        return;
    }
    // `at[p]`: the env at row `p`.
    let mut at = vec![0; n];
    for (j, l) in locations.iter().enumerate() {
        at[l.archetype_row.index()] = j;
    }
    let last = n - 1;
    let mut misplaced = 0..last;
    loop {
        // The row to swap with the last: that of the last row's env, else any other out of place.
        let p = match at[last] {
            j if j != last => j,
            _ => match misplaced.find(|&p| at[p] != p) {
                Some(p) => p,
                None => return,
            },
        };
        world
            .entity_mut(envs[at[p]])
            .insert(Parked)
            .remove::<Parked>();
        (at[p], at[last]) = (at[last], at[p]);
    }
}

/// Marks an env moved out of its archetype for a moment by [`keep_in_order`].
#[derive(Component)]
#[component(storage = "SparseSet")]
struct Parked;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Component)]
    struct Payload;

    /// The order a query of the stepping envs walks them in.
    fn walked(world: &mut World) -> Vec<Entity> {
        let mut query = world.query_filtered::<Entity, (With<Payload>, Stepping)>();
        query.iter(world).collect()
    }

    #[test]
    fn envs_are_walked_in_order_after_some_are_reset() {
        let mut world = World::new();
        let envs: Vec<Entity> = (0..8).map(|_| world.spawn(Payload).id()).collect();
        for marked in [&[2, 5][..], &[0], &[7], &[1, 3, 4, 6]] {
            for &j in marked {
                world.entity_mut(envs[j]).insert(ResetDue { seed: None });
            }
            let mut stepping: Vec<Entity> = (0..8)
                .filter(|j| !marked.contains(j))
                .map(|j| envs[j])
                .collect();
            let mut walked_while_marked = walked(&mut world);
            walked_while_marked.sort();
            stepping.sort();
            assert_eq!(walked_while_marked, stepping);
            for &j in marked {
                world.entity_mut(envs[j]).remove::<ResetDue>();
            }
            let upset = walked(&mut world) != envs;
            keep_in_order(&mut world, &envs);
            assert_eq!(walked(&mut world), envs, "after resetting {marked:?}");
            assert!(
                upset || marked == [7],
                "resetting {marked:?} kept the order anyway"
            );
        }
    }
}
