//! Object keys for image bytes, derived only from ids: `users/{owner}/images/{id}.{ext}` and
//! `users/{owner}/thumbnails/{id}.webp`. No user-supplied text ever reaches a key.

use object_store::path::Path;
use uuid::Uuid;

use super::model::ImageType;

/// The root of every user's objects.
pub const USERS_PREFIX: &str = "users";

/// The key of an image's full-size bytes.
pub fn image(owner: Uuid, image: Uuid, kind: ImageType) -> Path {
    Path::from(format!(
        "{USERS_PREFIX}/{owner}/images/{image}.{}",
        kind.extension()
    ))
}

/// The key of an image's 256 px WebP thumbnail.
pub fn thumbnail(owner: Uuid, image: Uuid) -> Path {
    Path::from(format!("{USERS_PREFIX}/{owner}/thumbnails/{image}.webp"))
}

/// The prefix of one user's objects.
pub fn user_prefix(owner: Uuid) -> Path {
    Path::from(format!("{USERS_PREFIX}/{owner}"))
}

/// The owner and image id named by a key this module built, or None for any other key.
pub fn parse(key: &Path) -> Option<(Uuid, Uuid)> {
    let parts: Vec<&str> = key.as_ref().split('/').collect();
    let [USERS_PREFIX, owner, "images" | "thumbnails", file] = parts.as_slice() else {
        return None;
    };
    let (id, _ext) = file.split_once('.')?;
    Some((owner.parse().ok()?, id.parse().ok()?))
}

/// The same object under another owner's prefix, for keys this module built.
pub fn with_owner(key: &Path, owner: Uuid) -> Option<Path> {
    parse(key)?;
    let rest = key.as_ref().splitn(3, '/').nth(2)?;
    Some(Path::from(format!("{USERS_PREFIX}/{owner}/{rest}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_foreign_keys_are_ignored() {
        let (owner, id) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            image(owner, id, ImageType::Png).as_ref(),
            format!("users/{owner}/images/{id}.png")
        );
        assert_eq!(parse(&image(owner, id, ImageType::Jpeg)), Some((owner, id)));
        assert_eq!(parse(&thumbnail(owner, id)), Some((owner, id)));
        assert_eq!(parse(&Path::from("users/x/images/y.png")), None);
        let other = Uuid::now_v7();
        assert_eq!(
            with_owner(&thumbnail(owner, id), other),
            Some(thumbnail(other, id))
        );
        assert_eq!(
            parse(&Path::from(format!("other/{owner}/images/{id}.png"))),
            None
        );
    }
}
