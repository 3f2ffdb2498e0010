-- bootstrap_user: creates (or reuses) a tenant and a user with a role, and stores a new
-- API token for that user. Caller: `kiln bootstrap` (the local stack, tests, installs).
-- Not granted to kiln_web. Writes an audit row.
create function kiln_api.bootstrap_user(p_tenant text, p_user text, p_role text,
                                        p_token_sha256 bytea, p_token_name text)
  returns table (tenant_id uuid, user_id uuid, token_id uuid)
  language plpgsql as $$
begin
  insert into kiln.tenants (name) values (p_tenant) on conflict (name) do nothing;
  select t.id into tenant_id from kiln.tenants t where t.name = p_tenant;
  insert into kiln.users (tenant_id, name) values (tenant_id, p_user)
    on conflict on constraint users_tenant_id_name_key do nothing;
  select u.id into user_id from kiln.users u where u.tenant_id = bootstrap_user.tenant_id and u.name = p_user;
  if not exists (select from kiln.roles where name = p_role) then
    perform kiln_api.raise_error(400, 'invalid_value', format('unknown role %s', p_role), 'role');
  end if;
  insert into kiln.user_roles (user_id, role_name, tenant_id) values (user_id, p_role, tenant_id)
    on conflict do nothing;
  insert into kiln.api_tokens (tenant_id, user_id, name, token_sha256)
    values (tenant_id, user_id, p_token_name, p_token_sha256) returning id into token_id;
  insert into kiln.audit_log (tenant_id, actor_user_id, action, object_type, object_id, detail)
    values (tenant_id, null, 'token.create', 'api_token', token_id::text,
            jsonb_build_object('user', p_user, 'role', p_role, 'name', p_token_name, 'via', 'bootstrap'));
  return next;
end $$;
