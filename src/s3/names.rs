//! The S3 view's key scheme, which mirrors the gallery: `<board>/<file name>`, with
//! `uncategorized/<file name>` for images in no board.
//!
//! - A board's segment is its name with `%` and `/` percent-encoded (`a/b` → `a%2Fb`). Board names
//!   cannot be "Uncategorized" (any case), so the segment `uncategorized` is never ambiguous.
//!   When an owner has several boards with one name, the oldest keeps the plain segment and the
//!   others are listed as `<name>~<board id>`.
//! - An image's name is the file name it was uploaded under, or `<image id>.<ext>` for generated
//!   images. When several images in one board share a name, the newest keeps it (so a second
//!   `PutObject` to a key replaces what a reader sees there) and the others are listed as
//!   `<stem>~<image id>.<ext>`.
//! - So renaming a board moves its keys; two images with one name both stay reachable; and a
//!   board named like a path (`../x`, `a/b`) is one segment that cannot escape its place.
//!
//! Reads try the plain name first, then the id in a `~<id>` suffix (or a generated image's
//! `<id>.<ext>`); nothing here touches another owner's rows, since every lookup runs as the key's
//! user.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The one bucket each user sees.
pub const BUCKET: &str = "images";
/// The segment of images in no board.
pub const UNCATEGORIZED: &str = "uncategorized";
/// S3's limit on a key's length in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest file name an image may carry, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// A board as the listing needs it.
#[derive(Clone, Debug)]
pub struct BoardEntry {
    /// The board id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created (the oldest of a name keeps the plain segment).
    pub created_at: DateTime<Utc>,
}

/// An image as the listing needs it.
#[derive(Clone, Debug)]
pub struct ImageEntry {
    /// The image id.
    pub id: Uuid,
    /// Its board, or None for Uncategorized.
    pub board_id: Option<Uuid>,
    /// The name it was uploaded under, if any.
    pub file_name: Option<String>,
    /// The extension of its stored type (`png`, `jpg`, `webp`).
    pub extension: &'static str,
    /// Size of the full image.
    pub byte_size: i64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// `%` and `/` percent-encoded, and `.` too in the names `.` and `..`.
pub fn escape_board(name: &str) -> String {
    match name {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => name.replace('%', "%25").replace('/', "%2F"),
    }
}

/// The inverse of `escape_board`, or None for a segment it could not have made.
pub fn unescape_board(segment: &str) -> Option<String> {
    let mut out = String::with_capacity(segment.len());
    let mut rest = segment;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("%25") => out.push('%'),
            Some("%2F" | "%2f") => out.push('/'),
            Some("%2E" | "%2e") => out.push('.'),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    if rest.contains('/') {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// Every board's segment.
pub fn board_segments(boards: &[BoardEntry]) -> HashMap<Uuid, String> {
    let mut sorted: Vec<&BoardEntry> = boards.iter().collect();
    sorted.sort_by_key(|b| (b.created_at, b.id));
    let mut taken = HashSet::new();
    sorted
        .into_iter()
        .map(|board| {
            let plain = escape_board(&board.name);
            let segment = if taken.insert(board.name.clone()) {
                plain
            } else {
                format!("{plain}~{}", board.id)
            };
            (board.id, segment)
        })
        .collect()
}

/// The name of an image that shares its plain name with a newer one: `<stem>~<id>.<ext>`.
pub fn disambiguated(name: &str, id: Uuid) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}~{id}.{ext}"),
        _ => format!("{name}~{id}"),
    }
}

/// Every image's key, sorted as S3 lists them (by bytes).
pub fn object_keys(
    boards: &[BoardEntry],
    mut images: Vec<ImageEntry>,
) -> Vec<(String, ImageEntry)> {
    let segments = board_segments(boards);
    images.sort_by_key(|image| std::cmp::Reverse((image.created_at, image.id)));
    let mut taken: HashSet<(Option<Uuid>, String)> = HashSet::new();
    let mut keys: Vec<(String, ImageEntry)> = images
        .into_iter()
        .filter_map(|image| {
            let segment = match image.board_id {
                None => UNCATEGORIZED.to_owned(),
                Some(board) => segments.get(&board)?.clone(),
            };
            let plain = match &image.file_name {
                Some(name) => name.clone(),
                None => format!("{}.{}", image.id, image.extension),
            };
            let name = if taken.insert((image.board_id, plain.clone())) {
                plain
            } else {
                disambiguated(&plain, image.id)
            };
            Some((format!("{segment}/{name}"), image))
        })
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    keys
}

/// Which board a key names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardRef {
    /// `uncategorized`.
    Uncategorized,
    /// A board by name, and by id when the segment ends in `~<id>` (tried after the name).
    Named {
        /// The unescaped segment.
        name: String,
        /// The id of a `<name>~<id>` segment.
        id: Option<Uuid>,
    },
}

/// What a key names: a board and a file name, with the id a `~<id>` suffix or a generated
/// image's `<id>.<ext>` carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The board.
    pub board: BoardRef,
    /// The file name as written in the key.
    pub file_name: String,
    /// The image id the name carries, tried when no image has the plain name.
    pub id: Option<Uuid>,
}

/// Why a key cannot name an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Over `MAX_KEY_BYTES`.
    TooLong,
    /// Anything else, with the reason.
    Invalid(&'static str),
}

/// Parses a key of this scheme.
pub fn parse(key: &str) -> Result<ObjectRef, KeyError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong);
    }
    if key.chars().any(crate::text::is_hidden) {
        return Err(KeyError::Invalid(
            "keys must not contain control, bidi or zero-width characters",
        ));
    }
    let Some((segment, file_name)) = key.split_once('/') else {
        return Err(KeyError::Invalid(
            "keys are <board>/<file name> (or uncategorized/<file name>)",
        ));
    };
    if file_name.contains('/') {
        return Err(KeyError::Invalid(
            "keys are <board>/<file name>: boards do not nest",
        ));
    }
    if file_name.is_empty() || file_name == "." || file_name == ".." {
        return Err(KeyError::Invalid(
            "the file name must not be empty, . or ..",
        ));
    }
    if file_name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(KeyError::Invalid("file names have at most 255 characters"));
    }
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(KeyError::Invalid(
            "the board segment must not be empty, . or .. (write %2E%2E for a board named ..)",
        ));
    }
    let board = if segment == UNCATEGORIZED {
        BoardRef::Uncategorized
    } else {
        let name = unescape_board(segment)
            .ok_or(KeyError::Invalid("the board segment has a bad % escape"))?;
        BoardRef::Named {
            id: suffix_id(&name),
            name,
        }
    };
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    let id = suffix_id(stem).or_else(|| stem.parse().ok());
    Ok(ObjectRef {
        board,
        file_name: file_name.to_owned(),
        id,
    })
}

/// The id in a `…~<uuid>` suffix.
fn suffix_id(text: &str) -> Option<Uuid> {
    let (_, id) = text.rsplit_once('~')?;
    if id.len() != 36 {
        return None;
    }
    id.parse().ok()
}

/// The board name a `<name>~<id>` segment was made from (for creating a board on write: the
/// plain name, without the suffix).
pub fn board_name_of(board: &BoardRef) -> Option<&str> {
    match board {
        BoardRef::Uncategorized => None,
        BoardRef::Named { name, id: Some(_) } => name.rsplit_once('~').map(|(n, _)| n),
        BoardRef::Named { name, id: None } => Some(name),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    fn board(name: &str, seconds: i64) -> BoardEntry {
        BoardEntry {
            id: Uuid::now_v7(),
            name: name.into(),
            created_at: at(seconds),
        }
    }

    fn image(board: Option<Uuid>, name: Option<&str>, seconds: i64) -> ImageEntry {
        ImageEntry {
            id: Uuid::now_v7(),
            board_id: board,
            file_name: name.map(str::to_owned),
            extension: "png",
            byte_size: 1,
            created_at: at(seconds),
        }
    }

    #[test]
    fn board_segments_escape_paths_and_disambiguate_equal_names() {
        for name in [
            "Cats",
            "a/b",
            "../../etc",
            "100%",
            "%2F",
            "x~y",
            ".",
            "..",
            "a.b",
        ] {
            assert_eq!(unescape_board(&escape_board(name)).as_deref(), Some(name));
            assert!(!escape_board(name).contains('/'));
        }
        assert_eq!(unescape_board("bad%zz"), None);
        let (old, new) = (board("Cats", 1), board("Cats", 2));
        let segments = board_segments(&[new.clone(), old.clone()]);
        assert_eq!(segments[&old.id], "Cats");
        assert_eq!(segments[&new.id], format!("Cats~{}", new.id));
        let parsed = parse(&format!("{}/x.png", segments[&new.id])).unwrap();
        assert_eq!(
            parsed.board,
            BoardRef::Named {
                name: format!("Cats~{}", new.id),
                id: Some(new.id)
            }
        );
        assert_eq!(board_name_of(&parsed.board), Some("Cats"));
    }

    #[test]
    fn keys_round_trip_and_the_newest_of_a_name_keeps_it() {
        let cats = board("Cats", 0);
        let first = image(Some(cats.id), Some("photo.png"), 1);
        let second = image(Some(cats.id), Some("photo.png"), 2);
        let generated = image(None, None, 3);
        let keys = object_keys(
            std::slice::from_ref(&cats),
            vec![first.clone(), second.clone(), generated.clone()],
        );
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Cats/photo.png".to_owned(),
                format!("Cats/photo~{}.png", first.id),
                format!("uncategorized/{}.png", generated.id),
            ]
        );
        assert_eq!(keys[0].1.id, second.id);
        let parsed = parse(names[1]).unwrap();
        assert_eq!(parsed.id, Some(first.id));
        assert_eq!(parse(names[2]).unwrap().id, Some(generated.id));
        assert_eq!(parse(names[2]).unwrap().board, BoardRef::Uncategorized);
        assert_eq!(parse("Cats/photo.png").unwrap().id, None);
    }

    #[test]
    fn images_of_unknown_boards_are_not_listed() {
        let keys = object_keys(&[], vec![image(Some(Uuid::now_v7()), Some("a.png"), 0)]);
        assert!(keys.is_empty());
    }

    #[test]
    fn tricky_keys_are_refused_with_a_reason() {
        let long = format!("Cats/{}.png", "a".repeat(1100));
        assert_eq!(parse(&long), Err(KeyError::TooLong));
        for key in [
            "photo.png",
            "Cats/sub/photo.png",
            "Cats/..",
            "Cats/.",
            "Cats/",
            "Cats/a\0b.png",
            "../x.png",
            "./x.png",
            "/x.png",
            "Cats/a\u{202e}gnp.exe",
            "bad%zz/a.png",
        ] {
            assert!(matches!(parse(key), Err(KeyError::Invalid(_))), "{key:?}");
        }
        let name = format!("Cats/{}.png", "é".repeat(300));
        assert!(matches!(parse(&name), Err(KeyError::Invalid(_))));
        let dots = parse("..%2F..%2Fetc/passwd.png").unwrap();
        assert_eq!(board_name_of(&dots.board), Some("../../etc"));
    }
}
