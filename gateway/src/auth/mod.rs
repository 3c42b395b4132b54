//! Credentials and sessions: passwords, login names, session ids, CSRF tokens,
//! return paths and the secret key they are keyed with. Pure domain code: nothing
//! here knows of Pingora or of SQL.

pub mod csrf;
pub mod enrolment;
pub mod links;
pub mod login_name;
pub mod password;
pub mod recovery;
pub mod return_path;
pub mod seal;
pub mod second_factor;
pub mod secret;
pub mod session;
pub mod signin;
pub mod totp;

pub use login_name::LoginName;
pub use return_path::ReturnPath;
pub use secret::SecretKey;
pub use session::SessionId;
