//! The browser UI's server side: its built assets at `/`, and each user's saved UI state.

pub mod assets;
pub mod state;
