//! `POST /api/v1/prompts/tokens`: how the engine will read a prompt (its tokens, its chunks of
//! 75, the weighted parts), so that the UI can count tokens as the user types. Any signed-in
//! user; nothing is stored.

use std::sync::Arc;

use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::AuthUser;
use crate::diffusion::{prompt, tokenizer};
use crate::error::ApiError;
use crate::http::extract::AppJson;
use crate::job_limits::MAX_PROMPT_CHARS;

/// The routes.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/api/v1/prompts/tokens", post(count_tokens))
}

/// A prompt to read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptText {
    /// The prompt, at most 4000 characters (the queue's limit, `MAX_PROMPT_CHARS`).
    prompt: String,
}

/// How the engine reads a prompt.
#[derive(Serialize, ToSchema)]
pub struct PromptTokens {
    /// Tokens of prompt text (start and end tokens not counted).
    tokens: usize,
    /// Chunks of up to 75 tokens the text encoder sees (at least 1).
    chunks: usize,
    /// The most tokens read; more are cut.
    max_tokens: usize,
    /// Whether tokens beyond `max_tokens` will be cut.
    truncated: bool,
    /// The weighted parts, in order (text without brackets, weight).
    weighted: Vec<WeightedPart>,
}

/// A part of a prompt with a weight other than 1.
#[derive(Serialize, ToSchema)]
pub struct WeightedPart {
    /// The text.
    text: String,
    /// Its weight.
    weight: f64,
}

/// Counts a prompt's tokens and chunks as the engine will.
#[utoipa::path(post, path = "/api/v1/prompts/tokens", tag = "queue", request_body = PromptText,
    responses((status = 200, body = PromptTokens), (status = 422, description = "validation_failed")),
    security(("bearer" = [])))]
pub async fn count_tokens(
    _auth: AuthUser,
    AppJson(body): AppJson<PromptText>,
) -> Result<Json<PromptTokens>, ApiError> {
    if body.prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::validation(format!(
            "prompts must have at most {MAX_PROMPT_CHARS} characters"
        )));
    }
    // Tokenizing is CPU work (milliseconds for a long prompt): off the async runtime.
    let prompt_text = body.prompt;
    let (chunks, parts) = tokio::task::spawn_blocking(move || {
        (
            prompt::chunks(tokenizer::shared(), &prompt_text),
            prompt::parse(&prompt_text),
        )
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(PromptTokens {
        tokens: chunks.tokens,
        chunks: chunks.chunks.len(),
        max_tokens: prompt::MAX_TOKENS,
        truncated: chunks.truncated,
        weighted: parts
            .into_iter()
            .filter(|part| part.weight != 1.0 && !part.text.trim().is_empty())
            .map(|part| WeightedPart {
                text: part.text.trim().to_owned(),
                weight: (part.weight * 1e4).round() / 1e4,
            })
            .collect(),
    }))
}
