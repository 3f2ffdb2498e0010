{{%AUTOESCAPE context="HTML"}}
<form method="get" action="/admin/builds" class="filters" aria-label="Filter builds">
<div><label for="f-status">Status</label>
<select id="f-status" name="status"><option value="">any</option>
{{#STATUS_OPTION}}<option value="{{VALUE}}"{{#SELECTED}} selected{{/SELECTED}}>{{VALUE}}</option>{{/STATUS_OPTION}}
</select></div>
<div><label for="f-project">Project</label>
<select id="f-project" name="project"><option value="">any</option>
{{#PROJECT_OPTION}}<option value="{{VALUE}}"{{#SELECTED}} selected{{/SELECTED}}>{{VALUE}}</option>{{/PROJECT_OPTION}}
</select></div>
<button type="submit">Filter</button>
{{#CAN_BUILD_CREATE}}<a class="button secondary" href="/builds/new">New build</a>{{/CAN_BUILD_CREATE}}
</form>

<div class="table-wrap">
<table class="builds">
<thead><tr><th>Build</th><th>Project</th><th>Method</th><th>Status</th><th>Infrastructure</th><th>Created</th><th>Ran for</th></tr></thead>
<tbody>
{{#BUILD}}<tr>
<td data-label="Build"><a href="/admin/builds/{{ID}}"><code>{{SHORT_ID}}</code></a></td>
<td data-label="Project">{{PROJECT}}</td>
<td data-label="Method">{{METHOD}}</td>
<td data-label="Status"><span class="badge s-{{STATUS}}">{{STATUS}}</span></td>
<td data-label="Infrastructure">{{INFRA}}</td>
<td data-label="Created">{{CREATED}}</td>
<td data-label="Ran for">{{DURATION}}</td>
</tr>
{{/BUILD}}
{{#NO_BUILDS}}<tr><td colspan="7">No build matches.</td></tr>{{/NO_BUILDS}}
</tbody>
</table>
</div>
<nav class="pager" aria-label="Pages">
{{#HAS_FIRST}}<a href="/admin/builds?status={{FILTER_STATUS}}&amp;project={{FILTER_PROJECT}}">First page</a>{{/HAS_FIRST}}
{{#HAS_NEXT}}<a href="/admin/builds?status={{FILTER_STATUS}}&amp;project={{FILTER_PROJECT}}&amp;cursor={{NEXT_CURSOR}}" rel="next">Next page</a>{{/HAS_NEXT}}
</nav>
