//! Boards as the API shows them, and the validated board name.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::ApiError;

/// A board with its counts and cover.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BoardView {
    /// The board id.
    pub id: Uuid,
    /// The name, unique per owner.
    pub name: String,
    /// The owner.
    pub owner_id: Uuid,
    /// The owner's display name (admins see every user's boards).
    pub owner_name: String,
    /// Generated images in the board.
    pub image_count: i64,
    /// Uploaded assets in the board.
    pub asset_count: i64,
    /// The newest image, shown as the cover.
    pub cover_image_id: Option<Uuid>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&Row> for BoardView {
    type Error = tokio_postgres::Error;

    fn try_from(row: &Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            owner_id: row.try_get("owner_id")?,
            owner_name: row.try_get("owner_name")?,
            image_count: row.try_get("image_count")?,
            asset_count: row.try_get("asset_count")?,
            cover_image_id: row.try_get("cover_image_id")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// One user's Uncategorized: counts and cover.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UncategorizedView {
    /// Whose Uncategorized this is.
    pub owner_id: Uuid,
    /// Generated images without a board.
    pub image_count: i64,
    /// Uploaded assets without a board.
    pub asset_count: i64,
    /// The newest image without a board.
    pub cover_image_id: Option<Uuid>,
}

/// A board name: 1 to 100 characters after trimming, without control, bidi or zero-width
/// characters (which could make two names look alike), and not "Uncategorized".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardName(String);

impl BoardName {
    /// Trims and checks a name.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 100 {
            return Err(ApiError::validation("name must have 1 to 100 characters"));
        }
        if name.chars().any(crate::text::is_hidden) {
            return Err(ApiError::validation(
                "name must not contain control, bidi or zero-width characters",
            ));
        }
        if name.eq_ignore_ascii_case("uncategorized") {
            return Err(ApiError::validation("\"Uncategorized\" is reserved"));
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
    fn names_are_trimmed_and_tricks_are_refused() {
        assert_eq!(BoardName::parse("  Cats ").unwrap().as_str(), "Cats");
        assert_eq!(
            BoardName::parse("../../etc/passwd").unwrap().as_str(),
            "../../etc/passwd",
            "names never reach keys"
        );
        for bad in [
            "",
            "   ",
            "a\u{202E}gpj.exe",
            "zero\u{200B}width",
            "tab\there",
            "Uncategorized",
            &"x".repeat(101),
        ] {
            assert!(BoardName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
