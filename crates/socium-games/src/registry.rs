//! The machinery of the game registry: the `registry!` macro turns the one list of games in the
//! crate root into the scenario's game table ([`crate::GameSpec`]), the builder
//! ([`crate::GameSpec::into_game`]), the list of names ([`crate::NAMES`]) and [`crate::games`].
//!
//! Each entry gives one tag, and the macro hands that same literal to serde (the
//! `[game.<tag>]` table) and to [`socium_core::Named`] (the game's [`socium_core::Game::name`]):
//! the two cannot differ. Constant checks refuse, at compile time, a tag that is not snake_case
//! and two entries with one tag.

/// Declares the registry: each entry is
///
/// ```text
/// /// Doc comment of the game table.
/// Variant("tag", ConfigType),                 // the config is the game's rules
/// Variant("tag", ConfigType => build),        // `build(config)` gives the rules
/// ```
///
/// and the macro makes the `GameSpec` enum (one variant per entry, serde tag `tag`), its
/// `name`, `into_game` and `defaults`, the `NAMES` list and `games()`.
macro_rules! registry {
    (@build $config:ident) => { $config };
    (@build $config:ident, $build:expr) => { ($build)($config) };
    ($(
        $(#[$doc:meta])*
        $variant:ident($tag:literal, $config:ty $(=> $build:expr)?)
    ),* $(,)?) => {
        /// `[game.<name>]`: exactly one game table, one variant per registered game; the table's
        /// name is the game's [`Game::name`](socium_core::Game::name).
        #[derive(Debug, serde::Deserialize)]
        pub enum GameSpec {
            $(
                $(#[$doc])*
                #[serde(rename = $tag)]
                $variant($config),
            )*
        }

        impl GameSpec {
            /// The game's name: its `[game.<name>]` tag.
            pub fn name(&self) -> &'static str {
                match self {
                    $(GameSpec::$variant(_) => $tag,)*
                }
            }

            /// The game, named by its tag.
            pub fn into_game(self) -> std::sync::Arc<dyn socium_core::Game> {
                match self {
                    $(GameSpec::$variant(config) => std::sync::Arc::new(
                        socium_core::Named::new($tag, registry!(@build config $(, $build)?)),
                    ),)*
                }
            }

            /// Every game with its default settings, in registry order.
            pub fn defaults() -> Vec<GameSpec> {
                vec![$(GameSpec::$variant(<$config>::default()),)*]
            }
        }

        /// The name of every registered game, in registry order.
        pub const NAMES: &[&str] = &[$($tag),*];

        const _: () = assert!(
            crate::registry::well_formed(NAMES),
            "game registry: every tag must be snake_case and different from the others"
        );

        /// Every game with its default settings, in registry order (for `socium list`).
        pub fn games() -> Vec<std::sync::Arc<dyn socium_core::Game>> {
            GameSpec::defaults().into_iter().map(GameSpec::into_game).collect()
        }
    };
}

/// Whether every name is snake_case (`a`–`z`, `0`–`9` and single inner `_`, starting with a
/// letter) and no two are equal: checked on the registry at compile time.
pub(crate) const fn well_formed(names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        if !snake_case(names[i].as_bytes()) {
            return false;
        }
        let mut j = i + 1;
        while j < names.len() {
            if equal(names[i].as_bytes(), names[j].as_bytes()) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn snake_case(name: &[u8]) -> bool {
    if name.is_empty() || !name[0].is_ascii_lowercase() || name[name.len() - 1] == b'_' {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        let c = name[i];
        let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || (c == b'_' && name[i - 1] != b'_');
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

const fn equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares a game's scripted strategies once, each registry entry beside the strategy it makes:
///
/// ```text
/// strategies! {
///     /// The strategies a scenario may name.
///     static STRATEGIES, fn strategy -> Strategy = [
///         StrategyInfo { name: "allc", .. } => |_| Strategy::Fixed(1.0),
///         StrategyInfo { name: "fixed", .. } => |c| Strategy::Fixed(c.param("share")),
///     ]
/// }
/// ```
///
/// makes `static STRATEGIES: [StrategyInfo; N]` (what [`socium_core::Rules::strategies`]
/// returns) and `fn strategy(&StrategyChoice) -> Strategy`, which builds a choice of entry `i`
/// with entry `i`'s constructor, found by [`socium_core::StrategyChoice::index_in`]: no name is
/// matched twice, and every entry has its constructor by construction.
macro_rules! strategies {
    (
        $(#[$doc:meta])*
        $vis:vis static $table:ident, fn $build:ident -> $ty:ty = [
            $($info:expr => $make:expr),+ $(,)?
        ]
    ) => {
        $(#[$doc])*
        $vis static $table: [socium_core::StrategyInfo; [$(stringify!($make)),+].len()] =
            [$($info),+];

        /// The strategy of a choice of an entry of the table beside it.
        $vis fn $build(choice: &socium_core::StrategyChoice) -> $ty {
            const MAKE: [fn(&socium_core::StrategyChoice) -> $ty; [$(stringify!($make)),+].len()] =
                [$($make),+];
            MAKE[choice.index_in(&$table)](choice)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn tags_are_snake_case_and_distinct() {
        assert!(well_formed(&["donor_cultural", "l8", "among_us"]));
        assert!(!well_formed(&["repeated", "repeated"]));
        for bad in ["", "AmongUs", "among-us", "_x", "x_", "a__b", "8l"] {
            assert!(!well_formed(&[bad]), "{bad:?}");
        }
    }
}
