//! users-api and tasks-api each as its own role, as production connects them (the roles made
//! by `scripts/postgres-service-roles.sh`): the walk-through works, each one's data is in its
//! own schema under its own role, and a service given the other's role does not start.

use crate::support::*;
use dev_stack::{start_tasks_with, start_users_with};
use kub_postgres::DatabaseSettings;
use reqwest::StatusCode;
use test_support::postgres::shared;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tasks_work_as_their_own_roles() {
    let mut app = spawn_stack().await;
    let database = shared().create_service_database();
    let auth = app.stack.auth.addr.to_string();
    let mut users = app.config.users_config(&auth).unwrap();
    users.database = DatabaseSettings::at(&database.users_url).unwrap();
    let mut tasks = app.config.tasks_config(&auth).unwrap();
    tasks.database = DatabaseSettings::at(&database.tasks_url).unwrap();

    // Given the other's role, neither starts: the schema it needs is not that role's.
    let mut crossed = tasks.clone();
    crossed.database = users.database.clone();
    let refused = start_tasks_with(loopback(), &crossed)
        .await
        .err()
        .expect("refused");
    assert!(
        refused.to_string().contains("owned by role tasks_api"),
        "{refused}"
    );

    let users = start_users_with(loopback(), &users).await.unwrap();
    let tasks = start_tasks_with(loopback(), &tasks).await.unwrap();
    std::mem::replace(&mut app.stack.users, users)
        .stop()
        .await
        .unwrap();
    std::mem::replace(&mut app.stack.tasks, tasks)
        .stop()
        .await
        .unwrap();

    let token = app.token_for("role@test.com").await;
    let created = app.post_task(&token, "as tasks_api", "x").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(titles(&listed), ["as tasks_api"]);
    for ready in [app.users("/readyz"), app.tasks("/readyz")] {
        let response = app.http.get(&ready).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{ready}");
    }

    let stored = shared().psql(
        &database.name,
        "SELECT 'users ' || count(*) FROM users.users \
         UNION ALL SELECT 'tasks ' || count(*) FROM tasks.tasks",
    );
    assert_eq!(stored, ["users 1", "tasks 1"]);
    let connected = shared().psql(
        &database.name,
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() \
         AND usename <> 'postgres' ORDER BY 1",
    );
    assert_eq!(connected, ["tasks_api", "users_api"]);
}
