-- 0008: credentials with a lifetime.
-- Node tokens expire (node_token_days after they were issued) and are rotated without
-- downtime: the previous token keeps working until previous_token_expires_at.
-- Job tokens: each execution run by a build node gets its own token at claim (only its
-- SHA-256 is stored here); it is the agent's only credential for that execution's renew,
-- logs and finish calls, and it dies when the execution ends.
-- API tokens already carry expires_at, revoked_at and last_used_at (0001).

alter table kiln.build_nodes
  add column token_expires_at          timestamptz,
  add column previous_token_sha256     bytea unique check (length(previous_token_sha256) = 32),
  add column previous_token_expires_at timestamptz;
update kiln.build_nodes set token_expires_at = now() + interval '90 days' where token_sha256 is not null;

alter table kiln.build_executions
  add column job_token_sha256 bytea unique check (length(job_token_sha256) = 32);

insert into kiln.settings (key, value, description) values
  ('node_token_days', 90, 'a build node''s token expires this many days after it was issued or rotated');
