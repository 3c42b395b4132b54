-- One-time codes sent by email or SMS. Kept in step with the other store's 0002.
-- Only a keyed hash of each code is stored; a row dies when used, when it
-- expires, after too many wrong tries, or when a newer code for the same user
-- and purpose is sent.

CREATE TABLE codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    provider TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX codes_user ON codes (user_id, purpose);
