-- kiln_api.authenticate: an API token's SHA-256 resolves to its user, tenant and the
-- permissions of the user's roles, and sets the transaction's kiln.tenant_id, kiln.user_id
-- and kiln.permissions. Revoked, expired and unknown tokens give no row and set nothing.
-- Also kiln_api.bootstrap_user, which creates the first tenant, user and token.
begin;
select plan(28);

select test.make_tenant('acme') as acme \gset
select test.make_user(:'acme', 'ann', 'admin') as ann \gset
select test.make_user(:'acme', 'dev', 'developer') as dev \gset
select test.make_user(:'acme', 'vic', 'viewer') as vic \gset
select test.make_token(:'ann', 'ann-good') as ann_token \gset
select test.make_token(:'dev', 'dev-good', p_expires_at => '2030-06-01') as dev_token \gset
select test.make_token(:'vic', 'vic-good');
select test.make_token(:'ann', 'ann-revoked', p_revoked_at => '2029-01-01');
select test.make_token(:'ann', 'ann-expired', p_expires_at => '2029-12-31');

set local role kiln_web;

------------------------------------------------------------------------------------------
-- A valid token
------------------------------------------------------------------------------------------
select results_eq(
  $$select user_id, tenant_id, permissions from kiln_api.authenticate(test.sha('ann-good'), '2030-01-01')$$,
  format($$values (%L::uuid, %L::uuid, array['admin', 'build:cancel', 'build:create',
    'build:create:with-infra', 'build:read', 'infrastructure:configure', 'infrastructure:manage',
    'infrastructure:monitor', 'infrastructure:select', 'infrastructure:view'])$$, :'ann', :'acme'),
  'an admin''s token: the user, the tenant and every permission, sorted');
select is(current_setting('kiln.tenant_id'), :'acme', 'kiln.tenant_id is set to the token''s tenant');
select is(current_setting('kiln.user_id'), :'ann', 'kiln.user_id is set to the token''s user');
select is(current_setting('kiln.permissions'),
  'admin,build:cancel,build:create,build:create:with-infra,build:read,infrastructure:configure,infrastructure:manage,infrastructure:monitor,infrastructure:select,infrastructure:view',
  'kiln.permissions lists them comma-separated');
select ok(kiln_api.has_permission('infrastructure:manage'), 'has_permission sees the admin''s permissions');
select is(kiln_api.current_user_id(), :'ann'::uuid, 'current_user_id is the token''s user');
select is(kiln_api.actor(), 'user:' || :'ann', 'actor names the user');
select is((select count(*)::int from kiln.builds), 0, 'row-level security now admits the tenant (no build yet)');
select is((select count(*)::int from kiln.projects where tenant_id = :'acme'), 0,
  'and reads run as kiln_web under its policies');

select results_eq(
  $$select permissions from kiln_api.authenticate(test.sha('dev-good'), '2030-01-01')$$,
  $$values (array['build:cancel', 'build:create', 'build:create:with-infra', 'build:read',
                  'infrastructure:select', 'infrastructure:view'])$$,
  'a developer''s token: the developer permissions');
select ok(not kiln_api.has_permission('infrastructure:manage'), 'a developer lacks infrastructure:manage');
select results_eq(
  $$select permissions from kiln_api.authenticate(test.sha('vic-good'))$$,
  $$values (array['build:read', 'infrastructure:view'])$$, 'a viewer''s token: read and view only');

------------------------------------------------------------------------------------------
-- Tokens that do not authenticate
------------------------------------------------------------------------------------------
select test.act_as_tenant(null);
select is_empty($$select * from kiln_api.authenticate(test.sha('ann-revoked'), '2030-01-01')$$,
  'a revoked token gives no row');
select is_empty($$select * from kiln_api.authenticate(test.sha('ann-expired'), '2030-01-01')$$,
  'an expired token gives no row');
select is_empty($$select * from kiln_api.authenticate(test.sha('dev-good'), '2030-06-01')$$,
  'a token is expired at its expires_at');
select isnt_empty($$select * from kiln_api.authenticate(test.sha('dev-good'), '2030-05-31 23:59')$$,
  'and valid just before');
select test.act_as_tenant(null);
select is_empty($$select * from kiln_api.authenticate(test.sha('nobody'))$$, 'an unknown token gives no row');
select is_empty($$select * from kiln_api.authenticate(null)$$, 'a null token gives no row');
select is(coalesce(current_setting('kiln.tenant_id', true), ''), '',
  'a refused token leaves kiln.tenant_id unset');
select is(coalesce(current_setting('kiln.permissions', true), ''), '', 'and kiln.permissions empty');
reset role;

------------------------------------------------------------------------------------------
-- last_used_at is written at most once a minute
------------------------------------------------------------------------------------------
select is((select last_used_at from kiln.api_tokens where id = :'ann_token'),
  '2030-01-01'::timestamptz, 'authenticate recorded last_used_at');
select count(*) from kiln_api.authenticate(test.sha('ann-good'), '2030-01-01 00:00:59');
select is((select last_used_at from kiln.api_tokens where id = :'ann_token'),
  '2030-01-01'::timestamptz, 'a use within the minute does not write');
select count(*) from kiln_api.authenticate(test.sha('ann-good'), '2030-01-01 00:01:01');
select is((select last_used_at from kiln.api_tokens where id = :'ann_token'),
  '2030-01-01 00:01:01'::timestamptz, 'a use a minute later does');

------------------------------------------------------------------------------------------
-- bootstrap_user
------------------------------------------------------------------------------------------
select tenant_id as boot_tenant, user_id as boot_user
  from kiln_api.bootstrap_user('fresh', 'root', 'admin', test.sha('boot-1'), 'first') \gset
select results_eq($$select user_id, tenant_id from kiln_api.authenticate(test.sha('boot-1'))$$,
  format('values (%L::uuid, %L::uuid)', :'boot_user', :'boot_tenant'),
  'bootstrap_user creates a tenant, a user and a token that authenticates');
select results_eq(
  $$select tenant_id, user_id from kiln_api.bootstrap_user('fresh', 'root', 'admin', test.sha('boot-2'), 'second')$$,
  format('values (%L::uuid, %L::uuid)', :'boot_tenant', :'boot_user'),
  'bootstrapping again reuses the tenant and the user and adds a token');
select is((select count(*)::int from kiln.audit_log where tenant_id = :'boot_tenant' and action = 'token.create'),
  2, 'each bootstrap writes an audit row');
select throws_ok($$select * from kiln_api.bootstrap_user('fresh', 'root', 'wizard', test.sha('boot-3'), 'x')$$,
  'QC400', 'unknown role wizard', 'an unknown role is refused');
set local role kiln_web;
select throws_ok($$select * from kiln_api.bootstrap_user('evil', 'root', 'admin', test.sha('boot-4'), 'x')$$,
  '42501', 'permission denied for function bootstrap_user', 'kiln_web may not bootstrap');
reset role;

select * from finish();
rollback;
