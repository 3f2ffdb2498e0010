-- Page sessions (migration 0006): sign-in with an API token, per-request lookup by the
-- cookie's hash, sign-out. Callers: kiln-api's page routes (POST /admin/login, every
-- page request, POST /admin/logout) and the log stream when it is opened by a page.
-- SECURITY DEFINER (owned by kiln_system): sessions and tokens are found by hash before
-- any tenant is known; each function touches only the rows its hash arguments name.
-- Errors: none raised; an unknown, expired or revoked token or session yields no row.

-- session_start: checks the API token like authenticate does and creates a session for its
-- user. The absolute lifetime is web_session_hours, cut short by the token's own expiry.
-- Writes an audit row. Also deletes sessions that ended more than a day ago (bounded).
create function kiln_api.session_start(p_token_sha256 bytea, p_session_sha256 bytea, p_csrf_token text,
                                       p_user_agent text, p_now timestamptz default null)
  returns table (user_id uuid, tenant_id uuid, expires_at timestamptz)
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_token kiln.api_tokens;
  v_session kiln.web_sessions;
begin
  select * into v_token from kiln.api_tokens t
   where t.token_sha256 = p_token_sha256 and t.revoked_at is null
     and (t.expires_at is null or t.expires_at > v_now);
  if not found then
    return;
  end if;
  delete from kiln.web_sessions s
   where s.id in (select o.id from kiln.web_sessions o
                   where o.expires_at < v_now - interval '1 day' limit 100);
  insert into kiln.web_sessions (tenant_id, user_id, token_id, session_sha256, csrf_token, user_agent,
                                 created_at, last_seen_at, expires_at)
    values (v_token.tenant_id, v_token.user_id, v_token.id, p_session_sha256, p_csrf_token,
            left(p_user_agent, 400), v_now, v_now,
            least(v_now + make_interval(hours => kiln_api.setting('web_session_hours')::integer),
                  coalesce(v_token.expires_at, 'infinity')))
    returning * into v_session;
  update kiln.api_tokens set last_used_at = v_now where id = v_token.id;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_token.tenant_id, v_token.user_id, 'session.start', 'web_session', v_session.id::text,
            jsonb_build_object('token', v_token.name));
  user_id := v_session.user_id;
  tenant_id := v_session.tenant_id;
  expires_at := v_session.expires_at;
  return next;
end $$;
alter function kiln_api.session_start(bytea, bytea, text, text, timestamptz) owner to kiln_system;

-- session_authenticate: the session of a cookie, when it is live and its token still valid,
-- with the user's permissions and the session's CSRF token; sets the transaction's context
-- exactly as authenticate does (row-level security). last_seen_at is written at most once a
-- minute per session, so page views stay reads.
create function kiln_api.session_authenticate(p_session_sha256 bytea, p_now timestamptz default null)
  returns table (user_id uuid, tenant_id uuid, permissions text[], csrf_token text,
                 user_name text, tenant_name text, expires_at timestamptz)
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_session kiln.web_sessions;
begin
  select s.* into v_session from kiln.web_sessions s
    join kiln.api_tokens t on t.id = s.token_id
   where s.session_sha256 = p_session_sha256 and s.revoked_at is null and s.expires_at > v_now
     and s.last_seen_at > v_now - make_interval(mins => kiln_api.setting('web_session_idle_minutes')::integer)
     and t.revoked_at is null and (t.expires_at is null or t.expires_at > v_now);
  if not found then
    return;
  end if;
  if v_session.last_seen_at < v_now - interval '1 minute' then
    update kiln.web_sessions set last_seen_at = v_now where id = v_session.id;
  end if;
  user_id := v_session.user_id;
  tenant_id := v_session.tenant_id;
  csrf_token := v_session.csrf_token;
  expires_at := v_session.expires_at;
  select u.name, tn.name into user_name, tenant_name
    from kiln.users u join kiln.tenants tn on tn.id = u.tenant_id where u.id = v_session.user_id;
  permissions := kiln_api.enter_request_context(v_session.user_id, v_session.tenant_id);
  return next;
end $$;
alter function kiln_api.session_authenticate(bytea, timestamptz) owner to kiln_system;

-- session_end: revokes the session of a cookie (sign-out); true when one was live.
-- Writes an audit row.
create function kiln_api.session_end(p_session_sha256 bytea, p_now timestamptz default null)
  returns boolean
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_session kiln.web_sessions;
begin
  update kiln.web_sessions s set revoked_at = coalesce(p_now, now())
   where s.session_sha256 = p_session_sha256 and s.revoked_at is null
   returning * into v_session;
  if not found then
    return false;
  end if;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (v_session.tenant_id, v_session.user_id, 'session.end', 'web_session', v_session.id::text, '{}');
  return true;
end $$;
alter function kiln_api.session_end(bytea, timestamptz) owner to kiln_system;

-- web_session_json: a session as an admin sees it: never its hash or CSRF token. Called
-- by the two SECURITY DEFINER functions below; not granted to kiln_web.
create function kiln_api.web_session_json(s kiln.web_sessions, p_now timestamptz default null)
  returns jsonb language sql stable as $$
  select jsonb_build_object('id', s.id, 'user', (select u.name from kiln.users u where u.id = s.user_id),
    'token', (select t.name from kiln.api_tokens t where t.id = s.token_id), 'user_agent', s.user_agent,
    'created_at', s.created_at, 'last_seen_at', s.last_seen_at, 'expires_at', s.expires_at,
    'idle_expires_at', s.last_seen_at + make_interval(mins => kiln_api.setting('web_session_idle_minutes')::integer),
    'revoked_at', s.revoked_at,
    'active', s.revoked_at is null and s.expires_at > coalesce(p_now, now())
              and s.last_seen_at > coalesce(p_now, now())
                  - make_interval(mins => kiln_api.setting('web_session_idle_minutes')::integer))
$$;

-- list_web_sessions: the tenant's page sessions that have not ended more than a day ago,
-- newest first. Caller: GET /api/v1/admin/sessions (permission admin).
create function kiln_api.list_web_sessions(p_now timestamptz default null) returns jsonb
  language sql stable security definer set search_path = pg_catalog, kiln as $$
  select jsonb_build_object('items', coalesce(jsonb_agg(kiln_api.web_session_json(s, p_now)
                                                        order by s.created_at desc, s.id), '[]'))
    from kiln.web_sessions s
   where s.tenant_id = kiln_api.require_tenant()
     and coalesce(s.revoked_at, s.expires_at) > coalesce(p_now, now()) - interval '1 day'
$$;
alter function kiln_api.list_web_sessions(timestamptz) owner to kiln_system;

-- revoke_web_session: ends a session of the tenant at once (its next page request goes to
-- the sign-in page). Revoking an ended session changes nothing. Writes an audit row.
-- Caller: POST /api/v1/admin/sessions/{id}/revoke (permission admin). Errors: QC404.
create function kiln_api.revoke_web_session(p_id uuid, p_now timestamptz default null) returns jsonb
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_session kiln.web_sessions;
begin
  select * into v_session from kiln.web_sessions s
   where s.id = p_id and s.tenant_id = kiln_api.require_tenant() for update;
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('session %s not found', p_id), 'id');
  end if;
  if v_session.revoked_at is null then
    update kiln.web_sessions set revoked_at = coalesce(p_now, now()) where id = p_id returning * into v_session;
    insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
      values (v_session.tenant_id, kiln_api.current_user_id(), 'session.revoke', 'web_session',
              v_session.id::text, jsonb_build_object('user_id', v_session.user_id));
  end if;
  return kiln_api.web_session_json(v_session, p_now);
end $$;
alter function kiln_api.revoke_web_session(uuid, timestamptz) owner to kiln_system;

grant execute on function
  kiln_api.list_web_sessions(timestamptz),
  kiln_api.revoke_web_session(uuid, timestamptz),
  kiln_api.session_start(bytea, bytea, text, text, timestamptz),
  kiln_api.session_authenticate(bytea, timestamptz),
  kiln_api.session_end(bytea, timestamptz)
  to kiln_web;
