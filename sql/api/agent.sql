-- The build-node agent's calls (docs/agent-protocol.md). The claim authenticates the node
-- by its node token's SHA-256; renew, logs and finish take the execution's job token
-- instead, which reaches that one execution only. They run as SECURITY DEFINER
-- (kiln_system) for the API role. Every call is a heartbeat.
-- Locks: builds row, then build_executions row (the order of every queue function).

-- authenticate_node: the node of a node token, heartbeat refreshed. The current token works
-- until token_expires_at; after a rotation the previous one works until
-- previous_token_expires_at (build_nodes.sql). QC401 unauthorized (unknown) or
-- node_token_expired otherwise.
create function kiln_api.authenticate_node(p_token_sha256 bytea, p_now timestamptz default null)
  returns kiln.build_nodes language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_node kiln.build_nodes;
begin
  select * into v_node from kiln.build_nodes
   where token_sha256 = p_token_sha256 or previous_token_sha256 = p_token_sha256;
  if not found then
    perform kiln_api.raise_error(401, 'unauthorized', 'the node token is unknown or was rotated');
  end if;
  if (v_node.token_sha256 = p_token_sha256 and v_node.token_expires_at <= v_now)
     or (v_node.token_sha256 is distinct from p_token_sha256 and v_node.previous_token_expires_at <= v_now) then
    perform kiln_api.raise_error(401, 'node_token_expired',
      format('the token of build node %s has expired; rotate it (POST /api/v1/admin/build-nodes/%s/rotate-token)',
             v_node.name, v_node.id));
  end if;
  update kiln.build_nodes set last_heartbeat_at = v_now where id = v_node.id returning * into v_node;
  return v_node;
end $$;

-- job_execution: the execution of a job token, locked under its epoch. A job token is
-- minted at claim for one execution and is the only credential for its renew, logs and
-- finish calls: another execution's id is QC404 (never its data), an unknown token QC401
-- unauthorized, and once the execution has ended (finished, failed, cancelled, reaped) the
-- token is dead: QC401 job_token_expired. Every call is also the node's heartbeat.
create function kiln_api.job_execution(p_job_token_sha256 bytea, p_execution_id uuid, p_epoch bigint,
                                       p_now timestamptz default null)
  returns kiln.build_executions language plpgsql as $$
declare
  v_exec kiln.build_executions;
begin
  select * into v_exec from kiln.build_executions where job_token_sha256 = p_job_token_sha256;
  if not found then
    perform kiln_api.raise_error(401, 'unauthorized',
      'the job token is unknown; use the job_token the claim returned for this execution');
  end if;
  if v_exec.id <> p_execution_id then
    perform kiln_api.raise_error(404, 'not_found', format('execution %s not found', p_execution_id), 'id');
  end if;
  if v_exec.status not in ('dispatching', 'running') then
    perform kiln_api.raise_error(401, 'job_token_expired',
      format('execution %s has ended (%s); its job token is no longer valid: stop the work', v_exec.id, v_exec.status));
  end if;
  update kiln.build_nodes set last_heartbeat_at = coalesce(p_now, now()) where id = v_exec.build_node_id;
  return kiln_api.lock_execution(p_execution_id, p_epoch);
end $$;

-- agent_claim: records what the node declares about itself and hands it up to its free
-- slots of offered executions it can run (oldest offer first), each under a new epoch
-- and an agent lease; they become `running`. kiln-api then gives each one its job token
-- (agent_issue_job_token) in the same transaction.
create function kiln_api.agent_claim(p_token_sha256 bytea, p_declared jsonb, p_now timestamptz default null)
  returns jsonb language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_node kiln.build_nodes := kiln_api.authenticate_node(p_token_sha256, p_now);
  v_lease integer := kiln_api.setting('agent_lease_seconds')::integer;
  v_free integer;
  v_candidate record;
  v_exec kiln.build_executions;
  v_epoch bigint;
  v_out jsonb := '[]';
begin
  p_declared := coalesce(p_declared, '{}');
  perform kiln_api.expect_type(p_declared, 'object', 'body');
  perform kiln_api.expect_keys(p_declared, array['labels', 'capabilities', 'capacity', 'concurrency',
    'running', 'wait_seconds', 'version'], '');
  perform kiln_api.validate_node_declaration(p_declared);
  if p_declared ? 'running' then
    perform kiln_api.expect_type(p_declared -> 'running', 'integer', 'running');
  end if;
  update kiln.build_nodes set
      labels = coalesce(p_declared -> 'labels', labels),
      capabilities = coalesce(p_declared -> 'capabilities', capabilities),
      capacity = coalesce(p_declared -> 'capacity', capacity),
      concurrency = coalesce((p_declared ->> 'concurrency')::numeric::integer, concurrency),
      agent_version = coalesce(p_declared ->> 'version', agent_version)
   where id = v_node.id returning * into v_node;
  if v_node.status <> 'active' then
    return jsonb_build_object('executions', v_out, 'node_status', v_node.status);
  end if;
  v_free := v_node.concurrency - greatest(coalesce((p_declared ->> 'running')::integer, 0),
    (select count(*)::integer from kiln.build_executions
      where build_node_id = v_node.id and status in ('dispatching', 'running')));

  for v_candidate in
    select e.id, e.build_id from kiln.build_executions e
     where e.status = 'dispatching' and e.build_node_id is null and e.offered_at is not null
       and e.infrastructure_type = 'build_nodes'
       and (v_node.tenant_id is null or e.tenant_id = v_node.tenant_id)
       and kiln_api.node_can_run(v_node, e.node_requirements, e.size)
     order by e.offered_at
     limit greatest(v_free, 0) * 4  -- some may be taken by another node meanwhile
  loop
    exit when v_free <= 0;
    -- builds first, skipping rows another node is taking right now
    perform from kiln.builds where id = v_candidate.build_id for update skip locked;
    continue when not found;
    select * into v_exec from kiln.build_executions where id = v_candidate.id for update;
    continue when v_exec.status <> 'dispatching' or v_exec.build_node_id is not null;
    update kiln.builds set lease_epoch = lease_epoch + 1 where id = v_exec.build_id
      returning lease_epoch into v_epoch;
    update kiln.build_executions set
        epoch = v_epoch, build_node_id = v_node.id, lease_owner = 'node:' || v_node.name,
        lease_expires_at = v_now + make_interval(secs => v_lease), status = 'running', started_at = v_now
     where id = v_exec.id returning * into v_exec;
    perform kiln_api.transition_build(v_exec.build_id, 'running', 'node:' || v_node.name,
      format('running on build node %s', v_node.name), v_exec.id,
      jsonb_build_object('node', v_node.name, 'size', v_exec.size), v_now);
    perform kiln_api.append_log(v_exec.build_id, v_exec.id,
      format(E'==> attempt %s on build node %s (%s cpu, %s GiB, %s min)\n', v_exec.attempt, v_node.name,
             v_exec.size ->> 'cpu', v_exec.size ->> 'memory_gb', v_exec.size ->> 'time_budget_min'));
    v_out := v_out || jsonb_build_object(
      'execution_id', v_exec.id, 'build_id', v_exec.build_id, 'epoch', v_epoch, 'attempt', v_exec.attempt,
      'lease_seconds', v_lease, 'lease_expires_at', v_exec.lease_expires_at,
      'project', (select p.name from kiln.projects p join kiln.builds b on b.project_id = p.id
                   where b.id = v_exec.build_id),
      'method', (select c.method from kiln.build_configs c where c.build_id = v_exec.build_id),
      'script', v_exec.payload ->> 'script', 'size', v_exec.size);
    v_free := v_free - 1;
  end loop;
  return jsonb_build_object('executions', v_out, 'node_status', v_node.status);
end $$;
alter function kiln_api.agent_claim(bytea, jsonb, timestamptz) owner to kiln_system;

-- agent_issue_job_token: stores the SHA-256 of the job token kiln-api minted for an
-- execution this node has just claimed (same transaction as agent_claim). An execution
-- gets one job token, once. Errors: QC401 (node token), QC404 (not this node's running,
-- token-less execution).
create function kiln_api.agent_issue_job_token(p_token_sha256 bytea, p_execution_id uuid,
                                               p_job_token_sha256 bytea, p_now timestamptz default null)
  returns void language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_node kiln.build_nodes := kiln_api.authenticate_node(p_token_sha256, p_now);
begin
  update kiln.build_executions set job_token_sha256 = p_job_token_sha256
   where id = p_execution_id and build_node_id = v_node.id and status = 'running' and job_token_sha256 is null;
  if not found then
    perform kiln_api.raise_error(404, 'not_found',
      format('execution %s is not a running execution of this node without a job token', p_execution_id), 'id');
  end if;
end $$;
alter function kiln_api.agent_issue_job_token(bytea, uuid, bytea, timestamptz) owner to kiln_system;

-- agent_renew: extends the execution's lease (job token); QC409 execution_cancelled /
-- stale_lease and QC401 job_token_expired tell the agent to kill the work.
create function kiln_api.agent_renew(p_job_token_sha256 bytea, p_execution_id uuid, p_epoch bigint,
                                     p_now timestamptz default null)
  returns jsonb language plpgsql security definer set search_path = pg_catalog, kiln as $$
begin
  perform kiln_api.job_execution(p_job_token_sha256, p_execution_id, p_epoch, p_now);
  return jsonb_build_object('lease_expires_at',
    kiln_api.renew_lease(p_execution_id, p_epoch, kiln_api.setting('agent_lease_seconds')::integer, p_now));
end $$;
alter function kiln_api.agent_renew(bytea, uuid, bigint, timestamptz) owner to kiln_system;

-- agent_append_log: stores output at a byte offset of the execution's output. Idempotent:
-- bytes already stored are skipped; a gap is refused (QC409 log_gap).
create function kiln_api.agent_append_log(p_job_token_sha256 bytea, p_execution_id uuid, p_epoch bigint,
                                          p_offset bigint, p_data text)
  returns jsonb language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_exec kiln.build_executions := kiln_api.job_execution(p_job_token_sha256, p_execution_id, p_epoch);
  v_len bigint := octet_length(coalesce(p_data, ''));
  v_data text := coalesce(p_data, '');
begin
  if p_offset is null or p_offset < 0 then
    perform kiln_api.raise_error(400, 'invalid_value', 'offset must be 0 or more', 'offset');
  end if;
  if p_offset > v_exec.log_bytes then
    perform kiln_api.raise_error(409, 'log_gap',
      format('offset %s is past the stored output; resend from %s', p_offset, v_exec.log_bytes), 'offset');
  end if;
  if p_offset + v_len <= v_exec.log_bytes then
    return jsonb_build_object('next_offset', v_exec.log_bytes);  -- a resend: already stored
  end if;
  if p_offset < v_exec.log_bytes then
    begin
      v_data := convert_from(substring(convert_to(v_data, 'UTF8') from (v_exec.log_bytes - p_offset + 1)::integer), 'UTF8');
    exception when others then
      perform kiln_api.raise_error(409, 'log_gap',
        format('the chunk overlaps stored output inside a character; resend from %s', v_exec.log_bytes), 'offset');
    end;
  end if;
  perform kiln_api.append_log(v_exec.build_id, v_exec.id, v_data);
  update kiln.build_executions set log_bytes = p_offset + v_len where id = v_exec.id;
  return jsonb_build_object('next_offset', p_offset + v_len);
end $$;
alter function kiln_api.agent_append_log(bytea, uuid, bigint, bigint, text) owner to kiln_system;

-- agent_finish: the outcome and measured usage of an execution. Moves the build on
-- (finish_execution) and writes its infrastructure_usage row with a cost from the node's
-- rates: cpu_seconds × cost_per_cpu_hour / 3600 + peak GiB × hours × cost_per_gib_hour,
-- in cents.
create function kiln_api.agent_finish(p_job_token_sha256 bytea, p_execution_id uuid, p_epoch bigint,
                                      p_body jsonb, p_now timestamptz default null)
  returns jsonb language plpgsql security definer set search_path = pg_catalog, kiln as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_exec kiln.build_executions := kiln_api.job_execution(p_job_token_sha256, p_execution_id, p_epoch, p_now);
  v_node kiln.build_nodes;
  v_status kiln.build_status;
  v_cpu numeric;
  v_peak bigint;
  v_hours numeric;
  v_key text;
begin
  select * into v_node from kiln.build_nodes where id = v_exec.build_node_id;
  perform kiln_api.expect_type(p_body, 'object', 'body');
  perform kiln_api.expect_keys(p_body, array['epoch', 'outcome', 'exit_code', 'cpu_seconds',
    'peak_memory_bytes', 'duration_seconds', 'reason'], '');
  if not p_body ? 'outcome' then
    perform kiln_api.raise_error(400, 'missing_field', 'outcome is required', 'outcome');
  end if;
  perform kiln_api.expect_type(p_body -> 'outcome', 'string', 'outcome');
  if p_body ? 'exit_code' and p_body -> 'exit_code' <> 'null'::jsonb then
    perform kiln_api.expect_type(p_body -> 'exit_code', 'integer', 'exit_code');
  end if;
  foreach v_key in array array['cpu_seconds', 'peak_memory_bytes', 'duration_seconds'] loop
    if p_body ? v_key then
      perform kiln_api.expect_type(p_body -> v_key, 'number', v_key);
      if (p_body ->> v_key)::numeric < 0 then
        perform kiln_api.raise_error(400, 'invalid_value', format('%s must not be negative', v_key), v_key);
      end if;
    end if;
  end loop;
  v_cpu := (p_body ->> 'cpu_seconds')::numeric;
  v_peak := (p_body ->> 'peak_memory_bytes')::numeric::bigint;
  v_status := kiln_api.finish_execution(p_execution_id, p_epoch, p_body ->> 'outcome',
    (p_body ->> 'exit_code')::numeric::integer, p_body ->> 'reason', v_now);
  v_hours := extract(epoch from v_now - coalesce(v_exec.started_at, v_now)) / 3600;
  update kiln.build_executions set cpu_seconds = v_cpu, peak_memory_bytes = v_peak where id = v_exec.id;
  insert into kiln.infrastructure_usage (build_execution_id, tenant_id, project_id, infrastructure_type,
      start_time, end_time, resource_usage, cost_cents, success, error_message)
    select v_exec.id, v_exec.tenant_id, b.project_id, 'build_nodes', coalesce(v_exec.started_at, v_now), v_now,
           jsonb_build_object('cpu_seconds', v_cpu, 'peak_memory_bytes', v_peak,
             'duration_seconds', coalesce((p_body ->> 'duration_seconds')::numeric, v_hours * 3600),
             'node', v_node.name, 'size', v_exec.size, 'outcome', p_body ->> 'outcome',
             'exit_code', p_body -> 'exit_code'),
           round(100 * (coalesce(v_cpu, 0) / 3600 * v_node.cost_per_cpu_hour
                 + coalesce(v_peak, 0) / 1073741824.0 * v_hours * v_node.cost_per_gib_hour))::integer,
           p_body ->> 'outcome' = 'succeeded',
           case when p_body ->> 'outcome' <> 'succeeded'
                then coalesce(p_body ->> 'reason', format('%s (exit code %s)', p_body ->> 'outcome', p_body ->> 'exit_code')) end
      from kiln.builds b where b.id = v_exec.build_id;
  return jsonb_build_object('build_status', v_status);
end $$;
alter function kiln_api.agent_finish(bytea, uuid, bigint, jsonb, timestamptz) owner to kiln_system;

grant execute on function
  kiln_api.agent_claim(bytea, jsonb, timestamptz),
  kiln_api.agent_issue_job_token(bytea, uuid, bytea, timestamptz),
  kiln_api.agent_renew(bytea, uuid, bigint, timestamptz),
  kiln_api.agent_append_log(bytea, uuid, bigint, bigint, text),
  kiln_api.agent_finish(bytea, uuid, bigint, jsonb, timestamptz)
  to kiln_web;
