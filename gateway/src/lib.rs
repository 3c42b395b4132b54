//! Portcullis: a reverse-proxy authentication gateway on Pingora.
//!
//! It puts a login page, and two-factor verification when the host enables it,
//! in front of web applications that have none, and forwards signed-in requests
//! with identity headers. Modules by concern:
//!
//! - [`config`]: the settings file, validated;
//! - [`tenancy`]: host name → tenant → route, and path normalisation;
//! - [`policy`]: host and tenant settings, and the effective settings of a tenant;
//! - [`auth`]: passwords, sessions, CSRF, return paths, sign-in;
//! - [`store`]: SQLite or PostgreSQL through sqlx;
//! - [`notify`]: email and SMS delivery;
//! - [`pages`]: the gateway's own pages, independent of Pingora;
//! - [`proxy`]: the Pingora hooks, thin;
//! - [`server`], [`cli`]: wiring and the command line.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod pages;
pub mod policy;
pub mod proxy;
pub mod server;
pub mod store;
pub mod tenancy;
