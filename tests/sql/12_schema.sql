-- The shape the rest relies on: schemas, tables, types, roles, who may call what, the
-- security-definer functions, the one-active-execution index, reference data, and that
-- nothing in `kiln` depends on `kiln_api` (which is dropped and reloaded on deploy).
begin;
select plan(32);

select has_schema('kiln');
select has_schema('kiln_api');
select tables_are('kiln', array['alert_states', 'api_tokens', 'audit_chain_heads', 'audit_log', 'build_configs',
  'build_events', 'build_executions', 'build_log_chunks', 'build_methods', 'build_nodes',
  'build_schedule_runs', 'build_schedules', 'build_transitions', 'builds',
  'infrastructure_capabilities', 'infrastructure_recommendations', 'infrastructure_usage',
  'infrastructure_usage_default', 'node_pools', 'permissions', 'pipeline_templates', 'project_scheduling',
  'projects', 'providers', 'role_permissions', 'roles', 'schema_migrations', 'settings', 'size_defaults',
  'size_ladder', 'tenant_fair_state', 'tenant_scheduling', 'tenants', 'usage_rollup_daily', 'usage_rollup_hourly', 'user_roles', 'users',
  'web_sessions', 'webhook_deliveries', 'webhook_delivery_attempts', 'webhooks'],
  'kiln holds exactly the expected tables');
select enum_has_labels('kiln', 'build_status', array['pending', 'queued', 'dispatching', 'running',
  'succeeded', 'failed', 'cancelled', 'timed_out'], 'build_status has the lifecycle''s statuses in order');
select enum_has_labels('kiln', 'execution_status', array['dispatching', 'running', 'succeeded', 'failed',
  'cancelled', 'timed_out', 'oom_killed', 'lost'], 'execution_status adds oom_killed and lost');
select enum_has_labels('kiln', 'build_method', array['docker', 'buildx', 'packer', 'nix', 'paketo', 'script'],
  'the six build methods');
select enum_has_labels('kiln', 'infrastructure_type', array['auto', 'kubernetes', 'build_nodes'],
  'the three infrastructure types');

------------------------------------------------------------------------------------------
-- Roles
------------------------------------------------------------------------------------------
select has_role('kiln_web');
select has_role('kiln_system');
select has_role('kiln_dispatch');
select is_member_of('kiln_system', 'kiln_dispatch', 'kiln_dispatch is a member of kiln_system');
select results_eq(
  $$select rolname::text collate "default", rolcanlogin, rolsuper, rolbypassrls from pg_roles
     where rolname in ('kiln_web', 'kiln_system', 'kiln_dispatch') order by 1$$,
  $$values ('kiln_dispatch', true, false, false), ('kiln_system', false, false, false),
           ('kiln_web', true, false, false)$$,
  'no kiln role is a superuser or bypasses RLS; kiln_system cannot log in');

------------------------------------------------------------------------------------------
-- Who may call what
------------------------------------------------------------------------------------------
select is_empty($$select p.oid::regprocedure::text from pg_proc p
                   where p.pronamespace = 'kiln_api'::regnamespace
                     and exists (select from aclexplode(p.proacl) a
                                  where a.grantee = 0 and a.privilege_type = 'EXECUTE')$$,
  'PUBLIC may execute no kiln_api function');
select is_empty($$select p.oid::regprocedure::text from pg_proc p
                   where p.pronamespace = 'kiln_api'::regnamespace
                     and not has_function_privilege('kiln_system', p.oid, 'execute')$$,
  'kiln_system may execute every kiln_api function');
select is_empty($$select p.oid::regprocedure::text from pg_proc p
                   where p.pronamespace = 'kiln_api'::regnamespace
                     and not has_function_privilege('kiln_dispatch', p.oid, 'execute')$$,
  'so may kiln_dispatch, through kiln_system');
select set_eq($$select p.proname::text from pg_proc p
                 where p.pronamespace = 'kiln_api'::regnamespace
                   and not has_function_privilege('kiln_web', p.oid, 'execute')$$,
  array['append_log', 'authenticate_node', 'bootstrap_user', 'claim_builds',
        'claim_webhook_deliveries', 'collect_alerts', 'create_usage_partition',
        'enforce_time_budgets', 'enqueue_due_schedules', 'enter_request_context', 'finish_execution', 'fire_schedule',
        'k8s_build_states', 'k8s_finish', 'k8s_mark_done', 'k8s_namespace_for', 'k8s_open_runs',
        'k8s_pending_checks', 'k8s_prepare', 'k8s_provider_credentials', 'k8s_record_check',
        'k8s_record_logs', 'k8s_resolve_target', 'k8s_set_health', 'k8s_start_execution',
        'job_execution', 'link_recommendation', 'lock_execution', 'maintain_usage_partitions',
        'offer_execution', 'partition_upper_bound', 'plan_execution', 'purge_webhook_deliveries',
        'age_queued_builds', 'pick_capped', 'pick_claimable', 'queued_tenants', 'replan_unhealthy_offers',
        'reap_expired_leases', 'rebuild_usage_rollup', 'record_execution_usage',
        'record_webhook_delivery', 'renew_lease', 'seed_pipeline_template',
        'settle_recommendations', 'start_execution', 'utf8_prefix', 'web_session_json'],
  'kiln_web may call no queue, dispatcher, agent-internal, housekeeping or bootstrap function');
select set_eq($$select p.oid::regprocedure::text from pg_proc p
                 where p.pronamespace = 'kiln_api'::regnamespace and p.prosecdef$$,
  array['kiln_api.authenticate(bytea,timestamp with time zone)', 'kiln_api.metrics_build_counts()',
        'kiln_api.setting(text)',
        'kiln_api.agent_claim(bytea,jsonb,timestamp with time zone)',
        'kiln_api.agent_renew(bytea,uuid,bigint,timestamp with time zone)',
        'kiln_api.agent_append_log(bytea,uuid,bigint,bigint,text)',
        'kiln_api.agent_finish(bytea,uuid,bigint,jsonb,timestamp with time zone)',
        'kiln_api.agent_issue_job_token(bytea,uuid,bytea,timestamp with time zone)',
        'kiln_api.token_refusal(bytea,timestamp with time zone)',
        'kiln_api.list_web_sessions(timestamp with time zone)',
        'kiln_api.revoke_web_session(uuid,timestamp with time zone)',
        'kiln_api.session_start(bytea,bytea,text,text,timestamp with time zone)',
        'kiln_api.session_authenticate(bytea,timestamp with time zone)',
        'kiln_api.session_end(bytea,timestamp with time zone)',
        'kiln_api.maintain_usage_partitions(timestamp with time zone)', 'kiln_api.metrics_snapshot()',
        'kiln_api.capable_infrastructure(jsonb,kiln.infrastructure_type,timestamp with time zone)',
        'kiln_api.queue_position_overall(integer,timestamp with time zone,uuid)'],
  'only token and page-session lookups, metrics, settings, partition upkeep, the node-token agent calls and the queue-state counts are security definer');
select results_eq(
  $$select p.proname::text collate "default", pg_get_userbyid(p.proowner)::text collate "default",
           p.proconfig collate "default"
      from pg_proc p where p.pronamespace = 'kiln_api'::regnamespace and p.prosecdef order by 1$$,
  $$select p.proname::text collate "default", 'kiln_system'::text collate "default",
           array['search_path=pg_catalog, kiln'] collate "default"
      from pg_proc p where p.pronamespace = 'kiln_api'::regnamespace and p.prosecdef order by 1$$,
  'all are owned by kiln_system with a pinned search_path');
select ok(not has_table_privilege('kiln_web', 'kiln.build_events', 'update')
          and not has_table_privilege('kiln_web', 'kiln.build_events', 'delete')
          and not has_table_privilege('kiln_web', 'kiln.audit_log', 'update')
          and not has_table_privilege('kiln_web', 'kiln.audit_log', 'delete'),
  'kiln_web may only append to build_events and audit_log');
select ok(not has_table_privilege('kiln_web', 'kiln.build_transitions', 'insert')
          and not has_table_privilege('kiln_web', 'kiln.role_permissions', 'insert')
          and not has_table_privilege('kiln_web', 'kiln.tenants', 'insert'),
  'kiln_web cannot change reference data or create tenants');
select ok(not has_table_privilege('kiln_web', 'kiln.infrastructure_usage_default', 'select'),
  'kiln_web reads usage only through the partitioned parent');

------------------------------------------------------------------------------------------
-- Invariants the schema enforces whatever a caller does
------------------------------------------------------------------------------------------
select test.make_tenant('acme') as acme \gset
select test.make_project(:'acme', 'web') as web \gset
select id as e1, build_id as b1 from test.make_claimed_build(:'acme', 'web') \gset
select throws_ok(format($$insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status)
                          values (%L, %L, 2, 2, 'running')$$, :'b1', :'acme'),
  '23505', 'duplicate key value violates unique constraint "build_executions_one_active"',
  'a build cannot have a second active execution');
select throws_ok(format($$insert into kiln.build_executions (build_id, tenant_id, attempt, epoch, status)
                          values (%L, %L, 1, 9, 'lost')$$, :'b1', :'acme'),
  '23505', 'duplicate key value violates unique constraint "build_executions_build_id_attempt_key"',
  'nor two executions of the same attempt');
select throws_ok(format($$update kiln.builds set priority = 101 where id = %L$$, :'b1'), '23514',
  'new row for relation "builds" violates check constraint "builds_priority_check"',
  'priority stays within -100..100');
select has_trigger('kiln', 'builds', '_100_touch_updated_at', 'builds keep updated_at');
select has_trigger('kiln', 'build_events', '_900_notify', 'build events are pushed with pg_notify');
select is((select count(*)::int from kiln.build_events where build_id = :'b1'), 3,
  'submit, start and claim each wrote an event');

------------------------------------------------------------------------------------------
-- Reference data
------------------------------------------------------------------------------------------
select results_eq(
  $$select m.method::text, m.required_params, m.primary_infra::text, m.fallback_infra::text
      from kiln.build_methods m order by m.method$$,
  $$values ('docker', array['git_url', 'image'], 'kubernetes', 'build_nodes'),
           ('buildx', array['git_url', 'image'], 'kubernetes', 'build_nodes'),
           ('packer', array['git_url', 'template'], 'kubernetes', 'build_nodes'),
           ('nix', array['flake_uri'], 'kubernetes', 'build_nodes'),
           ('paketo', array['git_url', 'image'], 'kubernetes', 'build_nodes'),
           ('script', array['script'], 'kubernetes', 'build_nodes')$$,
  'each method''s required params and preferred infrastructure');
select results_eq(
  $$select role_name, count(*)::int from kiln.role_permissions group by 1 order by 1$$,
  $$values ('admin', 10), ('developer', 6), ('operator', 1), ('viewer', 2)$$,
  'admin holds the 10 tenant permissions, developer 6, viewer 2; operator only scheduling:tenant');
select ok((select bool_and(r.role_name = 'admin') from kiln.role_permissions r
            where r.permission in ('infrastructure:manage', 'infrastructure:configure', 'admin')),
  'only admin may manage or configure infrastructure');
select results_eq($$select status::text, builds from kiln_api.metrics_build_counts() where builds > 0$$,
  $$values ('dispatching', 1::bigint)$$, 'metrics_build_counts counts builds per status');

------------------------------------------------------------------------------------------
-- kiln does not depend on kiln_api
------------------------------------------------------------------------------------------
create temp table kiln_objects as
  select 'class' kind, oid::regclass::text name from pg_class where relnamespace = 'kiln'::regnamespace
  union all select 'proc', oid::regprocedure::text from pg_proc where pronamespace = 'kiln'::regnamespace
  union all select 'type', oid::regtype::text from pg_type where typnamespace = 'kiln'::regnamespace
  union all select 'policy', polrelid::regclass::text || '.' || polname from pg_policy
             where polrelid in (select oid from pg_class where relnamespace = 'kiln'::regnamespace)
  union all select 'trigger', tgrelid::regclass::text || '.' || tgname from pg_trigger
             where tgrelid in (select oid from pg_class where relnamespace = 'kiln'::regnamespace);
set local client_min_messages = warning;
drop schema kiln_api cascade;
select set_eq($$
  select 'class' kind, oid::regclass::text name from pg_class where relnamespace = 'kiln'::regnamespace
  union all select 'proc', oid::regprocedure::text from pg_proc where pronamespace = 'kiln'::regnamespace
  union all select 'type', oid::regtype::text from pg_type where typnamespace = 'kiln'::regnamespace
  union all select 'policy', polrelid::regclass::text || '.' || polname from pg_policy
             where polrelid in (select oid from pg_class where relnamespace = 'kiln'::regnamespace)
  union all select 'trigger', tgrelid::regclass::text || '.' || tgname from pg_trigger
             where tgrelid in (select oid from pg_class where relnamespace = 'kiln'::regnamespace)$$,
  $$select kind, name from kiln_objects$$,
  'dropping kiln_api removes nothing from kiln');

select * from finish();
rollback;
