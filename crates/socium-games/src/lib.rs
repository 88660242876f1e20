//! Socium's game families. Each family is a module of plugins implementing
//! [`socium_core::Game`]; every rule set cites the paper it follows.

pub mod deduction;
pub mod donor;
