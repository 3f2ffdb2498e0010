{{%AUTOESCAPE context="HTML"}}
<form method="get" action="/admin/audit" class="filters" aria-label="Filter the audit log">
<div><label for="f-action">Action</label>
<select id="f-action" name="action"><option value="">any</option>
{{#ACTION_OPTION}}<option value="{{VALUE}}"{{#SELECTED}} selected{{/SELECTED}}>{{VALUE}}</option>{{/ACTION_OPTION}}
</select></div>
<button type="submit">Filter</button>
</form>
<div class="table-wrap">
<table class="audit">
<thead><tr><th>Time</th><th>Who</th><th>Action</th><th>Object</th><th>Detail</th></tr></thead>
<tbody>
{{#ENTRY}}<tr><td data-label="Time">{{TIME}}</td><td data-label="Who">{{ACTOR}}</td>
<td data-label="Action"><code>{{ACTION}}</code></td><td data-label="Object">{{OBJECT}}</td>
<td data-label="Detail"><code class="detail">{{DETAIL}}</code></td></tr>
{{/ENTRY}}
{{#NO_ENTRIES}}<tr><td colspan="5">Nothing recorded.</td></tr>{{/NO_ENTRIES}}
</tbody>
</table>
</div>
<nav class="pager" aria-label="Pages">
{{#HAS_FIRST}}<a href="/admin/audit?action={{FILTER_ACTION}}">Newest</a>{{/HAS_FIRST}}
{{#HAS_NEXT}}<a href="/admin/audit?action={{FILTER_ACTION}}&amp;before={{NEXT_BEFORE}}" rel="next">Older</a>{{/HAS_NEXT}}
</nav>
