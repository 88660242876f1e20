//! Socium's game families. Each family is a module of plugins implementing
//! [`socium_core::Rules`]; every rule set cites the paper it follows.
//!
//! The registry below is the one list of games: one entry per game gives its `[game.<name>]`
//! tag, its config type (the table's settings) and, where the config is not itself the rules,
//! how the config becomes them. From it come [`GameSpec`] (the scenario's game table),
//! [`GameSpec::into_game`] (a [`socium_core::Game`] named by its tag), [`NAMES`] and
//! [`games`].

#[macro_use]
mod registry;

pub mod deduction;
pub mod donor;
pub mod negotiation;
pub mod opinion;

use deduction::{among_us::AmongUsConfig, mafia::MafiaConfig};
use donor::{
    cultural::CulturalConfig,
    indirect::{ImageScoringConfig, IndirectGame, NormsConfig},
    punishment::PunishmentConfig,
    repeated::RepeatedConfig,
};
use negotiation::NegotiationConfig;
use opinion::OpinionConfig;

registry! {
    /// The cultural-evolution donor game (Vallinder & Hughes 2024).
    DonorCultural("donor_cultural", CulturalConfig),
    /// Image scoring (Nowak & Sigmund 1998).
    ImageScoring("image_scoring", ImageScoringConfig => IndirectGame::from),
    /// Second-order norms, the leading eight (Ohtsuki & Iwasa 2004).
    Norms("norms", NormsConfig => IndirectGame::from),
    /// Repeated two-player games and round-robin tournaments (Axelrod 1984).
    Repeated("repeated", RepeatedConfig),
    /// Mafia / Werewolf (Braverman, Etesami & Mossel 2008; Werewolf Arena's seer and doctor).
    Mafia("mafia", MafiaConfig),
    /// An Among Us-style game (Sarkar et al. 2025).
    AmongUs("among_us", AmongUsConfig),
    /// Negotiation: Deal or No Deal and Rubinstein bargaining with Sotopia's social layer and
    /// its seven evaluation dimensions (Lewis et al. 2017; Rubinstein 1982; Zhou et al. 2024).
    Negotiation("negotiation", NegotiationConfig),
    /// Partner choice, direct and third-party punishment (Dasgupta & Musolesi 2023).
    Punishment("punishment", PunishmentConfig),
    /// Opinion dynamics with bounded confidence (Deffuant et al. 2000; Hegselmann & Krause 2002).
    Opinion("opinion", OpinionConfig),
}
