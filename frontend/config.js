// Where the page sends its requests. Served as is by the frontend image, whose nginx proxies
// these paths to users-service and tasks-service; `cargo run -p dev-stack` serves its own
// version pointing straight at the services (which then allow the page's origin: CORS_ORIGINS).
window.KUB_CONFIG = {
  usersApi: "/api/users",
  tasksApi: "/api/tasks",
  mode: "nginx reverse proxy: /api/users/ and /api/tasks/ go to users and tasks by name (compose service names, or the Services' cluster DNS names on Kubernetes)",
};
