//! gantry's deterministic traffic simulator.
//!
//! A built-in network of Sichuan and Chongqing expressways ([`network`]), a
//! fleet with realistic plates, trips along shortest paths at road speeds with
//! a daily profile, cloned plates (套牌车) as ground truth, and the dirt of real
//! feeds: placeholder plates, late records and duplicates. Pure: no I/O, no
//! clock; the same [`SimConfig`] always yields the same stream.
//!
//! ```
//! use gantry_sim::{SimConfig, Simulator};
//! let sim = Simulator::new(SimConfig { vehicles: 1000, clones: 2, ..SimConfig::default() });
//! for event in sim.take(3) {
//!     assert!(event.emitted_at >= event.pass.time);
//! }
//! ```

mod config;
mod fleet;
pub mod network;
mod queue;
pub mod sensors;
mod sim;

pub use config::SimConfig;
pub use fleet::{is_placeholder, PLACEHOLDER_PLATES};
pub use network::{network, Edge, Network, Node};
pub use sim::{SimEvent, Simulator, DAILY_PROFILE};

/// SplitMix64 finaliser: a cheap, good 64-bit mixer.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
