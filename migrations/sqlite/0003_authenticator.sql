-- Authenticator apps and recovery codes. Kept in step with the other store's 0003.
-- Secrets and codes are encrypted with a key derived from the secret key file and
-- bound to their user; recovery codes also carry a keyed MAC for lookup.

CREATE TABLE authenticators (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    -- The newest TOTP step accepted; a code is accepted only for a newer step.
    last_step INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_mac TEXT NOT NULL,
    code_sealed TEXT NOT NULL,
    used_at INTEGER,
    UNIQUE (user_id, code_mac)
);
