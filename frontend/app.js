// The tasks page: sign up, log in, add and list tasks, and beside each action the path its
// request took. Everything from the services is shown with textContent, never as HTML.
"use strict";

const config = window.KUB_CONFIG;
const TOKEN_KEY = "kub-network-token";
const EMAIL_KEY = "kub-network-email";
const PAGE_SIZE = 5;
const MAX_PAGE_SIZE = 100; // tasks-api's largest `limit`
const PATHS_SHOWN = 4;
let nextAfter = null;
let traced = 0; // requests traced so far: the newest path entry's data-seq
// Bumped at every log-in and log-out: an answer that arrives for an older session is dropped.
let session = 0;

const $ = (id) => document.getElementById(id);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function say(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

// One call to a service: its JSON body, status and request id. Never throws on an HTTP
// error status; a network failure becomes status 0.
async function call(base, path, { method = "GET", body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    return { status: response.status, json, requestId: response.headers.get("x-request-id") };
  } catch (error) {
    return { status: 0, json: { message: `The request did not reach the service (${error.message}).` }, requestId: null };
  }
}

// Records the path of `what`: the request's answer, then what the service says about itself
// and how it found auth. That comes from a second request, GET /network, which a Service with
// several replicas may send to another Pod than the first: the panel says so.
async function trace(what, base, path, answer) {
  const network = await call(base, "/network");
  const info = network.json || {};
  const auth = info.auth || {};
  const pod = info.pod || {};
  const podText = network.status !== 200
    ? `unknown (GET /network → ${network.status || "no answer"})`
    : pod.name ? `${pod.name} (${pod.ip || "no IP"}, node ${pod.node || "?"})` : "not in Kubernetes";
  const rows = [
    ["request", `${what}: ${base}${path} → ${answer.status || "no answer"}`],
    ["request id", answer.requestId || "—"],
    ["answered by", info.service || "—"],
    ["auth found by", auth.source ? `${auth.source} = ${auth.rawValue}` : "—"],
    ["auth resolves to", (auth.resolvedAddresses || []).join(", ") || auth.resolveError || "—"],
    ["Pod (of GET /network)", podText],
  ];
  const item = element("li");
  item.dataset.seq = String(++traced);
  const list = element("dl");
  for (const [term, value] of rows) {
    list.append(element("dt", term), element("dd", String(value)));
  }
  item.append(list);
  $("path").prepend(item);
  while ($("path").children.length > PATHS_SHOWN) $("path").lastElementChild.remove();
}

function message(answer, fallback) {
  return (answer.json && answer.json.message) || fallback;
}

function showSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  $("session").hidden = !token;
  $("credentials").hidden = Boolean(token);
  $("who").textContent = sessionStorage.getItem(EMAIL_KEY) || "";
}

function renderTasks(tasks, append) {
  const list = $("tasks");
  if (!append) list.replaceChildren();
  for (const task of tasks) {
    const item = element("li");
    item.append(element("div", task.title, "task-title"), element("div", task.text, "task-text"));
    item.dataset.id = String(task.id);
    list.append(item);
  }
}

// One action at a time: its buttons are disabled until it ends, so a double click cannot load
// the same page twice. Log out stays enabled and ends the session at once.
async function exclusively(action) {
  const buttons = [...document.querySelectorAll("button:not(#logout)")];
  if (buttons.some((button) => button.disabled)) return;
  buttons.forEach((button) => { button.disabled = true; });
  try {
    await action();
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

// Loads the first `count` tasks (or, with `append`, the next page); `done` says what just
// happened, ahead of the count.
async function loadTasks(append, done = "", count = PAGE_SIZE) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return say("Log in first.", true);
  if (append && nextAfter === null) return;
  const mine = session;
  const after = append ? `&after=${nextAfter}` : "";
  const path = `/tasks?limit=${Math.min(count, MAX_PAGE_SIZE)}${after}`;
  const answer = await call(config.tasksApi, path, { token });
  await trace(append ? "Load more" : "Load my tasks", config.tasksApi, path, answer);
  if (mine !== session) return;
  if (answer.status !== 200) return say(message(answer, "Loading tasks failed."), true);
  renderTasks(answer.json.tasks, append);
  nextAfter = answer.json.nextAfter;
  $("more").hidden = nextAfter === null;
  if ($("more").hidden && document.activeElement === $("more")) $("refresh").focus();
  say(`${done}${$("tasks").children.length} task(s) shown.`);
}

async function submitCredentials(event) {
  // Enter in a field submits with the form's first button: Log in.
  const action = event.submitter ? event.submitter.value : "login";
  const body = { email: $("email").value, password: $("password").value };
  const path = `/${action}`;
  const answer = await call(config.usersApi, path, { method: "POST", body });
  await trace(action === "signup" ? "Sign up" : "Log in", config.usersApi, path, answer);
  if (action === "signup") {
    if (answer.status === 201) say("Signed up. Now log in.");
    else say(message(answer, "Sign up failed."), true);
    return;
  }
  if (answer.status !== 200) return say(message(answer, "Log in failed."), true);
  session += 1;
  sessionStorage.setItem(TOKEN_KEY, answer.json.token);
  sessionStorage.setItem(EMAIL_KEY, body.email);
  $("password").value = "";
  showSession();
  $("title").focus();
  await loadTasks(false, "Logged in. ");
}

async function addTask(event) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return say("Log in first.", true);
  const mine = session;
  const body = { title: $("title").value, text: $("text").value };
  const answer = await call(config.tasksApi, "/tasks", { method: "POST", body, token });
  await trace("Add task", config.tasksApi, "/tasks", answer);
  if (mine !== session) return;
  if (answer.status !== 201) return say(message(answer, "Adding the task failed."), true);
  $("new-task").reset();
  // Tasks are listed oldest first: reload what was shown plus one, so the new task is in view.
  await loadTasks(false, "Task stored. ", Math.max(PAGE_SIZE, $("tasks").children.length + 1));
}

function logOut() {
  session += 1;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(EMAIL_KEY);
  $("tasks").replaceChildren();
  $("more").hidden = true;
  nextAfter = null;
  showSession();
  say("Logged out.");
  $("email").focus();
}

// The page never lets a form submit itself: the browser would send it to the page's own URL.
function onSubmit(form, action) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    exclusively(() => action(event));
  });
}

onSubmit($("credentials"), submitCredentials);
onSubmit($("new-task"), addTask);
$("refresh").addEventListener("click", () => exclusively(() => loadTasks(false)));
$("more").addEventListener("click", () => exclusively(() => loadTasks(true)));
$("logout").addEventListener("click", logOut);
showSession();
$("mode").textContent = `Requests go through: ${(config && config.mode) || "no config.js"}`;
