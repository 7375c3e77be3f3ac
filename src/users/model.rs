//! User accounts as the API shows them, and the validated values that make them up.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;

/// The internal user that owns single-user-mode data. It never logs in and is never an admin.
pub const SYSTEM_USER_ID: Uuid = Uuid::nil();

/// A user account as the API returns it (never the password hash).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// The user id.
    pub id: Uuid,
    /// The login email, lowercase.
    pub email: String,
    /// The name shown to others.
    pub display_name: String,
    /// Admin rights.
    pub is_admin: bool,
    /// A deactivated account cannot log in.
    pub is_active: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// Storage quota in bytes; null means the server's default.
    pub quota_bytes: Option<i64>,
    /// Bytes of images stored.
    pub used_bytes: i64,
    /// The user's share of GPU time relative to others (default 1), set by an admin.
    pub sched_weight: f64,
    /// GPU-seconds their jobs used in the last 24 hours (counted by the hour).
    pub gpu_seconds_day: f64,
    /// GPU-seconds their jobs used in the last 7 days (counted by the hour).
    pub gpu_seconds_week: f64,
}

impl TryFrom<&Row> for UserView {
    type Error = tokio_postgres::Error;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            is_admin: row.try_get("is_admin")?,
            is_active: row.try_get("is_active")?,
            created_at: row.try_get("created_at")?,
            quota_bytes: row.try_get("quota_bytes")?,
            used_bytes: row.try_get("used_bytes")?,
            sched_weight: row.try_get("sched_weight")?,
            gpu_seconds_day: row.try_get("gpu_seconds_day")?,
            gpu_seconds_week: row.try_get("gpu_seconds_week")?,
        })
    }
}

/// A syntactically valid email address, lowercased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims, lowercases and checks the address.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let email = raw.trim().to_lowercase();
        let invalid = || ApiError::validation("email must look like name@example.com");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        if local.is_empty() || domain.is_empty() || domain.contains('@') || domain.starts_with('.')
        {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters after trimming, without control, bidi or zero-width
/// characters (every user sees display names in the queue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks the name.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 100 {
            return Err(ApiError::validation(
                "display_name must have 1 to 100 characters",
            ));
        }
        if name.chars().any(crate::text::is_hidden) {
            return Err(ApiError::validation(
                "display_name must not contain control, bidi or zero-width characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Joe@Example.COM ").unwrap().as_str(),
            "joe@example.com"
        );
        for bad in ["", "joe", "@x", "joe@", "jo e@x.y", "a@b@c", "a@.x"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse(" Joe ").unwrap().as_str(), "Joe");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }
}
