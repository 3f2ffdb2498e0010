{{%AUTOESCAPE context="HTML"}}
<p class="muted">The dispatcher renders each method's default template into the Tekton PipelineRun it creates.
Open a template to preview a render or add a new version.</p>
<div class="table-wrap">
<table class="templates">
<thead><tr><th>Method</th><th>Template</th><th>Version</th><th>Parameters</th><th>Source</th><th>Default</th></tr></thead>
<tbody>
{{#TEMPLATE}}<tr>
<td data-label="Method"><code>{{METHOD}}</code></td>
<td data-label="Template"><a href="/admin/pipeline-templates/{{ID}}">{{NAME}}</a><br><small class="muted">{{DESCRIPTION}}</small></td>
<td data-label="Version">{{VERSION}}<br><small class="muted">{{CREATED}}</small></td>
<td data-label="Parameters">{{PARAMETERS}}</td>
<td data-label="Source">{{SOURCE}}</td>
<td data-label="Default">{{#DEFAULT}}<span class="badge m-ok">default</span>{{/DEFAULT}}
{{#NOT_DEFAULT}}{{#CAN_INFRASTRUCTURE_MANAGE}}<form method="post" action="/admin/pipeline-templates/{{ID}}/default">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit" class="secondary">Make default</button></form>{{/CAN_INFRASTRUCTURE_MANAGE}}{{/NOT_DEFAULT}}</td>
</tr>
{{/TEMPLATE}}
{{#NO_TEMPLATES}}<tr><td colspan="6">No pipeline template yet (kiln migrate seeds the shipped ones).</td></tr>{{/NO_TEMPLATES}}
</tbody>
</table>
</div>
