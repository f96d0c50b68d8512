//! What the exporter logs: the level the config sets, and each repository's change of state.

mod level;
mod state_changes;
