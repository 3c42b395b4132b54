-- Single-use links sent by email: password reset and email confirmation. Kept
-- in step with the other store's 0005. Only the SHA-256 of each token is stored;
-- data holds what the link is about (the address being confirmed).

CREATE TABLE link_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX link_tokens_user ON link_tokens (user_id, purpose);
