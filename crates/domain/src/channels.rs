//! Social channels: how many a site may have, and who sees what of them.

use gazette_store::StoreError;
use gazette_store::channels::{self, Channel};

/// The most channels a site may have: `channels` lists them all, so its size is bounded
/// (and priced) by this.
pub const MAX_CHANNELS: usize = 50;

/// The enabled channels with their templates, to render their texts. Templates are for
/// admins to read; the texts made with them are public, as are the channels they are for.
pub async fn enabled_for_rendering(
    exec: impl gazette_store::PgExecutor<'_>,
) -> Result<Vec<Channel>, StoreError> {
    channels::enabled_unchecked(exec).await
}
