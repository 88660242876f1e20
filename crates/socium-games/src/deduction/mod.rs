//! Social deduction: a hidden team among the players, found out (or not) by talking and voting.
//!
//! - [`mafia`]: Mafia / Werewolf — day discussion and lynch vote, night kill; optional seer and
//!   doctor (Braverman, Etesami & Mossel 2008; Werewolf Arena's roles).
//!
//! The Among Us-style game of Sarkar et al. (2025), with beliefs and listening and speaking
//! rewards, is the next member of this family.

pub mod mafia;
