//! When a second factor is owed, and which providers a user may be offered (SPEC 2).

use crate::policy::settings::Settings;
use crate::store::User;

/// Whether the password alone is not enough for this user on this tenant. A
/// remembered browser is checked by the caller before asking.
pub fn required(settings: &Settings, user: &User) -> bool {
    settings.two_factor_enabled && user.two_factor_enabled
}
