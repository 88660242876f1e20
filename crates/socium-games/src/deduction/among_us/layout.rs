//! Where things are: the grid of rooms (neighbours, the way toward a room), the numbering of the
//! acts ([`acts`]) and the layout of an observation row ([`obs`]), a declared list of blocks
//! whose offsets are derived from their sizes.

use super::Settings;

impl Settings {
    /// Rooms on the grid: room `r` is at column `r mod width`, row `r div width`.
    pub(super) fn rooms(&self) -> usize {
        self.width.get() as usize * self.height.get() as usize
    }

    /// The whole grid, `[width, height]`.
    pub(super) fn full_grid(&self) -> [u32; 2] {
        [self.width.get(), self.height.get()]
    }

    /// The start room of a `grid` laid in the top-left corner: the middle (rounded down) of its
    /// first row.
    pub(super) fn start_room(&self, grid: [u32; 2]) -> usize {
        (grid[0] as usize - 1) / 2
    }

    /// Whether `room` lies on `grid`, laid in the top-left corner.
    pub(super) fn on(&self, grid: [u32; 2], room: usize) -> bool {
        let w = self.width.get() as usize;
        room % w < grid[0] as usize && room / w < grid[1] as usize
    }

    /// The room `dir` (0 north, 1 south, 2 east, 3 west) leads to from `room` on `grid` (laid in
    /// the top-left corner), if any.
    pub(super) fn neighbour(&self, grid: [u32; 2], room: usize, dir: usize) -> Option<usize> {
        let w = self.width.get() as usize;
        let h = grid[1] as usize;
        let (x, y) = (room % w, room / w);
        let w_on = grid[0] as usize;
        match dir {
            0 if y > 0 => Some(room - w),
            1 if y + 1 < h => Some(room + w),
            2 if x + 1 < w_on => Some(room + 1),
            3 if x > 0 => Some(room - 1),
            _ => None,
        }
    }

    /// Checks what the counts alone cannot: every grid fits the whole one, `min_tasks` is at
    /// most `tasks`.
    pub(super) fn check_grids_and_tasks(&self) -> Result<(), String> {
        let [w, h] = self.full_grid();
        if let Some(&[gw, gh]) = self
            .grids
            .iter()
            .find(|&&[gw, gh]| gw == 0 || gh == 0 || gw > w || gh > h)
        {
            return Err(format!(
                "grid [{gw}, {gh}] in `grids`: expected at least 1 × 1 and at most the whole \
                 {w} × {h} grid (`width`, `height`), which sizes the observation"
            ));
        }
        if let Some(min) = self.min_tasks.filter(|m| m.get() > self.tasks.get()) {
            return Err(format!(
                "min_tasks = {} is more than tasks = {}: each episode draws the tasks from \
                 min_tasks..=tasks",
                min.get(),
                self.tasks.get()
            ));
        }
        Ok(())
    }

    /// The first move that brings `from` one room closer to `to` (east/west first), or wait when
    /// they are the same room.
    pub(super) fn toward(&self, from: usize, to: usize) -> usize {
        let w = self.width.get() as usize;
        let (fx, fy, tx, ty) = (from % w, from / w, to % w, to / w);
        if tx > fx {
            acts::MOVES[2]
        } else if tx < fx {
            acts::MOVES[3]
        } else if ty > fy {
            acts::MOVES[1]
        } else if ty < fy {
            acts::MOVES[0]
        } else {
            acts::WAIT
        }
    }
}

/// The acts, as action indices, for `n` players.
pub mod acts {
    /// Wait, stay silent, or skip the vote.
    pub const WAIT: usize = 0;
    /// Move north (up a row), south, east (right), west.
    pub const MOVES: [usize; 4] = [1, 2, 3, 4];
    /// Do a task in this room.
    pub const TASK: usize = 5;
    /// Report a body in this room.
    pub const REPORT: usize = 6;
    /// Aim at player `j`: kill, accuse or vote.
    pub fn aim(_n: usize, j: usize) -> usize {
        7 + j
    }
    /// The player `act` aims at, if it is an aim.
    pub fn aimed(n: usize, act: usize) -> Option<usize> {
        (aim(n, 0)..aim(n, n))
            .contains(&act)
            .then(|| act - aim(n, 0))
    }
    /// Vouch for player `j`.
    pub fn vouch(n: usize, j: usize) -> usize {
        aim(n, n) + j
    }
    /// Claim to have been in room `r`.
    pub fn claim(n: usize, r: usize) -> usize {
        vouch(n, n) + r
    }
    /// Report "I saw player `j` in room `r`".
    pub fn saw(n: usize, rooms: usize, j: usize, r: usize) -> usize {
        claim(n, rooms) + j * rooms + r
    }
    /// Report "I saw player `j` kill".
    pub fn saw_kill(n: usize, rooms: usize, j: usize) -> usize {
        saw(n, rooms, n, 0) + j
    }
    /// Say the free text sent with the action.
    pub fn say(n: usize, rooms: usize) -> usize {
        saw_kill(n, rooms, n)
    }
    /// Number of acts.
    pub fn count(n: usize, rooms: usize) -> usize {
        say(n, rooms) + 1
    }
}

/// Observation layout for `n` players and `rooms` rooms: the blocks of [`LAYOUT`](obs::LAYOUT),
/// in order, each as long as its [`Size`](obs::Size) says; a block's offset is the sum of the
/// sizes before it ([`offset`](obs::offset)). Every entry is in [0, 1].
pub mod obs {
    /// A block of an observation row.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Block {
        /// Own role: 1 for an imposter.
        Imposter,
        /// Stage, one-hot: play, discussion, vote.
        Stage,
        /// Share of all crewmate task steps done.
        TasksDone,
        /// Own tasks left, as a share of `tasks`.
        OwnTasks,
        /// 1 when an imposter's kill is ready.
        KillReady,
        /// Own room, one-hot.
        Room,
        /// Rooms holding an unfinished task of this player.
        TaskRooms,
        /// Which player this is, one-hot.
        Me,
        /// Who is alive, as far as this player knows (a death is told as in the original).
        Alive,
        /// Living players in this room, this player included.
        Here,
        /// Bodies in this room, by whose they are.
        Bodies,
        /// Players this player saw kill.
        Witnessed,
        /// Fellow imposters (for an imposter, itself included; nobody for a crewmate).
        Team,
        /// Accusations this discussion: entry `s · n + j` is 1 when player `s` accused player `j`.
        Accusations,
        /// Vouches this discussion: entry `s · n + j` is 1 when `s` vouched for `j`.
        Vouches,
        /// Kill reports this discussion: entry `s · n + j` is 1 when `s` said it saw `j` kill.
        KillReports,
        /// Rooms claimed this discussion: entry `j · rooms + r` is 1 when player `j` said it was
        /// in room `r`.
        Claims,
        /// Sightings this discussion: entry `j · rooms + r` is 1 when someone said it saw player
        /// `j` in room `r`.
        Sightings,
        /// This player's belief: its probability that each player is the imposter.
        Belief,
    }

    /// How many entries a block has, for `n` players and `rooms` rooms.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Size {
        /// A fixed number.
        Fixed(usize),
        /// One per room.
        Rooms,
        /// One per player.
        Players,
        /// One per pair of players (`n²`).
        PlayerPairs,
        /// One per player and room (`n · rooms`).
        PlayerRooms,
    }

    impl Size {
        /// The entries, for `n` players and `rooms` rooms.
        pub const fn of(self, n: usize, rooms: usize) -> usize {
            match self {
                Size::Fixed(k) => k,
                Size::Rooms => rooms,
                Size::Players => n,
                Size::PlayerPairs => n * n,
                Size::PlayerRooms => n * rooms,
            }
        }
    }

    /// The blocks of a row, in order, each once.
    pub const LAYOUT: [(Block, Size); 19] = [
        (Block::Imposter, Size::Fixed(1)),
        (Block::Stage, Size::Fixed(3)),
        (Block::TasksDone, Size::Fixed(1)),
        (Block::OwnTasks, Size::Fixed(1)),
        (Block::KillReady, Size::Fixed(1)),
        (Block::Room, Size::Rooms),
        (Block::TaskRooms, Size::Rooms),
        (Block::Me, Size::Players),
        (Block::Alive, Size::Players),
        (Block::Here, Size::Players),
        (Block::Bodies, Size::Players),
        (Block::Witnessed, Size::Players),
        (Block::Team, Size::Players),
        (Block::Accusations, Size::PlayerPairs),
        (Block::Vouches, Size::PlayerPairs),
        (Block::KillReports, Size::PlayerPairs),
        (Block::Claims, Size::PlayerRooms),
        (Block::Sightings, Size::PlayerRooms),
        (Block::Belief, Size::Players),
    ];

    /// Where `block` starts: the summed sizes of the blocks before it.
    pub const fn offset(block: Block, n: usize, rooms: usize) -> usize {
        let (mut at, mut i) = (0, 0);
        while LAYOUT[i].0 as usize != block as usize {
            at += LAYOUT[i].1.of(n, rooms);
            i += 1;
        }
        at
    }

    /// Entries of a row: the summed sizes of every block.
    pub const fn dim(n: usize, rooms: usize) -> usize {
        let (mut total, mut i) = (0, 0);
        while i < LAYOUT.len() {
            total += LAYOUT[i].1.of(n, rooms);
            i += 1;
        }
        total
    }

    /// Own role: 1 for an imposter (1 entry; the blocks up to [`KILL_READY`] have fixed sizes,
    /// so their offsets do not depend on `n` and `rooms`).
    pub const IMPOSTER: usize = offset(Block::Imposter, 0, 0);
    /// Stage, one-hot: play, discussion, vote (3 entries).
    pub const STAGE: usize = offset(Block::Stage, 0, 0);
    /// Share of all crewmate task steps done (1 entry).
    pub const TASKS_DONE: usize = offset(Block::TasksDone, 0, 0);
    /// Own tasks left, as a share of `tasks` (1 entry).
    pub const OWN_TASKS: usize = offset(Block::OwnTasks, 0, 0);
    /// 1 when an imposter's kill is ready (1 entry).
    pub const KILL_READY: usize = offset(Block::KillReady, 0, 0);
    /// Own room, one-hot (`rooms` entries).
    pub fn room(n: usize, rooms: usize) -> usize {
        offset(Block::Room, n, rooms)
    }
    /// Rooms holding an unfinished task of this player (`rooms` entries).
    pub fn task_rooms(n: usize, rooms: usize) -> usize {
        offset(Block::TaskRooms, n, rooms)
    }
    /// Which player this is, one-hot (`n` entries).
    pub fn me(n: usize, rooms: usize) -> usize {
        offset(Block::Me, n, rooms)
    }
    /// Who is alive, as far as this player knows (`n` entries).
    pub fn alive(n: usize, rooms: usize) -> usize {
        offset(Block::Alive, n, rooms)
    }
    /// The [`here`] entry of a player walking into or out of this room (one standing in it
    /// has 1).
    pub const PASSING: f32 = 0.5;
    /// Living players in this room: 1 standing in it, [`PASSING`] walking into or out of it;
    /// all 0 while this player is at work (`n` entries).
    pub fn here(n: usize, rooms: usize) -> usize {
        offset(Block::Here, n, rooms)
    }
    /// Bodies in this room (`n` entries).
    pub fn bodies(n: usize, rooms: usize) -> usize {
        offset(Block::Bodies, n, rooms)
    }
    /// Players this player saw kill (`n` entries).
    pub fn witnessed(n: usize, rooms: usize) -> usize {
        offset(Block::Witnessed, n, rooms)
    }
    /// Fellow imposters, for an imposter (`n` entries).
    pub fn team(n: usize, rooms: usize) -> usize {
        offset(Block::Team, n, rooms)
    }
    /// Accusations this discussion: entry `s · n + j` is 1 when player `s` accused player `j`
    /// (`n²` entries).
    pub fn accusations(n: usize, rooms: usize) -> usize {
        offset(Block::Accusations, n, rooms)
    }
    /// Vouches this discussion: entry `s · n + j` is 1 when `s` vouched for `j` (`n²` entries).
    pub fn vouches(n: usize, rooms: usize) -> usize {
        offset(Block::Vouches, n, rooms)
    }
    /// Kill reports this discussion: entry `s · n + j` is 1 when `s` said it saw `j` kill (`n²`
    /// entries).
    pub fn kill_reports(n: usize, rooms: usize) -> usize {
        offset(Block::KillReports, n, rooms)
    }
    /// Rooms claimed this discussion: entry `j · rooms + r` is 1 when player `j` said it was in
    /// room `r` (`n · rooms` entries).
    pub fn claims(n: usize, rooms: usize) -> usize {
        offset(Block::Claims, n, rooms)
    }
    /// Sightings this discussion: entry `j · rooms + r` is 1 when someone said it saw player `j`
    /// in room `r` (`n · rooms` entries).
    pub fn sightings(n: usize, rooms: usize) -> usize {
        offset(Block::Sightings, n, rooms)
    }
    /// This player's belief: its probability that each player is the imposter (`n` entries).
    pub fn belief(n: usize, rooms: usize) -> usize {
        offset(Block::Belief, n, rooms)
    }
}

#[cfg(test)]
mod tests {
    use super::obs::{self, Block, LAYOUT};

    #[test]
    fn the_blocks_tile_the_row() {
        for n in [1, 2, 5, 9] {
            for rooms in [1, 2, 6, 12] {
                let mut end = 0;
                for (i, &(block, size)) in LAYOUT.iter().enumerate() {
                    assert!(
                        LAYOUT[..i].iter().all(|&(b, _)| b != block),
                        "{block:?} twice"
                    );
                    assert_eq!(obs::offset(block, n, rooms), end, "{block:?} at n {n}");
                    assert!(size.of(n, rooms) > 0, "{block:?} is empty");
                    end += size.of(n, rooms);
                }
                assert_eq!(end, obs::dim(n, rooms));
                // The fixed-offset blocks are where their constants say.
                for (block, at) in [
                    (Block::Imposter, obs::IMPOSTER),
                    (Block::Stage, obs::STAGE),
                    (Block::TasksDone, obs::TASKS_DONE),
                    (Block::OwnTasks, obs::OWN_TASKS),
                    (Block::KillReady, obs::KILL_READY),
                ] {
                    assert_eq!(obs::offset(block, n, rooms), at);
                }
            }
        }
        // The defaults (5 players, 3 × 2 rooms), as docs/scenarios.md and the bundled policy
        // have them: 7 + 2·rooms + 7n + 3n² + 2n·rooms.
        assert_eq!(obs::dim(5, 6), 189);
    }
}
