-- metrics_build_counts: builds per status across all tenants, for /metrics.
-- Only aggregate numbers leave this function. SECURITY DEFINER (row-level security would
-- show the unauthenticated scrape nothing).
create function kiln_api.metrics_build_counts()
  returns table (status kiln.build_status, builds bigint)
  language sql stable security definer set search_path = pg_catalog, kiln as $$
  select s.status, coalesce(c.n, 0)
    from unnest(enum_range(null::kiln.build_status)) s (status)
    left join (select b.status, count(*) n from kiln.builds b group by b.status) c using (status)
   order by s.status
$$;
alter function kiln_api.metrics_build_counts() owner to kiln_system;
