use axum::{Router, extract::State, http::StatusCode, response::Response, routing::get};
use kub_common::{
    error::{ApiJson, ApiQuery},
    server::{alive, readiness, with_common_layers},
    store::AppendError,
};
use serde::{Deserialize, Serialize};

use crate::{AppState, CurrentUser, NewTask, Task, TasksError};

/// Tasks per page when `?limit=` is absent.
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 10_000;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/tasks", get(list_tasks).post(create_task))
        .route("/healthz", get(alive))
        .route("/readyz", get(readyz))
        .with_state(state);
    with_common_layers(routes)
}

/// A task as clients see it (the owner is implied by the token).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskView {
    id: u64,
    title: String,
    text: String,
    created_at: String,
}

impl From<Task> for TaskView {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            title: task.title,
            text: task.text,
            created_at: task.created_at,
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    after: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskList {
    message: &'static str,
    tasks: Vec<TaskView>,
    /// Pass as `?after=` for the next page; `null` on the last one.
    next_after: Option<u64>,
}

async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<TaskList>, TasksError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(TasksError::BadQuery(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}."
        )));
    }
    let page = state
        .tasks
        .read(|tasks| tasks.page(&user.id, query.after, limit));
    Ok(ApiJson(TaskList {
        message: "Tasks loaded.",
        tasks: page.tasks.into_iter().map(TaskView::from).collect(),
        next_after: page.next_after,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    title: String,
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskCreated {
    message: &'static str,
    created_task: TaskView,
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
async fn create_task(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<TaskBody>,
) -> Result<(StatusCode, ApiJson<TaskCreated>), TasksError> {
    let draft = NewTask {
        owner: user.id,
        title: required("title", body.title, MAX_TITLE_CHARS)?,
        text: required("text", body.text, MAX_TEXT_CHARS)?,
    };
    let task = state
        .tasks
        .append(draft)
        .await
        .map_err(|error| match error {
            AppendError::Storage(failure) => TasksError::Storage(failure),
            AppendError::Conflict(never) => match never {},
        })?;
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

async fn readyz(State(state): State<AppState>) -> Response {
    let writable = state.tasks.is_writable().await;
    readiness(if writable {
        Ok(())
    } else {
        Err(format!("{} is not writable", state.tasks.path().display()))
    })
}
