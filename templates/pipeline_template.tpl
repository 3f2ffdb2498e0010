{{%AUTOESCAPE context="HTML"}}
<p><a href="/admin/pipeline-templates">All pipeline templates</a> · method <code>{{METHOD}}</code>
{{#DEFAULT}}<span class="badge m-ok">default</span>{{/DEFAULT}}</p>
<p class="muted">{{DESCRIPTION}}</p>
{{#FORM_ERROR}}<p class="flash error" role="alert">{{MESSAGE}}{{#HAS_FIELD}} (field <code>{{FIELD}}</code>){{/HAS_FIELD}}</p>{{/FORM_ERROR}}
<div class="grid">
<section class="card" aria-labelledby="params-h">
<h2 id="params-h">Parameters</h2>
<div class="table-wrap">
<table>
<thead><tr><th>Name</th><th>Type</th><th></th><th>Description</th></tr></thead>
<tbody>
{{#PARAMETER}}<tr><td data-label="Name"><code>{{NAME}}</code></td><td data-label="Type">{{TYPE}}</td>
<td data-label="">{{REQUIRED}}</td><td data-label="Description">{{DESCRIPTION}}</td></tr>
{{/PARAMETER}}
</tbody>
</table>
</div>
</section>
{{#CAN_INFRASTRUCTURE_CONFIGURE}}<section class="card" aria-labelledby="preview-h">
<h2 id="preview-h">Render preview</h2>
<p class="muted">Renders the PipelineRun the dispatcher would create for these values; nothing is submitted.</p>
<form method="post" action="/admin/pipeline-templates/{{ID}}/render" class="stack">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
{{#PARAMETER}}<label for="pv-{{NAME}}">{{NAME}} <small class="muted">{{REQUIRED}}</small></label>
<input id="pv-{{NAME}}" name="param_{{NAME}}" value="{{VALUE}}">
{{/PARAMETER}}
<button type="submit">Render</button>
</form>
</section>{{/CAN_INFRASTRUCTURE_CONFIGURE}}
</div>
{{#HAS_RENDERED}}<section class="card wide" aria-labelledby="rendered-h">
<h2 id="rendered-h">Rendered PipelineRun</h2>
<pre class="log">{{RENDERED:p}}</pre>
</section>{{/HAS_RENDERED}}
<section class="card wide" aria-labelledby="yaml-h">
<h2 id="yaml-h">Template</h2>
<pre class="log">{{YAML:p}}</pre>
</section>
{{#CAN_INFRASTRUCTURE_CONFIGURE}}<section class="card wide" aria-labelledby="new-h">
<h2 id="new-h">New version</h2>
<p class="muted">Saved as a new version after it is checked: every variable escaped for YAML, only declared
parameters, one PipelineRun. The current version stays until you make the new one the default.</p>
<form method="post" action="/admin/pipeline-templates" class="stack">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<input type="hidden" name="from" value="{{ID}}">
<div class="row">
<div><label for="nv-name">Name</label><input id="nv-name" name="name" value="{{NEW_NAME}}" required></div>
<div><label for="nv-version">Version</label><input id="nv-version" name="version" value="{{NEW_VERSION}}" required placeholder="1.0.1"></div>
</div>
<label for="nv-description">Description</label><input id="nv-description" name="description" value="{{NEW_DESCRIPTION}}">
<label for="nv-yaml">Template</label>
<textarea id="nv-yaml" name="template_yaml" rows="18" spellcheck="false">{{NEW_YAML:p}}</textarea>
<button type="submit">Save new version</button>
</form>
</section>{{/CAN_INFRASTRUCTURE_CONFIGURE}}
