//! tasks-api's routes: `GET /tasks`, `POST /tasks`, `GET /readyz` (their errors: [`TasksError`];
//! their tests: `routes/tests.rs`).

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use kub_http::{
    errors::{ApiJson, ApiQuery, ErrorBody},
    probes::readiness,
};
use kub_public::public_service;
use serde::{Deserialize, Serialize};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, CurrentUser, NewTask, TaskView, TasksError};

/// Tasks per page when `?limit=` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 10_000;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tasks-api",
        description = "Your tasks. Every request carries `Authorization: Bearer <token>` from users-api's \
`POST /login`; the internal auth-api checks it."
    ),
    modifiers(&BearerScheme)
)]
struct TasksApi;

/// The `bearer` security scheme the routes below refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

pub fn router(state: AppState) -> Router {
    let documented = OpenApiRouter::with_openapi(TasksApi::openapi())
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(readyz))
        .with_state(state.clone())
        .split_for_parts();
    public_service(documented, state.network, state.metrics, &state.cors)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Tasks per page, 1 to 100 (default 20).
    limit: Option<usize>,
    /// Only tasks after this id: the `nextAfter` of the previous page.
    after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TaskList<'page, 'line> {
    message: &'static str,
    tasks: &'page [TaskView<'line>],
    /// Pass as `?after=` for the next page; `null` on the last one.
    next_after: Option<u64>,
}

/// The caller's tasks, oldest first, one page at a time.
#[utoipa::path(get, path = "/tasks", tag = "tasks", params(ListQuery), security(("bearer" = [])), responses(
    (status = 200, description = "`Tasks loaded.`", body = TaskList),
    (status = 400, description = "`limit` or `after` out of range.", body = ErrorBody),
    (status = 401, description = "Missing, malformed, expired or forged token.", body = ErrorBody),
    (status = 503, description = "auth-api or the disk is unavailable.", body = ErrorBody),
))]
async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, TasksError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(TasksError::BadQuery(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}."
        )));
    }
    let json = state
        .tasks
        .page(&user.id, query.after, limit, page_json)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// The page's JSON, written straight from the views.
fn page_json(tasks: &[TaskView<'_>], next_after: Option<u64>) -> Vec<u8> {
    let text_len: usize = tasks
        .iter()
        .map(|task| task.title.len() + task.text.len() + 64)
        .sum();
    let list = TaskList {
        message: "Tasks loaded.",
        tasks,
        next_after,
    };
    let mut json = Vec::with_capacity(64 + text_len);
    serde_json::to_writer(&mut json, &list).expect("a task list always serializes");
    json
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    title: String,
    text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TaskCreated {
    message: &'static str,
    created_task: TaskView<'static>,
}

/// Stores a task for the caller; answers once it is durably stored.
#[utoipa::path(post, path = "/tasks", tag = "tasks", request_body = TaskBody, security(("bearer" = [])), responses(
    (status = 201, description = "`Task stored.`", body = TaskCreated),
    (status = 401, description = "Missing, malformed, expired or forged token.", body = ErrorBody),
    (status = 409, description = "The caller's own quota is full: they already have `MAX_TASKS_PER_USER` tasks, or this task would take their tasks past `MAX_BYTES_PER_USER` bytes as stored (JSON escaping included: a control character counts 6 bytes); the message says which and by how much. Retrying the same task will not help.", body = ErrorBody),
    (status = 422, description = "A field is missing, blank or too long.", body = ErrorBody),
    (status = 429, description = "Too many new tasks from the caller (`TASK_LIMIT_PER_USER`); `Retry-After` says when to try again.", body = ErrorBody),
    (status = 503, description = "auth-api or the disk is unavailable.", body = ErrorBody),
    (status = 507, description = "The store is at its byte budget (`STORE_BUDGET`) or the disk is full; reads go on.", body = ErrorBody),
))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<TaskBody>,
) -> Result<(StatusCode, ApiJson<TaskCreated>), TasksError> {
    state.throttle.admit(&user.id).await?;
    let draft = NewTask {
        owner: user.id,
        title: required("title", body.title, MAX_TITLE_CHARS)?,
        text: required("text", body.text, MAX_TEXT_CHARS)?,
    };
    let task = state.tasks.create(draft).await?;
    tracing::info!(task_id = task.id, "task stored");
    let created = TaskCreated {
        message: "Task stored.",
        created_task: task.into(),
    };
    Ok((StatusCode::CREATED, ApiJson(created)))
}

fn required(field: &str, value: String, max_chars: usize) -> Result<String, TasksError> {
    if value.trim().is_empty() {
        return Err(TasksError::Invalid(format!("{field} must not be blank.")));
    }
    if value.chars().count() > max_chars {
        return Err(TasksError::Invalid(format!(
            "{field} must be at most {max_chars} characters."
        )));
    }
    Ok(value)
}

/// Readiness: the tasks folder can take a durable write, or the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready."),
    (status = 503, description = "Not ready.", body = ErrorBody),
))]
async fn readyz(State(state): State<AppState>) -> Response {
    readiness(state.tasks.readiness().await)
}

#[cfg(test)]
mod tests;
