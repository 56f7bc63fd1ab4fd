-- tasks-api's tables, in its own schema (`tasks`, set as the connection's search_path).
-- `id` is the pagination cursor.
CREATE TABLE tasks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL,
    title text NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_by_owner ON tasks (owner, id);

-- How many tasks each owner has. An insert bumps its owner's row here in the same statement
-- (src/tasks/postgres.rs), which locks that row until the insert commits: one owner's inserts
-- take turns, so the cap MAX_TASKS_PER_USER is exact and an owner's ids are committed in
-- increasing order (a page read `after` an id never misses a task committed later), at a cost
-- that does not grow with the number of tasks an owner has.
CREATE TABLE task_counts (
    owner text PRIMARY KEY,
    count bigint NOT NULL CHECK (count >= 0)
);
