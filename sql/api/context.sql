-- authenticate: resolves an API token (its SHA-256) to the caller and sets the
-- transaction's context: kiln.tenant_id (row-level security), kiln.user_id and
-- kiln.permissions. Returns no row for an unknown, revoked or expired token.
-- Caller: kiln-api, first statement of every authenticated request.
-- SECURITY DEFINER because tokens of all tenants are searched by hash; it reads nothing else.
create function kiln_api.authenticate(p_token_sha256 bytea, p_now timestamptz default null)
  returns table (user_id uuid, tenant_id uuid, permissions text[])
  language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_token kiln.api_tokens;
begin
  select * into v_token from kiln.api_tokens t
   where t.token_sha256 = p_token_sha256 and t.revoked_at is null
     and (t.expires_at is null or t.expires_at > v_now);
  if not found then
    return;
  end if;
  -- last_used_at is written at most once a minute per token, so reads stay reads.
  if v_token.last_used_at is null or v_token.last_used_at < v_now - interval '1 minute' then
    update kiln.api_tokens set last_used_at = v_now where id = v_token.id;
  end if;
  user_id := v_token.user_id;
  tenant_id := v_token.tenant_id;
  permissions := kiln_api.enter_request_context(v_token.user_id, v_token.tenant_id);
  return next;
end $$;
alter function kiln_api.authenticate(bytea, timestamptz) owner to kiln_system;

-- enter_request_context: the one place a request takes on a user's identity: sets
-- kiln.tenant_id (row-level security), kiln.user_id and kiln.permissions for the rest of
-- the transaction and returns the permissions. Callers: authenticate (API tokens) and
-- session_authenticate (page sessions), after they verified the credential. Not granted
-- to kiln_web.
create function kiln_api.enter_request_context(p_user_id uuid, p_tenant_id uuid)
  returns text[] language plpgsql as $$
declare
  v_permissions text[] := array(
    select distinct rp.permission from kiln.user_roles ur
      join kiln.role_permissions rp on rp.role_name = ur.role_name
     where ur.user_id = p_user_id order by 1);
begin
  perform set_config('kiln.tenant_id', p_tenant_id::text, true);
  perform set_config('kiln.user_id', p_user_id::text, true);
  perform set_config('kiln.permissions', array_to_string(v_permissions, ','), true);
  return v_permissions;
end $$;

-- has_permission: whether the current request holds a permission. Sessions that are not
-- the API's role (a DBA in psql, the dispatcher) act with full rights, as they can
-- already write the tables directly.
create function kiln_api.has_permission(p_permission text) returns boolean
  language sql stable as $$
  select current_user <> 'kiln_web'
      or p_permission = any (string_to_array(current_setting('kiln.permissions', true), ','))
$$;

create function kiln_api.current_user_id() returns uuid language sql stable as $$
  select nullif(current_setting('kiln.user_id', true), '')::uuid
$$;

-- in_session_tenant: whether a row of p_tenant belongs to the session's tenant. With no
-- tenant set this is true: the API's role then sees no rows at all (row-level security),
-- while a DBA session, which bypasses it, acts across tenants. With a tenant set, even a
-- DBA session stays inside it.
create function kiln_api.in_session_tenant(p_tenant uuid) returns boolean
  language sql stable as $$
  select kiln.current_tenant_id() is null or p_tenant = kiln.current_tenant_id()
$$;

-- require_tenant: the tenant of the transaction, or QC400 when none was set (a psql
-- session must `set kiln.tenant_id = '…'` first).
create function kiln_api.require_tenant() returns uuid language plpgsql stable as $$
declare
  v_tenant uuid := kiln.current_tenant_id();
begin
  if v_tenant is null then
    perform kiln_api.raise_error(400, 'no_tenant',
      'no tenant in this session: set kiln.tenant_id to the tenant''s id first');
  end if;
  return v_tenant;
end $$;
