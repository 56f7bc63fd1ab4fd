-- users-api's table, in its own schema (`users`, set as the connection's search_path).
-- The unique email is what makes one signup win when replicas race for the same address.
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
