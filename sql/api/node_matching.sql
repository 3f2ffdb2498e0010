-- node_can_run: whether a build node satisfies an execution's node requirements and size.
--   requirements.arch          the node's `arch` label must be one of them (if given)
--   requirements.capabilities  every capability set to true must be true on the node
--   requirements.labels        every label must equal the node's
--   size.cpu / size.memory_gb  must fit the node's declared capacity (if it declared one)
create function kiln_api.node_can_run(p_node kiln.build_nodes, p_req jsonb, p_size jsonb)
  returns boolean language sql stable as $$
  select (jsonb_array_length(coalesce(p_req -> 'arch', '[]')) = 0
            or coalesce(p_req -> 'arch', '[]') ? (p_node.labels ->> 'arch'))
     and not exists (select from jsonb_each(coalesce(p_req -> 'capabilities', '{}')) c (k, v)
                      where v = 'true'::jsonb and coalesce(p_node.capabilities -> k, 'false'::jsonb) <> 'true'::jsonb)
     and not exists (select from jsonb_each(coalesce(p_req -> 'labels', '{}')) l (k, v)
                      where p_node.labels -> k is distinct from v)
     and (p_node.capacity ->> 'cpu' is null or coalesce((p_size ->> 'cpu')::numeric, 0) <= (p_node.capacity ->> 'cpu')::numeric)
     and (p_node.capacity ->> 'memory_gb' is null
            or coalesce((p_size ->> 'memory_gb')::numeric, 0) <= (p_node.capacity ->> 'memory_gb')::numeric)
$$;
