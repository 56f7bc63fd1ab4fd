-- What each owner's tasks count against MAX_BYTES_PER_USER, kept beside their count and bumped
-- in the same statement (src/tasks/postgres.rs): the bytes each task would take as a line of
-- the file store, JSON escaping included, its id counted at 20 digits (src/tasks.rs,
-- counted_bytes). Tasks stored before this migration are counted here by the same measure:
-- PostgreSQL's JSON strings escape exactly as the file's, and the rest of a line is 93 bytes:
-- {"id":<20>,"owner":,"title":,"text":,"createdAt":"<24>"} and its newline.
ALTER TABLE task_counts ADD COLUMN bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0);

UPDATE task_counts AS counts SET bytes = stored.bytes
FROM (
    SELECT owner, sum(93 + octet_length(to_json(owner)::text) + octet_length(to_json(title)::text)
        + octet_length(to_json(text)::text))::bigint AS bytes
    FROM tasks GROUP BY owner
) AS stored
WHERE stored.owner = counts.owner;
