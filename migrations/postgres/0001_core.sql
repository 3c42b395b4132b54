-- Users, sessions, lockout counters and the sign-in audit log.
-- Kept in step with migrations/sqlite/0001_core.sql: same tables, columns and meaning.
-- Times are Unix seconds; flags are 0/1 integers so both stores bind them alike.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    email TEXT,
    email_canonical TEXT,
    email_confirmed BIGINT NOT NULL DEFAULT 0,
    phone TEXT,
    phone_confirmed BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    security_stamp TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    two_factor_enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant, username)
);
CREATE UNIQUE INDEX users_email ON users (tenant, email_canonical) WHERE email_canonical IS NOT NULL;

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    methods TEXT NOT NULL,
    security_stamp TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_failures (
    tenant TEXT NOT NULL,
    login TEXT NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (tenant, login)
);

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    user_id BIGINT,
    login TEXT NOT NULL,
    result TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX audit_tenant_at ON audit (tenant, at);
