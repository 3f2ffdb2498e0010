-- Alert delivery, driven by kiln-dispatch: collect_alerts (each pass) turns what happened
-- into kiln.webhook_deliveries rows, once per webhook and occurrence (event_key); the
-- dispatcher's webhook sender claims due deliveries (claim_webhook_deliveries), POSTs
-- them with a bounded timeout outside any transaction, and records each attempt
-- (record_webhook_delivery): delivered on a 2xx, else retried after
-- webhook_backoff_base_seconds × 2^(attempt-1) (at most an hour) until
-- webhook_max_attempts, then failed. Payload: {"id","event","occurred_at","tenant","data"}.

-- collect_alerts: queues deliveries for build failures of the last alert_lookback_seconds
-- and for conditions firing now (kiln.alert_states: a node offline for
-- node_offline_after_seconds, a provider unhealthy, a tenant's oldest waiting build over a
-- webhook's threshold); a condition that clears is forgotten, so its next episode alerts
-- again. Shared nodes and providers (tenant_id null) alert every subscribed tenant.
-- Returns the number of deliveries queued. Does nothing while no webhook is enabled.
-- Caller: kiln-dispatch. Locks: a transaction advisory lock (a concurrent caller returns 0).
create function kiln_api.collect_alerts(p_now timestamptz default null) returns integer
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_lookback interval := make_interval(secs => coalesce(kiln_api.setting('alert_lookback_seconds'), 900)::double precision);
  v_offline interval := make_interval(secs => coalesce(kiln_api.setting('node_offline_after_seconds'), 60)::double precision);
  v_total integer;
  v_more integer;
begin
  if not exists (select from kiln.webhooks where enabled)
     or not pg_try_advisory_xact_lock(hashtext('kiln.collect_alerts')) then
    return 0;
  end if;

  insert into kiln.webhook_deliveries (webhook_id, tenant_id, event, event_key, payload, next_attempt_at, created_at)
    select w.id, w.tenant_id, 'build.failed', 'build.failed:' || ev.id,
           jsonb_build_object('id', 'build.failed:' || ev.id, 'event', 'build.failed', 'occurred_at', ev.created_at,
             'tenant', t.name, 'data', jsonb_build_object('build_id', b.id, 'project', p.name, 'status', ev.to_status,
               'reason', ev.message, 'attempt', b.attempt, 'execution_id', ev.execution_id)),
           v_now, v_now
      from kiln.build_events ev
      join kiln.webhooks w on w.tenant_id = ev.tenant_id and w.enabled and 'build.failed' = any (w.events)
      join kiln.builds b on b.id = ev.build_id
      join kiln.projects p on p.id = b.project_id
      join kiln.tenants t on t.id = ev.tenant_id
     where ev.to_status in ('failed', 'timed_out') and ev.created_at > v_now - v_lookback
       and ev.created_at >= w.created_at
    on conflict (webhook_id, event_key) do nothing;
  get diagnostics v_total = row_count;

  -- One statement: the firing set is computed once; states that cleared are deleted and
  -- new ones inserted (the two touch different rows).
  with firing (alert, subject, tenant_id, detail) as (
      select 'node.offline', n.id::text, n.tenant_id,
             jsonb_build_object('node', n.name, 'node_id', n.id, 'status', n.status,
                                'last_heartbeat_at', n.last_heartbeat_at, 'shared', n.tenant_id is null)
        from kiln.build_nodes n
       where n.status <> 'deprecated' and n.last_heartbeat_at < v_now - v_offline
      union all
      select 'provider.unhealthy', pr.id::text, pr.tenant_id,
             jsonb_build_object('provider', pr.name, 'provider_id', pr.id, 'provider_type', pr.provider_type,
                                'health_checked_at', pr.health_checked_at, 'shared', pr.tenant_id is null)
        from kiln.providers pr
       where pr.enabled and pr.health = 'unhealthy'
      union all
      select 'queue.wait_exceeded', w.id::text, w.tenant_id,
             jsonb_build_object('threshold_seconds', w.queue_wait_threshold_seconds, 'waiting_builds', q.n,
                                'oldest_queued_at', q.oldest,
                                'longest_wait_seconds', round(extract(epoch from v_now - q.oldest)))
        from kiln.webhooks w
        cross join lateral (select count(*) as n, min(b.queued_at) as oldest from kiln.builds b
                             where b.tenant_id = w.tenant_id and b.status in ('queued', 'dispatching')
                               and b.queued_at < v_now - make_interval(secs => w.queue_wait_threshold_seconds)) q
       where w.enabled and 'queue.wait_exceeded' = any (w.events) and q.n > 0
  ), cleared as (
    delete from kiln.alert_states s
     where not exists (select from firing f where f.alert = s.alert and f.subject = s.subject)
  )
  insert into kiln.alert_states (alert, subject, tenant_id, since, detail)
    select f.alert, f.subject, f.tenant_id, v_now, f.detail from firing f
    on conflict (alert, subject) do nothing;

  insert into kiln.webhook_deliveries (webhook_id, tenant_id, event, event_key, payload, next_attempt_at, created_at)
    select w.id, w.tenant_id, s.alert, k.event_key,
           jsonb_build_object('id', k.event_key, 'event', s.alert, 'occurred_at', s.since, 'tenant', t.name,
                              'data', s.detail),
           v_now, v_now
      from kiln.alert_states s
      join kiln.webhooks w on w.enabled and s.alert = any (w.events)
       and case when s.alert = 'queue.wait_exceeded' then s.subject = w.id::text
                else s.tenant_id is null or s.tenant_id = w.tenant_id end
      join kiln.tenants t on t.id = w.tenant_id
      cross join lateral (select s.alert || ':' || s.subject || ':' || (extract(epoch from s.since) * 1000000)::bigint
                                 as event_key) k
    on conflict (webhook_id, event_key) do nothing;
  get diagnostics v_more = row_count;
  return v_total + v_more;
end $$;

-- claim_webhook_deliveries: up to p_limit due deliveries of enabled webhooks for one
-- sender, each under a claim of p_lease_seconds (a sender that dies mid-attempt loses the
-- claim, and the delivery is retried); the attempt counter is taken here. Returns what
-- the sender needs, secret included (kiln_dispatch only).
-- Caller: kiln-dispatch's webhook sender. Locks: the claimed rows, SKIP LOCKED.
create function kiln_api.claim_webhook_deliveries(p_worker text, p_limit integer, p_lease_seconds integer,
                                                  p_now timestamptz default null)
  returns table (delivery_id bigint, url text, secret text, event text, body text, attempt integer,
                 timeout_seconds numeric)
  language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
begin
  return query
  with picked as (
    select d.id from kiln.webhook_deliveries d
      join kiln.webhooks w on w.id = d.webhook_id
     where d.status = 'pending' and d.next_attempt_at <= v_now
       and (d.claim_expires_at is null or d.claim_expires_at < v_now) and w.enabled
     order by d.next_attempt_at, d.id
     limit p_limit
       for update of d skip locked
  ), claimed as (
    update kiln.webhook_deliveries d
       set claimed_by = p_worker, claim_expires_at = v_now + make_interval(secs => p_lease_seconds),
           attempts = d.attempts + 1, last_attempt_at = v_now
      from picked where d.id = picked.id
    returning d.id, d.webhook_id, d.event, d.payload, d.attempts
  )
  select c.id, w.url, w.secret, c.event, c.payload::text, c.attempts,
         coalesce(kiln_api.setting('webhook_timeout_seconds'), 5)
    from claimed c join kiln.webhooks w on w.id = c.webhook_id
   order by c.id;
end $$;

-- record_webhook_delivery: the outcome of one attempt (p_status_code null when no answer
-- came: p_error says why). Appends to the attempt log and moves the delivery on; returns
-- its status, or 'stale' when the claim was lost (the attempt is still logged).
-- Caller: kiln-dispatch's webhook sender.
create function kiln_api.record_webhook_delivery(p_delivery_id bigint, p_attempt integer, p_worker text,
                                                 p_status_code integer, p_error text, p_duration_ms integer,
                                                 p_now timestamptz default null)
  returns text language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_d kiln.webhook_deliveries;
  v_max integer := coalesce(kiln_api.setting('webhook_max_attempts'), 8)::integer;
  v_base numeric := coalesce(kiln_api.setting('webhook_backoff_base_seconds'), 10);
  v_ok boolean := coalesce(p_status_code between 200 and 299, false);  -- no answer is a failure
begin
  select * into v_d from kiln.webhook_deliveries where id = p_delivery_id for update;
  if not found then
    return 'stale';
  end if;
  insert into kiln.webhook_delivery_attempts (delivery_id, attempt, tenant_id, worker, started_at, duration_ms,
                                              status_code, error)
    values (p_delivery_id, p_attempt, v_d.tenant_id, p_worker, coalesce(v_d.last_attempt_at, v_now), p_duration_ms,
            p_status_code, case when not v_ok then left(coalesce(p_error, format('HTTP %s', p_status_code)), 1000) end)
    on conflict do nothing;
  if v_d.status <> 'pending' or v_d.attempts <> p_attempt or v_d.claimed_by is distinct from p_worker then
    return 'stale';
  end if;
  update kiln.webhook_deliveries set
      status = case when v_ok then 'delivered' when attempts >= v_max then 'failed' else 'pending' end,
      delivered_at = case when v_ok then v_now end,
      next_attempt_at = case when v_ok then next_attempt_at
                             else v_now + make_interval(secs => least(v_base * power(2, attempts - 1), 3600)::double precision) end,
      last_status_code = p_status_code,
      last_error = case when v_ok then null else left(coalesce(p_error, format('HTTP %s', p_status_code)), 1000) end,
      claimed_by = null, claim_expires_at = null
   where id = p_delivery_id
   returning * into v_d;
  return v_d.status;
end $$;

-- purge_webhook_deliveries: deletes delivered and failed deliveries (with their attempt
-- log) older than webhook_delivery_retention_days. Caller: kiln-dispatch (housekeeping).
create function kiln_api.purge_webhook_deliveries(p_now timestamptz default null) returns integer
  language plpgsql as $$
declare
  v_count integer;
begin
  delete from kiln.webhook_deliveries
   where status <> 'pending'
     and created_at < coalesce(p_now, now())
                      - make_interval(days => coalesce(kiln_api.setting('webhook_delivery_retention_days'), 30)::integer);
  get diagnostics v_count = row_count;
  return v_count;
end $$;
