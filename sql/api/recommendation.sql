-- Recommendations (the seed's recommendation endpoint and its "selection accuracy" metric):
-- every decision select_infrastructure makes for the API or the dispatcher is recorded in
-- kiln.infrastructure_recommendations with its inputs and result, linked to the build it
-- led to, and settled once that build ended: did it succeed on the recommended
-- infrastructure?

-- resolve_build_config: the project of a build config, after checking `project` and
-- `method` as submit_build does. Errors: QC400 (types, unknown method), QC422 (project).
create function kiln_api.resolve_build_config(p_tenant uuid, p_config jsonb) returns kiln.projects
  language plpgsql stable as $$
declare
  v_project kiln.projects;
begin
  perform kiln_api.expect_type(p_config, 'object', 'body');
  perform kiln_api.expect_type(p_config -> 'project', 'string', 'project');
  select * into v_project from kiln.projects where tenant_id = p_tenant and name = p_config ->> 'project';
  if not found then
    perform kiln_api.raise_error(422, 'project_not_found',
      format('project %s does not exist; create it with POST /api/v1/projects', p_config ->> 'project'), 'project');
  end if;
  perform kiln_api.expect_type(p_config -> 'method', 'string', 'method');
  if not (p_config ->> 'method') = any (enum_range(null::kiln.build_method)::text[]) then
    perform kiln_api.raise_error(400, 'invalid_value', format('method %s is not one of %s', p_config ->> 'method',
      array_to_string(enum_range(null::kiln.build_method)::text[], ', ')), 'method');
  end if;
  return v_project;
end $$;

-- recommendation_config_sha: what identifies the config a decision was made for (project
-- and the decision's config: method, spec, requirements, infrastructure choice). An API
-- recommendation is linked to a build whose first placement has the same one.
create function kiln_api.recommendation_config_sha(p_inputs jsonb) returns text
  language sql stable as $$
  select md5(coalesce(p_inputs -> 'project' ->> 'id', '') || ':' || coalesce((p_inputs -> 'config')::text, ''))
$$;

-- record_recommendation: stores a select_infrastructure answer; returns its id.
create function kiln_api.record_recommendation(p_tenant uuid, p_source text, p_result jsonb,
    p_build_id uuid default null, p_execution_id uuid default null, p_now timestamptz default null)
  returns uuid language sql as $$
  insert into kiln.infrastructure_recommendations (tenant_id, project_id, source, requested_by, config_sha,
      inputs, result, infrastructure_type, reason, confidence, build_id, execution_id, linked_at, created_at)
  values (p_tenant, (p_result #>> '{inputs,project,id}')::uuid, p_source,
          case when p_source = 'api' then kiln_api.current_user_id() end,
          kiln_api.recommendation_config_sha(p_result -> 'inputs'), p_result -> 'inputs', p_result - 'inputs',
          (p_result ->> 'infrastructure_type')::kiln.infrastructure_type, p_result ->> 'reason',
          (p_result ->> 'confidence')::numeric, p_build_id, p_execution_id,
          case when p_build_id is not null then coalesce(p_now, now()) end, coalesce(p_now, now()))
  returning id
$$;

-- recommend_infrastructure: POST /api/v1/builds/infrastructure-recommendation. The body is
-- a build config, checked as submit_build checks it (params only when given; the
-- infrastructure choice by parse_infrastructure_choice: 403 for a force without
-- infrastructure:manage, 400 for a pick that is not available). Answers
-- select_infrastructure's JSON plus recommendation_id, and records it.
-- Errors: QC400, QC403, QC422.
create function kiln_api.recommend_infrastructure(p_body jsonb, p_now timestamptz default null)
  returns jsonb language plpgsql as $$
declare
  v_tenant uuid := kiln_api.require_tenant();
  v_project kiln.projects;
  v_result jsonb;
  v_field text;
begin
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['project', 'method', 'params', 'spec', 'requirements',
    'infrastructure_type', 'force_infrastructure', 'priority'], '');
  foreach v_field in array array['project', 'method'] loop
    if not p_body ? v_field then
      perform kiln_api.raise_error(400, 'missing_field', format('%s is required', v_field), v_field);
    end if;
  end loop;
  v_project := kiln_api.resolve_build_config(v_tenant, p_body);
  perform kiln_api.parse_infrastructure_choice(p_body, v_tenant);
  if p_body ? 'params' then
    perform kiln_api.validate_params((p_body ->> 'method')::kiln.build_method, p_body -> 'params');
  end if;
  v_result := kiln_api.select_infrastructure(v_tenant, p_body, 0, p_now);
  return (v_result - 'inputs')
    || jsonb_build_object('recommendation_id', kiln_api.record_recommendation(v_tenant, 'api', v_result, p_now => p_now),
                          'inputs', v_result -> 'inputs');
end $$;

-- link_recommendation: links the latest unlinked API recommendation for the same config,
-- asked by the build's submitter at most recommendation_link_seconds before the build was
-- submitted, to the build. Caller: plan_execution. Locks: that recommendation row.
create function kiln_api.link_recommendation(p_build kiln.builds, p_config_sha text, p_now timestamptz default null)
  returns uuid language sql as $$
  update kiln.infrastructure_recommendations r set build_id = p_build.id, linked_at = coalesce(p_now, now())
   where r.id = (select c.id from kiln.infrastructure_recommendations c
                  where c.tenant_id = p_build.tenant_id and c.source = 'api' and c.build_id is null
                    and c.config_sha = p_config_sha and c.requested_by is not distinct from p_build.created_by
                    and c.created_at <= p_build.created_at
                    and c.created_at > p_build.created_at - make_interval(
                          secs => kiln_api.setting('recommendation_link_seconds')::double precision)
                  order by c.created_at desc limit 1
                    for update skip locked)
  returning r.id
$$;

-- recommendation_outcomes: each recommendation with what became of it. A dispatch
-- recommendation is about its execution; an API one about the build it was linked to (its
-- last execution). settled: that ended. followed: it ran on the recommended type.
-- succeeded: it succeeded there (null when cancelled: that says nothing about the choice).
create view kiln_api.recommendation_outcomes with (security_invoker = true) as
  select r.id, r.tenant_id, r.project_id, r.source, r.created_at, r.infrastructure_type as recommended,
         r.result -> 'target' as target, r.reason, r.confidence, r.build_id, r.execution_id,
         b.status as build_status, x.infrastructure_type as ran_on, x.status as execution_status,
         x.infrastructure_type = r.infrastructure_type as followed,
         coalesce(case when r.source = 'dispatch'
                       then x.status in ('succeeded', 'failed', 'cancelled', 'timed_out', 'oom_killed', 'lost')
                       else b.status in ('succeeded', 'failed', 'cancelled', 'timed_out') end, false) as settled,
         case when r.source = 'dispatch' and x.status not in ('dispatching', 'running', 'cancelled')
                then x.status = 'succeeded'
              when r.source = 'api' and b.status in ('succeeded', 'failed', 'timed_out')
                then b.status = 'succeeded' and x.infrastructure_type = r.infrastructure_type end as succeeded
    from kiln.infrastructure_recommendations r
    left join kiln.builds b on b.id = r.build_id
    left join lateral (select e.infrastructure_type, e.status from kiln.build_executions e
                        where e.build_id = r.build_id and (r.execution_id is null or e.id = r.execution_id)
                        order by e.attempt desc limit 1) x on true;

-- settle_recommendations: writes succeeded/settled_at for up to p_limit linked
-- recommendations whose build or execution ended; returns how many. Caller: plan_execution
-- (a few per placement), or cron / a DBA. Locks: those rows (SKIP LOCKED).
-- Speed: plan_execution calls it for every build it places, while every build still
-- running has an unsettled recommendation, so the scan must be cheap per row: a dispatch
-- recommendation is settled exactly when its execution ended (one primary-key probe, the
-- view's own definition for that case); only the others go through the view. PL/pgSQL
-- so the dispatcher's session plans the statement once, not on every call.
create function kiln_api.settle_recommendations(p_limit integer default 100, p_now timestamptz default null)
  returns integer language plpgsql as $$
declare
  v_settled integer;
begin
  with due as (
    select r.id from kiln.infrastructure_recommendations r
     where r.settled_at is null and r.build_id is not null
       and case when r.source = 'dispatch' and r.execution_id is not null
                then exists (select from kiln.build_executions x
                              where x.id = r.execution_id and x.build_id = r.build_id
                                and x.status in ('succeeded', 'failed', 'cancelled', 'timed_out', 'oom_killed', 'lost'))
                else exists (select from kiln_api.recommendation_outcomes o where o.id = r.id and o.settled) end
     order by r.created_at limit p_limit
       for update skip locked
  ), settled as (
    update kiln.infrastructure_recommendations r set settled_at = coalesce(p_now, now()),
           succeeded = (select o.succeeded from kiln_api.recommendation_outcomes o where o.id = r.id)
      from due where r.id = due.id
    returning 1)
  select count(*)::integer into v_settled from settled;
  return v_settled;
end $$;

-- recommendation_accuracy: the seed's selection accuracy for the session's tenant (all
-- tenants for a DBA without one) since p_since: of the settled recommendations that were
-- followed (cancelled builds left out), how many succeeded on the recommended
-- infrastructure; overall, per source and per recommended type, with the mean confidence
-- to compare it with.
create function kiln_api.recommendation_accuracy(p_since timestamptz default null) returns jsonb
  language sql stable as $$
  with o as (
    select * from kiln_api.recommendation_outcomes
     where created_at >= coalesce(p_since, '-infinity') and kiln_api.in_session_tenant(tenant_id)
  ), figures as (
    select grouping(source) as gs, grouping(recommended) as gt, source, recommended::text as recommended,
           jsonb_build_object(
             'recommendations', count(*), 'settled', count(*) filter (where settled),
             'followed', count(*) filter (where settled and followed and succeeded is not null),
             'succeeded', count(*) filter (where settled and followed and succeeded),
             'accuracy', round(count(*) filter (where settled and followed and succeeded)::numeric
                               / nullif(count(*) filter (where settled and followed and succeeded is not null), 0), 3),
             'mean_confidence', round(avg(confidence) filter (where settled and followed and succeeded is not null), 3))
             as f
      from o group by grouping sets ((), (source), (recommended)))
  select coalesce((select f from figures where gs = 1 and gt = 1), '{}')
      || jsonb_build_object(
           'by_source', (select coalesce(jsonb_object_agg(source, f), '{}') from figures where gs = 0),
           'by_type', (select coalesce(jsonb_object_agg(recommended, f), '{}') from figures where gt = 0 and recommended is not null))
$$;

grant execute on function
  kiln_api.resolve_build_config(uuid, jsonb),
  kiln_api.recommendation_config_sha(jsonb),
  kiln_api.record_recommendation(uuid, text, jsonb, uuid, uuid, timestamptz),
  kiln_api.recommend_infrastructure(jsonb, timestamptz),
  kiln_api.recommendation_accuracy(timestamptz)
  to kiln_web;
grant select on kiln_api.recommendation_outcomes to kiln_web, kiln_system;
