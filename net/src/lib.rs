//! Muon's reactor core.
mod buffer;
mod layer;

pub use buffer::Buffer;
pub use layer::{Layer, LayerFactory, LayerRead};
