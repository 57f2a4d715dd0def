//! Keeps every node's cached cards (XCX-02, `People::card`) in step with PostgreSQL: triggers
//! of sql/010 `NOTIFY zgld_card` when a card's content, its photos or its company's name
//! change; each node LISTENs on its own connection and drops the card. The cache is trusted
//! only while the subscription is up (the pattern of src/auth/cache.rs).

use crate::service::chat::people::People;

/// The NOTIFY channel of sql/010.
pub const CHANNEL: &str = "zgld_card";

/// Runs for the life of the node.
pub async fn listen(people: People, database_url: String) {
    let live = people.clone();
    crate::db::listen::follow(
        database_url,
        CHANNEL,
        "card",
        move |up| live.set_cards_live(up),
        move |payload| people.apply_card_change(payload),
    )
    .await
}
