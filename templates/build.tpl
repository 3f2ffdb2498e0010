{{%AUTOESCAPE context="HTML"}}
<section class="card wide summary" aria-label="Summary">
<p class="status-line"><span class="badge big s-{{STATUS}}" id="build-status" data-build-status>{{STATUS}}</span>
<span>{{PROJECT}} · {{METHOD}} · attempt {{ATTEMPT}}</span></p>
{{#FAILED}}<p class="flash error">{{FAILURE}}</p>{{/FAILED}}
{{#WAITING}}<div class="waiting" id="queue-state" data-blocked-reason="{{BLOCKED_CODE}}">
<p><strong>Why it waits:</strong> <code>{{BLOCKED_CODE}}</code> — {{BLOCKED_MESSAGE}}</p>
<p>Position {{POSITION_TENANT}} in your tenant's queue, {{POSITION_OVERALL}} overall · ETA {{ETA}}</p>
</div>{{/WAITING}}
<dl class="figures">
<div><dt>Created</dt><dd>{{CREATED_AT}}</dd></div>
<div><dt>Queued</dt><dd>{{QUEUED_AT}}</dd></div>
<div><dt>Started</dt><dd>{{STARTED_AT}}</dd></div>
<div><dt>Finished</dt><dd>{{FINISHED_AT}}</dd></div>
</dl>
<div class="actions">
{{#PENDING}}{{#CAN_BUILD_CREATE}}<form method="post" action="/admin/builds/{{ID}}/start">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit">Start</button></form>{{/CAN_BUILD_CREATE}}{{/PENDING}}
{{#ACTIVE}}{{#CAN_BUILD_CANCEL}}<form method="post" action="/admin/builds/{{ID}}/cancel" class="inline">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<label class="sr-only" for="cancel-reason">Reason</label>
<input id="cancel-reason" name="reason" placeholder="reason (optional)" maxlength="1000">
<button type="submit" class="danger">Cancel build</button></form>{{/CAN_BUILD_CANCEL}}
<a class="button secondary" href="/admin/builds/{{ID}}">Refresh</a>{{/ACTIVE}}
</div>
</section>

<section class="card" aria-labelledby="infra-h">
<h2 id="infra-h">Infrastructure</h2>
<p>Requested: <strong>{{INFRA_TYPE}}</strong>{{#FORCED}} <span class="badge m-bad">admin override</span>{{/FORCED}}</p>
<p>Reason: {{INFRA_REASON}}</p>
</section>

<section class="card" aria-labelledby="config-h">
<h2 id="config-h">Config</h2>
<h3>Parameters</h3>
<dl class="kv">{{#PARAM}}<dt>{{KEY}}</dt><dd><pre>{{VALUE:p}}</pre></dd>{{/PARAM}}</dl>
<h3>Declared size</h3>
<dl class="kv">{{#SPEC}}<dt>{{KEY}}</dt><dd>{{VALUE}}</dd>{{/SPEC}}</dl>
<h3>Requirements</h3>
<dl class="kv">{{#REQUIREMENT}}<dt>{{KEY}}</dt><dd>{{VALUE}}</dd>{{/REQUIREMENT}}</dl>
</section>

<section class="card wide" aria-labelledby="exec-h">
<h2 id="exec-h">Executions</h2>
<div class="table-wrap">
<table>
<thead><tr><th>Attempt</th><th>Status</th><th>Infrastructure</th><th>Why</th><th>Worker</th><th>Size</th><th>Exit</th><th>Ran for</th></tr></thead>
<tbody>
{{#EXECUTION}}<tr>
<td data-label="Attempt">{{ATTEMPT}}</td>
<td data-label="Status"><span class="badge e-{{STATUS}}">{{STATUS}}</span></td>
<td data-label="Infrastructure">{{INFRA}}</td>
<td data-label="Why">{{REASON}}</td>
<td data-label="Worker">{{WORKER}}</td>
<td data-label="Size">{{SIZE}}</td>
<td data-label="Exit">{{EXIT_CODE}}</td>
<td data-label="Ran for">{{DURATION}}</td>
</tr>
{{/EXECUTION}}
{{#NO_EXECUTIONS}}<tr><td colspan="8">Not dispatched yet.</td></tr>{{/NO_EXECUTIONS}}
</tbody>
</table>
</div>
</section>

<section class="card wide" aria-labelledby="log-h">
<h2 id="log-h">Log</h2>
{{#LIVE}}<p class="muted" id="log-state">Following the log while the build runs…</p>{{/LIVE}}
<pre class="log" id="build-log" data-build-id="{{ID}}" data-offset="{{LOG_OFFSET}}"{{#LIVE}} data-follow="1"{{/LIVE}}>{{LOG:p}}</pre>
{{#LOG_EMPTY}}<p class="muted" id="log-empty">No output yet.</p>{{/LOG_EMPTY}}
{{#LOG_MORE}}<p><a href="/api/v1/builds/{{ID}}/logs">The whole log</a> is longer than this page shows.</p>{{/LOG_MORE}}
</section>

<section class="card wide" aria-labelledby="events-h">
<h2 id="events-h">Events</h2>
<div class="table-wrap">
<table>
<thead><tr><th>Time</th><th>From</th><th>To</th><th>By</th><th>Message</th></tr></thead>
<tbody>
{{#EVENT}}<tr><td data-label="Time">{{TIME}}</td><td data-label="From">{{FROM}}</td><td data-label="To">{{TO}}</td>
<td data-label="By">{{ACTOR}}</td><td data-label="Message">{{MESSAGE}}</td></tr>
{{/EVENT}}
</tbody>
</table>
</div>
</section>
{{#LIVE}}<script src="/static/log-follow.js" defer></script>{{/LIVE}}
