-- append_log: appends text to a build's log (the caller holds the build row lock, which
-- serializes appends), keeping at most log_max_bytes per build: the chunk that crosses the
-- limit is cut at a character boundary and followed by a notice, after which the log is
-- at or past the limit and everything later is dropped. NOTIFY kiln_logs wakes followers.
-- Returns the build log's new size. Internal: called by agent_append_log and agent_claim
-- (attempt headers).
create function kiln_api.append_log(p_build_id uuid, p_execution_id uuid, p_data text)
  returns bigint language plpgsql as $$
declare
  v_build kiln.builds;
  v_max bigint := kiln_api.setting('log_max_bytes');
  v_data text := p_data;
begin
  select * into strict v_build from kiln.builds where id = p_build_id;
  if v_build.log_truncated or v_data = '' then
    return v_build.log_bytes;
  end if;
  if v_build.log_bytes + octet_length(v_data) > v_max then
    v_data := kiln_api.utf8_prefix(v_data, greatest(v_max - v_build.log_bytes, 0)::integer) ||
              format(E'\n[kiln: log truncated at %s bytes; the rest of the output was dropped]\n', v_max);
    update kiln.builds set log_truncated = true where id = p_build_id;
  end if;
  insert into kiln.build_log_chunks (build_id, build_offset, tenant_id, execution_id, data)
    values (p_build_id, v_build.log_bytes, v_build.tenant_id, p_execution_id, v_data);
  update kiln.builds set log_bytes = log_bytes + octet_length(v_data) where id = p_build_id;
  perform pg_notify('kiln_logs', p_build_id::text);
  return v_build.log_bytes + octet_length(v_data);
end $$;

-- utf8_prefix: the longest prefix of p_text of at most p_bytes bytes that ends on a
-- character boundary.
create function kiln_api.utf8_prefix(p_text text, p_bytes integer) returns text
  language plpgsql immutable as $$
declare
  v_bytes bytea := substring(convert_to(p_text, 'UTF8') from 1 for greatest(p_bytes, 0));
begin
  for v_cut in 0..3 loop  -- a UTF-8 character is at most 4 bytes
    begin
      return convert_from(substring(v_bytes from 1 for length(v_bytes) - v_cut), 'UTF8');
    exception when character_not_in_repertoire or untranslatable_character then
      continue;
    end;
  end loop;
  return '';
end $$;

-- get_build_log: the build's log from byte p_offset, whole chunks up to about p_limit
-- bytes, with where to continue and whether the log is complete (the build is final and
-- nothing more will come). Caller: GET /api/v1/builds/{id}/logs. Errors: QC404, QC400.
create function kiln_api.get_build_log(p_build_id uuid, p_offset bigint, p_limit integer)
  returns table (data text, next_offset bigint, status kiln.build_status, complete boolean)
  language plpgsql stable as $$
declare
  v_build kiln.builds;
  v_chunk record;
  v_bytes bigint := 0;
  v_out text := '';
begin
  select * into v_build from kiln.builds b where b.id = p_build_id and kiln_api.in_session_tenant(b.tenant_id);
  if not found then
    perform kiln_api.raise_error(404, 'not_found', format('build %s not found', p_build_id), 'id');
  end if;
  if p_offset is null or p_offset < 0 or p_offset > v_build.log_bytes then
    perform kiln_api.raise_error(400, 'invalid_value',
      format('offset must be between 0 and %s (the log''s size)', v_build.log_bytes), 'offset');
  end if;
  if p_limit is null or p_limit not between 1 and 4194304 then
    perform kiln_api.raise_error(400, 'invalid_value', 'limit must be between 1 and 4194304 bytes', 'limit');
  end if;
  for v_chunk in
    select c.build_offset, c.data from kiln.build_log_chunks c
     where c.build_id = p_build_id and c.build_offset + octet_length(c.data) > p_offset
     order by c.build_offset
  loop
    if v_chunk.build_offset < p_offset then
      begin
        v_chunk.data := convert_from(substring(convert_to(v_chunk.data, 'UTF8')
                                               from (p_offset - v_chunk.build_offset + 1)::integer), 'UTF8');
      exception when others then
        perform kiln_api.raise_error(400, 'invalid_value',
          'offset falls inside a character; use a next_offset this endpoint returned', 'offset');
      end;
    end if;
    v_out := v_out || v_chunk.data;
    v_bytes := v_bytes + octet_length(v_chunk.data);
    exit when v_bytes >= p_limit;
  end loop;
  data := v_out;
  next_offset := p_offset + v_bytes;
  status := v_build.status;
  complete := v_build.status in ('succeeded', 'failed', 'cancelled', 'timed_out')
              and next_offset >= v_build.log_bytes;
  return next;
end $$;
