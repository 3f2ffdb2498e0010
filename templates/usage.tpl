{{%AUTOESCAPE context="HTML"}}
<form method="get" action="/admin/usage" class="filters" aria-label="Choose the report">
<div><label for="f-period">Period</label>
<select id="f-period" name="period">
{{#PERIOD_OPTION}}<option value="{{VALUE}}"{{#SELECTED}} selected{{/SELECTED}}>{{VALUE}}</option>{{/PERIOD_OPTION}}
</select></div>
<div><label for="f-project">Project</label><input id="f-project" name="project" value="{{PROJECT}}" placeholder="all"></div>
<div><label for="f-type">Infrastructure</label>
<select id="f-type" name="type"><option value="">both</option>
{{#TYPE_OPTION}}<option value="{{VALUE}}"{{#SELECTED}} selected{{/SELECTED}}>{{VALUE}}</option>{{/TYPE_OPTION}}
</select></div>
<button type="submit">Show</button>
</form>
<p class="muted">From {{FROM}} to {{TO}}.</p>
<dl class="figures">
<div><dt>Executions</dt><dd>{{TOTAL_EXECUTIONS}}</dd></div>
<div><dt>Succeeded</dt><dd>{{TOTAL_SUCCEEDED}}</dd></div>
<div><dt>Failed</dt><dd>{{TOTAL_FAILED}}</dd></div>
<div><dt>Cost</dt><dd>{{TOTAL_COST}}</dd></div>
</dl>
<div class="table-wrap">
<table class="usage">
<thead><tr><th>Period</th><th>Tenant</th><th>Project</th><th>Infrastructure</th><th>Executions</th><th>Succeeded</th><th>Failed</th><th>CPU time</th><th>Cost</th></tr></thead>
<tbody>
{{#ROW}}<tr><td data-label="Period">{{PERIOD}}</td><td data-label="Tenant">{{TENANT}}</td><td data-label="Project">{{PROJECT}}</td>
<td data-label="Infrastructure">{{INFRA}}</td><td data-label="Executions">{{EXECUTIONS}}</td><td data-label="Succeeded">{{SUCCEEDED}}</td>
<td data-label="Failed">{{FAILED}}</td><td data-label="CPU time">{{CPU_HOURS}}</td><td data-label="Cost">{{COST}}</td></tr>
{{/ROW}}
{{#NO_ROWS}}<tr><td colspan="9">No usage in this period.</td></tr>{{/NO_ROWS}}
</tbody>
</table>
</div>
<p class="muted">Cost is in the currency of the rates set on node pools and build nodes.</p>
