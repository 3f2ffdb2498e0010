{{%AUTOESCAPE context="HTML"}}
{{#HAS_NOTICE}}<p class="flash ok" role="status">{{NOTICE}}</p>{{/HAS_NOTICE}}
{{#FORM_ERROR}}<p class="flash error" role="alert">{{MESSAGE}}{{#HAS_FIELD}} (field <code>{{FIELD}}</code>){{/HAS_FIELD}}</p>{{/FORM_ERROR}}
<section class="card wide" aria-labelledby="providers-h">
<h2 id="providers-h">Providers</h2>
<div class="table-wrap">
<table class="providers">
<thead><tr><th>Provider</th><th>Health</th><th>Credentials</th><th>Capabilities</th><th>Node pools</th><th>Running</th></tr></thead>
<tbody>
{{#PROVIDER}}<tr>
<td data-label="Provider"><strong>{{DISPLAY_NAME}}</strong><br><small class="muted">{{NAME}} · {{PROVIDER_TYPE}} · {{ENABLED}}</small><br><small class="muted">{{API_SERVER}}</small></td>
<td data-label="Health"><span class="badge h-{{HEALTH}}">{{HEALTH}}</span><br><small class="muted">checked {{CHECKED_AT}}</small>
{{#CHECK}}<br><small class="check-{{OK}}">{{NAME}}: {{OK}} {{DETAIL}}</small>{{/CHECK}}</td>
<td data-label="Credentials">{{CREDENTIALS}}</td>
<td data-label="Capabilities">{{CAPABILITIES}}</td>
<td data-label="Node pools">{{#POOL}}<span class="pool">{{NAME}} <small class="muted">({{CAPABILITIES}})</small></span><br>{{/POOL}}</td>
<td data-label="Running">{{RUNNING}}</td>
</tr>
{{#OWN}}<tr class="provider-actions"><td colspan="6"><div class="actions">
{{#CAN_INFRASTRUCTURE_CONFIGURE}}<form method="post" action="/admin/providers/{{ID}}/test">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit" class="secondary">Test connection</button></form>{{/CAN_INFRASTRUCTURE_CONFIGURE}}
{{#CAN_INFRASTRUCTURE_MANAGE}}<details class="edit"><summary>Edit {{DISPLAY_NAME}}</summary>
<form method="post" action="/admin/providers/{{ID}}" class="stack">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<label for="dn-{{ID}}">Display name</label><input id="dn-{{ID}}" name="display_name" value="{{DISPLAY_NAME}}">
<fieldset><legend>Capabilities</legend>
<label><input type="checkbox" name="cap_gpu"{{#CAP_GPU}} checked{{/CAP_GPU}}> GPU</label>
<label><input type="checkbox" name="cap_high_memory"{{#CAP_HIGH_MEMORY}} checked{{/CAP_HIGH_MEMORY}}> High memory</label>
<label><input type="checkbox" name="cap_arm64"{{#CAP_ARM64}} checked{{/CAP_ARM64}}> arm64</label>
<label><input type="checkbox" name="cap_airgapped"{{#CAP_AIRGAPPED}} checked{{/CAP_AIRGAPPED}}> Air-gapped</label>
<label><input type="checkbox" name="cap_legacy_system"{{#CAP_LEGACY_SYSTEM}} checked{{/CAP_LEGACY_SYSTEM}}> Legacy system</label>
</fieldset>
<label><input type="checkbox" name="enabled" checked> Enabled</label>
<label for="np-{{ID}}">Node pools (JSON)</label>
<textarea id="np-{{ID}}" name="node_pools" rows="6">{{POOLS_JSON:p}}</textarea>
<button type="submit">Save</button>
</form>
<form method="post" action="/admin/providers/{{ID}}/delete">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit" class="danger">Delete {{DISPLAY_NAME}}</button></form>
</details>{{/CAN_INFRASTRUCTURE_MANAGE}}
</div></td></tr>{{/OWN}}
{{/PROVIDER}}
{{#NO_PROVIDERS}}<tr><td colspan="6">No Kubernetes provider yet: builds run on build nodes.</td></tr>{{/NO_PROVIDERS}}
</tbody>
</table>
</div>
</section>

{{#CAN_INFRASTRUCTURE_CONFIGURE}}<section class="card" aria-labelledby="add-h">
<h2 id="add-h">Add a provider from a kubeconfig</h2>
<p class="muted">The kubeconfig is parsed and encrypted on the server (AES-256-GCM) and never shown again.</p>
<form method="post" action="/admin/providers" class="stack">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<div class="row">
<div><label for="p-name">Name</label><input id="p-name" name="name" required value="{{FORM_NAME}}" placeholder="eks-prod"></div>
<div><label for="p-display">Display name</label><input id="p-display" name="display_name" value="{{FORM_DISPLAY_NAME}}" placeholder="AWS EKS production"></div>
<div><label for="p-type">Type</label><select id="p-type" name="provider_type">
{{#TYPE_OPTION}}<option value="{{VALUE}}">{{VALUE}}</option>{{/TYPE_OPTION}}
</select></div>
</div>
<label for="p-kubeconfig">Kubeconfig</label>
<textarea id="p-kubeconfig" name="kubeconfig" rows="8" required autocomplete="off" spellcheck="false"></textarea>
<div class="row">
<div><label for="p-context">Context</label><input id="p-context" name="context" value="{{FORM_CONTEXT}}" placeholder="current-context"></div>
<div><label for="p-namespace">Namespace</label><input id="p-namespace" name="namespace" value="{{FORM_NAMESPACE}}" placeholder="kiln-&lt;tenant&gt;"></div>
</div>
<fieldset><legend>Capabilities</legend>
<label><input type="checkbox" name="cap_gpu"> GPU</label>
<label><input type="checkbox" name="cap_high_memory"> High memory</label>
<label><input type="checkbox" name="cap_arm64"> arm64</label>
<label><input type="checkbox" name="cap_airgapped"> Air-gapped</label>
<label><input type="checkbox" name="cap_legacy_system"> Legacy system</label>
</fieldset>
<label for="p-pools">Node pools (JSON)</label>
<textarea id="p-pools" name="node_pools" rows="4" placeholder='[{"name": "default", "capabilities": []}]'>{{FORM_NODE_POOLS:p}}</textarea>
<button type="submit">Add provider</button>
</form>
</section>{{/CAN_INFRASTRUCTURE_CONFIGURE}}
