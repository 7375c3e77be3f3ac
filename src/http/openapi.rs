//! The OpenAPI document, served at `/api/v1/openapi.json` without authentication.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, boards, events, images, models, queue, users, web, worker};

/// The API description, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Atelier", description = "Multi-user image generation server"),
    paths(
        auth::routes::status, auth::routes::setup, auth::routes::login, auth::routes::logout,
        auth::routes::get_me, auth::routes::update_me,
        users::routes::list_users, users::routes::create_user, users::routes::get_user,
        users::routes::update_user, users::routes::delete_user,
        boards::routes::list_boards, boards::routes::create_board, boards::routes::get_board,
        boards::routes::rename_board, boards::routes::delete_board,
        images::routes::upload_image, images::routes::list_images, images::routes::get_image,
        images::routes::get_full, images::routes::get_thumbnail, images::routes::update_image,
        images::routes::delete_image, images::routes::bulk_images,
        queue::routes::enqueue, queue::routes::list_items, queue::routes::get_item,
        queue::routes::cancel_item, queue::routes::retry_item, queue::routes::clear_items,
        queue::routes::queue_status, queue::routes::pause_queue, queue::routes::resume_queue,
        queue::prompt_tokens::count_tokens,
        events::socket::ticket, events::socket::connect,
        models::routes::list_models, models::routes::get_model, models::routes::install_model,
        models::routes::upload_model, models::routes::scan_models, models::routes::list_installs,
        models::routes::get_install, models::routes::update_model, models::routes::delete_model,
        web::state::get_state, web::state::put_state, worker::registry::list_workers, worker::registry::forget_worker,
    ),
    components(schemas(crate::error::ErrorCode)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
