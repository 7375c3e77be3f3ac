//! Who receives what: the routing rules for live events, pure and exhaustively tested.
//!
//! - progress and previews go to the item's owner only;
//! - an item's status (started, completed, failed, cancelled, …) goes in full to its owner and
//!   to admins (server paths in its error to admins only), and to everyone else as a
//!   `queue_changed` with the item's id and status only;
//! - an image added to or deleted from a gallery goes to its owner only;
//! - model installs go to admins only;
//! - a session's end closes that session's sockets;
//! - anything else is delivered to no one (fail closed).

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// A notification as the database sends it (`atelier_events` payloads, see V7).
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// An item was queued, changed status, or was deleted.
    QueueItem {
        /// The item.
        id: Uuid,
        /// Its owner.
        owner_id: Uuid,
        /// The new status (`deleted` for a deletion).
        status: String,
        /// The status before, for an update.
        previous: Option<String>,
        /// The error, truncated.
        error: Option<String>,
        /// Result images.
        #[serde(default)]
        result_image_ids: Vec<Uuid>,
    },
    /// A worker finished a denoising step.
    Progress {
        /// The item.
        id: Uuid,
        /// Its owner.
        owner_id: Uuid,
        /// Steps done.
        step: i64,
        /// Steps in all.
        total: i64,
        /// A `data:` URL of a small preview, or empty.
        #[serde(default)]
        preview: String,
    },
    /// A model install made progress or ended (admins only: it concerns server files).
    ModelInstall {
        /// The whole payload, passed on as it is.
        #[serde(flatten)]
        body: serde_json::Map<String, Value>,
    },
    /// An image was added (`insert`) or deleted (`delete`), by any path.
    Image {
        /// The image.
        id: Uuid,
        /// Its owner.
        owner_id: Uuid,
        /// `insert` or `delete`.
        op: String,
        /// Its board.
        board_id: Option<Uuid>,
    },
    /// A session ended (logout, revocation, deactivation).
    SessionEnded {
        /// The session.
        session_id: Uuid,
    },
    /// A kind this server does not know (from a newer replica, say).
    #[serde(other)]
    Unknown,
}

impl Notice {
    /// Parses a payload; unparseable payloads are `Unknown` (and so reach no one).
    pub fn parse(payload: &str) -> Self {
        serde_json::from_str(payload).unwrap_or(Notice::Unknown)
    }
}

/// Who holds a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    /// The user.
    pub user_id: Uuid,
    /// Whether they are an admin (re-read periodically).
    pub is_admin: bool,
    /// Their session (None in single-user mode).
    pub session_id: Option<Uuid>,
}

/// What to do with a notice on one socket.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// Send this JSON message.
    Send(Value),
    /// Close the socket: its session ended.
    Close,
    /// Nothing: not for this viewer.
    Skip,
}

/// A job error as `viewer` may see it: server paths only for admins.
fn shown_error(error: &str, viewer: &Viewer) -> String {
    if viewer.is_admin {
        error.to_owned()
    } else {
        crate::text::hide_paths(error)
    }
}

/// Routes `notice` for `viewer`.
pub fn route(notice: &Notice, viewer: &Viewer) -> Delivery {
    match notice {
        Notice::Progress {
            id,
            owner_id,
            step,
            total,
            preview,
        } if *owner_id == viewer.user_id => Delivery::Send(json!({
            "type": "progress",
            "item_id": id,
            "step": step,
            "total": total,
            "preview": (!preview.is_empty()).then_some(preview),
        })),
        Notice::Progress { .. } => Delivery::Skip,
        Notice::QueueItem {
            id,
            owner_id,
            status,
            previous,
            error,
            result_image_ids,
        } if *owner_id == viewer.user_id || viewer.is_admin => Delivery::Send(json!({
            "type": status_event(status, previous.as_deref()),
            "item_id": id,
            "owner_id": owner_id,
            "status": status,
            "previous": previous,
            "error": error.as_deref().map(|e| shown_error(e, viewer)),
            "result_image_ids": result_image_ids,
        })),
        // Others learn which item changed and how (both are in everyone's listing), so clients
        // update that row instead of fetching the whole queue again.
        Notice::QueueItem { id, status, .. } => Delivery::Send(json!({
            "type": "queue_changed", "item_id": id, "status": status,
        })),
        Notice::ModelInstall { body } if viewer.is_admin => {
            let mut message = body.clone();
            message.insert("type".into(), json!("model_install"));
            Delivery::Send(Value::Object(message))
        }
        Notice::ModelInstall { .. } => Delivery::Skip,
        Notice::Image {
            id,
            owner_id,
            op,
            board_id,
        } if *owner_id == viewer.user_id => Delivery::Send(json!({
            "type": if op == "delete" { "image_deleted" } else { "image_added" },
            "image_id": id,
            "board_id": board_id,
        })),
        Notice::Image { .. } => Delivery::Skip,
        Notice::SessionEnded { session_id } if Some(*session_id) == viewer.session_id => {
            Delivery::Close
        }
        Notice::SessionEnded { .. } | Notice::Unknown => Delivery::Skip,
    }
}

/// The event name for a status change, as the UI listens for it.
fn status_event(status: &str, previous: Option<&str>) -> &'static str {
    match (status, previous) {
        ("pending", None) => "job_queued",
        ("in_progress", Some("pending")) => "job_started",
        ("pending", Some("in_progress")) => "job_suspended",
        ("completed", _) => "job_completed",
        ("failed", _) => "job_failed",
        ("canceled", _) => "job_canceled",
        ("deleted", _) => "job_deleted",
        _ => "queue_item_status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(is_admin: bool) -> Viewer {
        Viewer {
            user_id: Uuid::now_v7(),
            is_admin,
            session_id: Some(Uuid::now_v7()),
        }
    }

    fn item(owner: Uuid, status: &str, previous: Option<&str>) -> Notice {
        Notice::parse(
            &json!({"kind": "queue_item", "id": Uuid::now_v7(), "owner_id": owner,
                    "status": status, "previous": previous, "error": "secret prompt failed",
                    "result_image_ids": [Uuid::now_v7()]})
            .to_string(),
        )
    }

    #[test]
    fn progress_reaches_only_the_owner_even_among_admins() {
        let (owner, admin, other) = (viewer(false), viewer(true), viewer(false));
        let notice = Notice::parse(
            &json!({"kind": "progress", "id": Uuid::now_v7(), "owner_id": owner.user_id,
                    "step": 3, "total": 10, "preview": "data:image/jpeg;base64,AA"})
            .to_string(),
        );
        let Delivery::Send(message) = route(&notice, &owner) else {
            panic!("the owner gets progress")
        };
        assert_eq!(message["type"], "progress");
        assert_eq!(message["step"], 3);
        assert_eq!(route(&notice, &admin), Delivery::Skip);
        assert_eq!(route(&notice, &other), Delivery::Skip);
    }

    #[test]
    fn status_goes_in_full_to_owner_and_admins_and_as_id_and_status_to_others() {
        let (owner, admin, other) = (viewer(false), viewer(true), viewer(false));
        let notice = item(owner.user_id, "completed", Some("in_progress"));
        for who in [owner, admin] {
            let Delivery::Send(message) = route(&notice, &who) else {
                panic!("owner and admins get the item")
            };
            assert_eq!(message["type"], "job_completed");
            assert_eq!(message["owner_id"], owner.user_id.to_string());
        }
        let Notice::QueueItem { id, .. } = &notice else {
            unreachable!()
        };
        assert_eq!(
            route(&notice, &other),
            Delivery::Send(json!({"type": "queue_changed", "item_id": id, "status": "completed"}))
        );
    }

    #[test]
    fn gallery_changes_reach_only_the_images_owner() {
        let (owner, admin, other) = (viewer(false), viewer(true), viewer(false));
        let id = Uuid::now_v7();
        for (op, kind) in [("insert", "image_added"), ("delete", "image_deleted")] {
            let notice = Notice::parse(
                &json!({"kind": "image", "op": op, "id": id, "owner_id": owner.user_id,
                        "board_id": null})
                .to_string(),
            );
            assert_eq!(
                route(&notice, &owner),
                Delivery::Send(json!({"type": kind, "image_id": id, "board_id": null}))
            );
            assert_eq!(route(&notice, &admin), Delivery::Skip);
            assert_eq!(route(&notice, &other), Delivery::Skip);
        }
    }

    #[test]
    fn server_paths_in_errors_reach_admins_only() {
        let (owner, admin) = (viewer(false), viewer(true));
        let notice = Notice::parse(
            &json!({"kind": "queue_item", "id": Uuid::now_v7(), "owner_id": owner.user_id,
                    "status": "failed", "previous": "in_progress",
                    "error": "cannot read /srv/models/x/unet.safetensors", "result_image_ids": []})
            .to_string(),
        );
        let error = |who: &Viewer| match route(&notice, who) {
            Delivery::Send(message) => message["error"].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(error(&owner), "cannot read <path>");
        assert_eq!(error(&admin), "cannot read /srv/models/x/unet.safetensors");
    }

    #[test]
    fn status_names_follow_transitions() {
        let owner = viewer(false);
        let cases = [
            ("pending", None, "job_queued"),
            ("in_progress", Some("pending"), "job_started"),
            ("pending", Some("in_progress"), "job_suspended"),
            ("failed", Some("in_progress"), "job_failed"),
            ("canceled", Some("pending"), "job_canceled"),
            ("deleted", None, "job_deleted"),
        ];
        for (status, previous, expected) in cases {
            let Delivery::Send(message) = route(&item(owner.user_id, status, previous), &owner)
            else {
                panic!("owner gets {status}")
            };
            assert_eq!(message["type"], expected, "{status} after {previous:?}");
        }
    }

    #[test]
    fn a_session_end_closes_only_that_sessions_sockets() {
        let (mine, other) = (viewer(false), viewer(true));
        let notice = Notice::parse(
            &json!({"kind": "session_ended", "session_id": mine.session_id.unwrap(),
                    "owner_id": mine.user_id})
            .to_string(),
        );
        assert_eq!(route(&notice, &mine), Delivery::Close);
        assert_eq!(route(&notice, &other), Delivery::Skip);
    }

    #[test]
    fn model_installs_reach_admins_only() {
        let notice = Notice::parse(
            &json!({"kind": "model_install", "id": Uuid::now_v7(), "status": "running",
                    "bytes_done": 10, "bytes_total": 100})
            .to_string(),
        );
        let Delivery::Send(message) = route(&notice, &viewer(true)) else {
            panic!("admins get installs")
        };
        assert_eq!(
            (message["type"].as_str(), message["bytes_done"].as_i64()),
            (Some("model_install"), Some(10))
        );
        assert_eq!(route(&notice, &viewer(false)), Delivery::Skip);
    }

    #[test]
    fn unknown_and_malformed_notices_reach_no_one() {
        let admin = viewer(true);
        for payload in [
            json!({"kind": "plugin_loaded", "owner_id": admin.user_id, "path": "/secret"})
                .to_string(),
            "not json".to_owned(),
            json!({"kind": "progress", "id": "x"}).to_string(),
        ] {
            assert_eq!(route(&Notice::parse(&payload), &admin), Delivery::Skip);
        }
    }
}
