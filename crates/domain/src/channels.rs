//! Social channels: how many a site may have, and who sees what of them.

/// The most channels a site may have: `channels` lists them all, so its size is bounded
/// (and priced) by this.
pub const MAX_CHANNELS: usize = 50;
