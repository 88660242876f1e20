//! Social deduction: a hidden team among the players, found out (or not) by talking and voting.
//!
//! - [`mafia`]: Mafia / Werewolf — day discussion and lynch vote, night kill; optional seer and
//!   doctor (Braverman, Etesami & Mossel 2008; Werewolf Arena's roles).
//!
//! - [`among_us`]: an Among Us-style game on a grid of rooms (Sarkar et al. 2025): tasks, kills,
//!   reports, discussion and ejection votes.
//!
//! Beliefs and the listening and speaking rewards of Sarkar et al. are the next step.

pub mod among_us;
pub mod mafia;
