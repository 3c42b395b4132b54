-- Revoked sessions, so that every gateway instance drops them from its memory
-- within a second. Kept in step with the other store's 0004. Each instance
-- reads the rows newer than the last it saw; old rows are pruned.
-- target is 's:<session hash>' for one session or 'u:<user id>' for all of a user's.

CREATE TABLE revocations (
    id BIGSERIAL PRIMARY KEY,
    target TEXT NOT NULL,
    at BIGINT NOT NULL
);
