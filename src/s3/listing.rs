//! One page of a bucket listing from the sorted keys: prefix, delimiter (common prefixes),
//! resume point and page size, as ListObjects(V2) define them, and the `url` encoding type.

use super::names::ImageEntry;

/// The most keys one page returns.
pub const MAX_KEYS: usize = 1000;

/// What a listing asks for.
#[derive(Debug, Default)]
pub struct Query<'a> {
    /// Only keys that start with this.
    pub prefix: &'a str,
    /// Group keys that have this after the prefix into common prefixes.
    pub delimiter: Option<&'a str>,
    /// Only keys (and prefixes) after this.
    pub after: Option<&'a str>,
    /// At most this many keys and prefixes together.
    pub max_keys: usize,
}

/// One page.
#[derive(Debug, Default)]
pub struct Page<'a> {
    /// The keys and their images.
    pub objects: Vec<&'a (String, ImageEntry)>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// Whether more follow.
    pub truncated: bool,
    /// The last key or prefix of the page (where the next page resumes).
    pub last: Option<String>,
}

/// The page of `keys` (sorted) that `query` asks for.
pub fn page<'a>(keys: &'a [(String, ImageEntry)], query: &Query<'_>) -> Page<'a> {
    let mut page = Page::default();
    let max = query.max_keys.min(MAX_KEYS);
    for entry in keys {
        let key = entry.0.as_str();
        let Some(rest) = key.strip_prefix(query.prefix) else {
            continue;
        };
        let item = query
            .delimiter
            .filter(|d| !d.is_empty())
            .and_then(|delimiter| {
                rest.find(delimiter)
                    .map(|at| format!("{}{}", query.prefix, &rest[..at + delimiter.len()]))
            });
        let name = item.as_deref().unwrap_or(key);
        if query.after.is_some_and(|after| name <= after) {
            continue;
        }
        if page.last.as_deref() == Some(name) {
            continue; // the same common prefix again
        }
        if page.objects.len() + page.prefixes.len() >= max {
            page.truncated = true;
            break;
        }
        page.last = Some(name.to_owned());
        match item {
            Some(prefix) => page.prefixes.push(prefix),
            None => page.objects.push(entry),
        }
    }
    page
}

/// A key as `encoding-type=url` asks: every byte but unreserved characters and `/`
/// percent-encoded.
pub fn url_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn keys(names: &[&str]) -> Vec<(String, ImageEntry)> {
        names
            .iter()
            .map(|k| {
                let entry = ImageEntry {
                    id: Uuid::now_v7(),
                    board_id: None,
                    file_name: None,
                    extension: "png",
                    byte_size: 1,
                    created_at: Utc::now(),
                };
                ((*k).to_owned(), entry)
            })
            .collect()
    }

    fn names(page: &Page<'_>) -> Vec<String> {
        page.objects.iter().map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn prefixes_delimiters_and_pages_follow_s3() {
        let all = keys(&["a/1.png", "a/2.png", "b/1.png", "b/2.png", "c/1.png"]);
        let query = Query {
            delimiter: Some("/"),
            max_keys: 2,
            ..Query::default()
        };
        let first = page(&all, &query);
        assert_eq!(first.prefixes, ["a/", "b/"]);
        assert!(first.truncated);
        let next = page(
            &all,
            &Query {
                after: first.last.as_deref(),
                ..query
            },
        );
        assert_eq!(next.prefixes, ["c/"]);
        assert!(!next.truncated);
        let in_b = page(
            &all,
            &Query {
                prefix: "b/",
                max_keys: 1000,
                ..Query::default()
            },
        );
        assert_eq!(names(&in_b), ["b/1.png", "b/2.png"]);
        let after = page(
            &all,
            &Query {
                after: Some("b/1.png"),
                max_keys: 1000,
                ..Query::default()
            },
        );
        assert_eq!(names(&after), ["b/2.png", "c/1.png"]);
    }

    #[test]
    fn url_encoding_keeps_slashes_and_encodes_the_rest() {
        assert_eq!(url_encode("a%2Fb/ü x.png"), "a%252Fb/%C3%BC%20x.png");
    }
}
