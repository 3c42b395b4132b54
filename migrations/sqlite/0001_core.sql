-- Users, sessions, lockout counters and the sign-in audit log.
-- Kept in step with migrations/postgres/0001_core.sql: same tables, columns and meaning.
-- Times are Unix seconds; flags are 0/1 integers so both stores bind them alike.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    email TEXT,
    email_canonical TEXT,
    email_confirmed INTEGER NOT NULL DEFAULT 0,
    phone TEXT,
    phone_confirmed INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    security_stamp TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    two_factor_enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant, username)
);
CREATE UNIQUE INDEX users_email ON users (tenant, email_canonical) WHERE email_canonical IS NOT NULL;

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    methods TEXT NOT NULL,
    security_stamp TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_failures (
    tenant TEXT NOT NULL,
    login TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (tenant, login)
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    user_id INTEGER,
    login TEXT NOT NULL,
    result TEXT NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX audit_tenant_at ON audit (tenant, at);
