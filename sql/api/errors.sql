-- raise_error: the one way SQL reports a client error.
-- Caller: every kiln_api function. SQLSTATE is 'QC' || HTTP status (QC400, QC404, QC409…);
-- DETAIL is JSON {"code","field"} that the C++ side turns into the error body. A DBA in
-- psql sees the same message and detail.
create function kiln_api.raise_error(p_status integer, p_code text, p_message text,
                                     p_field text default null)
  returns void language plpgsql as $$
begin
  raise exception using
    errcode = 'QC' || p_status::text,
    message = p_message,
    detail  = json_build_object('code', p_code, 'field', p_field)::text;
end $$;

-- A JSON value must have the given jsonb type ('string', 'number', 'boolean', 'object',
-- 'array'); 'integer' is a number without a fraction. Raises QC400 invalid_type otherwise.
create function kiln_api.expect_type(p_value jsonb, p_type text, p_field text)
  returns void language plpgsql immutable as $$
begin
  if p_type = 'integer' then
    if jsonb_typeof(p_value) = 'number' and p_value::text::numeric = trunc(p_value::text::numeric) then
      return;
    end if;
  elsif jsonb_typeof(p_value) = p_type then
    return;
  end if;
  perform kiln_api.raise_error(400, 'invalid_type',
    format('%s must be %s %s, not %s', p_field,
           case when p_type in ('integer', 'object', 'array') then 'an' else 'a' end,
           p_type, coalesce(jsonb_typeof(p_value), 'missing')), p_field);
end $$;

-- Every key of p_object must be one of p_allowed; the first other key is named.
create function kiln_api.expect_keys(p_object jsonb, p_allowed text[], p_prefix text)
  returns void language plpgsql immutable as $$
declare
  v_key text;
begin
  select k into v_key from jsonb_object_keys(p_object) k
   where k <> all (p_allowed) order by k limit 1;
  if v_key is not null then
    perform kiln_api.raise_error(400, 'unknown_field',
      format('unknown field %s%s (allowed: %s)', p_prefix, v_key, array_to_string(p_allowed, ', ')),
      p_prefix || v_key);
  end if;
end $$;
