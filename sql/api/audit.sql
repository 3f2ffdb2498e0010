-- verify_audit_chain: recomputes the hash chains of kiln.audit_log (migration 0009) and
-- names the first broken row of each chain. One chain per tenant (chain_id = tenant id)
-- and one for system rows (the nil uuid). p_tenant picks one chain; null checks every
-- chain the caller can see: the API role sees only its own tenant's chain (row-level
-- security on kiln.audit_log and kiln.audit_chain_heads), kiln_system and a DBA see all.
-- A row is broken when its sequence number skips (rows deleted before it), its prev_hash is
-- not the previous row's row_hash, it sits in another tenant's chain, or its content no
-- longer hashes to its row_hash (edited). Rows deleted at the end of a chain show as a
-- head that is ahead of the last row.
-- Returns {"valid": bool, "chains": [{chain_id, tenant_id, rows, valid, first_broken_id,
-- first_broken_seq, reason}]}.
-- Caller: GET /api/v1/admin/audit/verify (permission admin); DBAs in psql. Takes no locks.
-- Errors: QC403 forbidden without the admin permission.
create function kiln_api.verify_audit_chain(p_tenant uuid default null)
  returns jsonb language plpgsql stable as $$
declare
  v_nil constant uuid := '00000000-0000-0000-0000-000000000000';
  v_chain uuid;
  v_head kiln.audit_chain_heads;
  r kiln.audit_log;
  v_prev bytea;
  v_seq bigint;
  v_rows bigint;
  v_broken_id bigint;
  v_broken_seq bigint;
  v_reason text;
  v_chains jsonb := '[]';
  v_valid boolean := true;
begin
  if not kiln_api.has_permission('admin') then
    perform kiln_api.raise_error(403, 'forbidden', 'verifying the audit log needs the admin permission');
  end if;
  for v_chain in
    select c from (select h.chain_id as c from kiln.audit_chain_heads h
                   union select distinct l.chain_id from kiln.audit_log l) chains
     where p_tenant is null or c = p_tenant
     order by c
  loop
    v_prev := kiln.audit_genesis();
    v_seq := 0;
    v_rows := 0;
    v_broken_id := null;
    v_broken_seq := null;
    v_reason := null;
    for r in select * from kiln.audit_log l where l.chain_id = v_chain order by l.chain_seq loop
      v_rows := v_rows + 1;
      if v_reason is null then
        if r.chain_seq <> v_seq + 1 then
          v_reason := format('rows are missing before this one: the sequence jumps from %s to %s',
                             v_seq, r.chain_seq);
        elsif r.prev_hash <> v_prev then
          v_reason := 'its prev_hash is not the previous row''s hash';
        elsif r.chain_id <> coalesce(r.tenant_id, v_nil) then
          v_reason := 'its tenant is not the chain''s';
        elsif kiln.audit_row_hash(r.prev_hash, r) <> r.row_hash then
          v_reason := 'its content does not match its hash: the row was changed';
        end if;
        if v_reason is not null then
          v_broken_id := r.id;
          v_broken_seq := r.chain_seq;
        end if;
      end if;
      v_prev := r.row_hash;
      v_seq := r.chain_seq;
    end loop;
    select * into v_head from kiln.audit_chain_heads h where h.chain_id = v_chain;
    if v_reason is null and found and (v_head.last_seq <> v_seq or v_head.last_hash <> v_prev) then
      v_reason := format('rows are missing at the end: the chain head is at %s, the last row at %s',
                         v_head.last_seq, v_seq);
      v_broken_seq := v_seq + 1;
    end if;
    v_valid := v_valid and v_reason is null;
    v_chains := v_chains || jsonb_build_object(
      'chain_id', v_chain, 'tenant_id', nullif(v_chain, v_nil), 'rows', v_rows,
      'valid', v_reason is null, 'first_broken_id', v_broken_id,
      'first_broken_seq', v_broken_seq, 'reason', v_reason);
  end loop;
  return jsonb_build_object('valid', v_valid, 'chains', v_chains);
end $$;

grant execute on function kiln_api.verify_audit_chain(uuid) to kiln_web;
