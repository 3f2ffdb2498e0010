-- setting: a tunable from kiln.settings (migration 0002 lists them with their meaning).
create function kiln_api.setting(p_key text) returns numeric
  language sql stable security definer set search_path = pg_catalog, kiln as $$
  select value from kiln.settings where key = p_key
$$;
alter function kiln_api.setting(text) owner to kiln_system;
