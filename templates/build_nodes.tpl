{{%AUTOESCAPE context="HTML"}}
{{#HAS_NOTICE}}<p class="flash ok" role="status">{{NOTICE}}</p>{{/HAS_NOTICE}}
{{#CREATED}}<section class="card token-once" role="status" aria-labelledby="created-h">
<h2 id="created-h">Build node {{NAME}} registered</h2>
<p>Its token is shown <strong>this once</strong>; Kiln keeps only a hash of it. Start the agent with it:</p>
<pre class="token"><code>{{TOKEN}}</code></pre>
<pre><code>kiln-agent --url https://kiln.example --token-file /etc/kiln/node-token</code></pre>
</section>{{/CREATED}}

<section class="card wide" aria-labelledby="nodes-h">
<h2 id="nodes-h">Nodes</h2>
<div class="table-wrap">
<table class="nodes">
<thead><tr><th>Name</th><th>State</th><th>Heartbeat</th><th>Capacity</th><th>Running</th><th>Labels</th>
{{#CAN_INFRASTRUCTURE_MANAGE}}<th>Actions</th>{{/CAN_INFRASTRUCTURE_MANAGE}}</tr></thead>
<tbody>
{{#NODE}}<tr>
<td data-label="Name"><strong>{{NAME}}</strong><br><small class="muted">agent {{AGENT_VERSION}}</small></td>
<td data-label="State"><span class="badge n-{{STATE}}">{{STATE}}</span> <span class="badge st-{{STATUS}}">{{STATUS}}</span>
{{#SHARED}}<small class="muted">shared</small>{{/SHARED}}</td>
<td data-label="Heartbeat">{{HEARTBEAT}}</td>
<td data-label="Capacity">{{CAPACITY}}<br><small class="muted">capabilities: {{CAPABILITIES}}</small></td>
<td data-label="Running">{{RUNNING}} / {{CONCURRENCY}}
{{#RUNNING_BUILD}}<br><a href="/admin/builds/{{BUILD_ID}}"><code>{{BUILD_ID}}</code></a>{{/RUNNING_BUILD}}</td>
<td data-label="Labels">{{LABELS}}</td>
{{#CAN_INFRASTRUCTURE_MANAGE}}<td data-label="Actions" class="actions">
{{#CAN_DRAIN}}<form method="post" action="/admin/build-nodes/{{ID}}/drain">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit" class="secondary">Drain</button></form>{{/CAN_DRAIN}}
{{#CAN_RESUME}}<form method="post" action="/admin/build-nodes/{{ID}}/resume">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit" class="secondary">Resume</button></form>{{/CAN_RESUME}}
{{#CAN_DEPRECATE}}<form method="post" action="/admin/build-nodes/{{ID}}/deprecate" class="inline">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<label class="sr-only" for="dep-{{ID}}">Removal date for {{NAME}}</label>
<input id="dep-{{ID}}" type="date" name="deprecated_at">
<button type="submit" class="danger">Deprecate</button></form>{{/CAN_DEPRECATE}}
</td>{{/CAN_INFRASTRUCTURE_MANAGE}}
</tr>
{{/NODE}}
{{#NO_NODES}}<tr><td colspan="7">No build node is registered yet.</td></tr>{{/NO_NODES}}
</tbody>
</table>
</div>
<p class="muted">State comes from the heartbeat: a node that has not called in for the offline
threshold (node_offline_after_seconds) is offline.</p>
</section>

{{#CAN_INFRASTRUCTURE_CONFIGURE}}<section class="card" aria-labelledby="register-h">
<h2 id="register-h">Register a build node</h2>
{{#FORM_ERROR}}<p class="flash error" role="alert">{{MESSAGE}}{{#HAS_FIELD}} (field <code>{{FIELD}}</code>){{/HAS_FIELD}}</p>{{/FORM_ERROR}}
<form method="post" action="/admin/build-nodes" class="stack">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<label for="node-name">Name</label>
<input id="node-name" name="name" required value="{{FORM_NAME}}" placeholder="builder-1">
<label for="node-labels">Labels</label>
<input id="node-labels" name="labels" value="{{FORM_LABELS}}" placeholder="arch=amd64, region=eu">
<fieldset><legend>Capabilities</legend>
<label><input type="checkbox" name="cap_gpu"> GPU</label>
<label><input type="checkbox" name="cap_high_memory"> High memory</label>
<label><input type="checkbox" name="cap_airgapped"> Air-gapped</label>
<label><input type="checkbox" name="cap_legacy_system"> Legacy system</label>
</fieldset>
<div class="row">
<div><label for="cap-cpu">CPU cores</label><input id="cap-cpu" name="capacity_cpu" inputmode="decimal" value="{{FORM_CAPACITY_CPU}}"></div>
<div><label for="cap-mem">Memory (GB)</label><input id="cap-mem" name="capacity_memory_gb" inputmode="decimal" value="{{FORM_CAPACITY_MEMORY_GB}}"></div>
<div><label for="cap-disk">Disk (GB)</label><input id="cap-disk" name="capacity_disk_gb" inputmode="decimal" value="{{FORM_CAPACITY_DISK_GB}}"></div>
<div><label for="node-conc">Concurrency</label><input id="node-conc" name="concurrency" inputmode="numeric" value="{{FORM_CONCURRENCY}}" placeholder="1"></div>
</div>
<button type="submit">Register node</button>
</form>
</section>{{/CAN_INFRASTRUCTURE_CONFIGURE}}
