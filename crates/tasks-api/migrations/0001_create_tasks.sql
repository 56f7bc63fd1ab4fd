-- tasks-api's table, in its own schema (`tasks`, set as the connection's search_path).
-- `id` is the pagination cursor. One owner's inserts take turns under an advisory lock
-- (src/tasks/postgres.rs), so an owner's ids are committed in increasing order and a page
-- read `after` an id can never miss a task committed later.
CREATE TABLE tasks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL,
    title text NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_by_owner ON tasks (owner, id);
