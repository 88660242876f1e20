//! A toy game for the kernel's tests: one observation, one reward dimension that is always 0, no
//! strategies or metrics; the action space, the turn order and the systems are the test's.

// Each test binary compiles this module and uses some of its helpers.
#![allow(dead_code)]

use socium_core::{
    AgentSpec, Controller, DimensionInfo, GameBuilder, MetricInfo, Named, Rules, Sim, SimConfig,
    Social, Space, StrategyInfo, TurnOrder,
};

static DIMENSIONS: [DimensionInfo; 1] = [DimensionInfo {
    name: "nothing",
    summary: "always 0",
    default_weight: 1.0,
    range: None,
}];

/// The game: `build` registers its systems.
pub struct Toy {
    pub action: Space,
    pub order: TurnOrder,
    pub build: fn(&mut GameBuilder),
}

impl Rules for Toy {
    fn observation_space(&self, _agents: usize) -> Space {
        Space::uniform_box(1, 0.0, 1.0)
    }

    fn action_space(&self, _agents: usize) -> Space {
        self.action.clone()
    }

    fn reward_dimensions(&self) -> &'static [DimensionInfo] {
        &DIMENSIONS
    }

    fn strategies(&self) -> &'static [StrategyInfo] {
        &[]
    }

    fn metrics(&self) -> &'static [MetricInfo] {
        &[]
    }

    fn turn_order(&self) -> TurnOrder {
        self.order
    }

    fn build(&self, game: &mut GameBuilder) {
        (self.build)(game)
    }
}

/// A Sim of `toy` with `agents` external agents, seeded 1.
pub fn sim(toy: Toy, agents: usize) -> Sim {
    let game = Named::new("toy", toy);
    let agents = (0..agents)
        .map(|_| AgentSpec {
            controller: Controller::External,
            label: "external".into(),
            social: Social::default(),
        })
        .collect();
    Sim::new(&game, SimConfig::new(&game, agents, 1)).expect("the game builds")
}
