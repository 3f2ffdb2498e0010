-- 0006: browser sessions for the server-rendered pages. A person signs in with an API
-- token; the page then carries a random session id in an HttpOnly cookie. Only the id's
-- SHA-256 is stored. A session ends when it expires (absolute lifetime or idleness), when
-- it is revoked (sign-out, or a DBA setting revoked_at), or when the API token it was
-- started with is revoked or expires. Each session has its own CSRF token, which every
-- form carries and every POST must echo.

create table kiln.web_sessions (
  id             uuid primary key default gen_random_uuid(),
  tenant_id      uuid not null references kiln.tenants (id) on delete cascade,
  user_id        uuid not null references kiln.users (id) on delete cascade,
  token_id       uuid not null references kiln.api_tokens (id) on delete cascade,
  session_sha256 bytea not null unique check (length(session_sha256) = 32),
  csrf_token     text not null check (length(csrf_token) >= 32),
  user_agent     text check (length(user_agent) <= 400),
  created_at     timestamptz not null default now(),
  last_seen_at   timestamptz not null default now(),
  expires_at     timestamptz not null,
  revoked_at     timestamptz
);
create index web_sessions_user on kiln.web_sessions (user_id);
create index web_sessions_expires on kiln.web_sessions (expires_at);

-- Only SECURITY DEFINER functions (owned by kiln_system) read or write sessions: they are
-- looked up by hash before any tenant is known. The API role gets no grant on the table;
-- its tenant policy is there as on every tenant table, should one ever be given.
alter table kiln.web_sessions enable row level security;
alter table kiln.web_sessions force row level security;
create policy tenant_isolation on kiln.web_sessions to kiln_web
  using (tenant_id = kiln.current_tenant_id()) with check (tenant_id = kiln.current_tenant_id());
create policy system_access on kiln.web_sessions to kiln_system using (true) with check (true);
grant select, insert, update, delete on kiln.web_sessions to kiln_system;

insert into kiln.settings (key, value, description) values
  ('web_session_hours', 12, 'a page session ends this many hours after sign-in'),
  ('web_session_idle_minutes', 120, 'a page session unused for this long ends');
