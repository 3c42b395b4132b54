-- When each user was last sent a link of each purpose. Kept in step with the
-- other store's 0006. One conditional upsert on this row decides whether a new
-- link may go out, so concurrent requests (on any instance) send at most one.

CREATE TABLE link_cool_down (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, purpose)
);
