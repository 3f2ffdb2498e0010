{{%AUTOESCAPE context="HTML"}}
<div class="grid">
<section class="card" aria-labelledby="queue-h">
<h2 id="queue-h">Queue</h2>
<dl class="figures">
<div><dt>Queued</dt><dd>{{QUEUED}}</dd></div>
<div><dt>Dispatching</dt><dd>{{DISPATCHING}}</dd></div>
<div><dt>Running</dt><dd>{{RUNNING}}</dd></div>
<div><dt>Oldest wait</dt><dd>{{OLDEST_WAIT}}</dd></div>
</dl>
<p class="muted">Wait from queued to started, last 24 hours ({{STARTED_24H}} builds):
average {{AVG_WAIT}}, p95 {{P95_WAIT}}.</p>
</section>

<section class="card" aria-labelledby="usage-h">
<h2 id="usage-h">Infrastructure usage (last 30 days)</h2>
<dl class="figures">
<div><dt><span class="key k8s"></span>Kubernetes</dt><dd>{{K8S_COUNT}} <small>({{K8S_PCT}})</small></dd></div>
<div><dt><span class="key nodes"></span>Build nodes</dt><dd>{{NODES_COUNT}} <small>({{NODES_PCT}})</small></dd></div>
</dl>
<svg class="chart split" viewBox="0 0 300 20" role="img" aria-label="Kubernetes {{K8S_PCT}}, build nodes {{NODES_PCT}}">
<rect x="0" y="0" width="300" height="20" class="empty"/>
<rect x="0" y="0" width="{{K8S_W}}" height="20" class="k8s"/>
<rect x="{{NODES_X}}" y="0" width="{{NODES_W}}" height="20" class="nodes"/>
</svg>
<h3>Executions per day</h3>
<svg class="chart daily" viewBox="0 0 312 132" role="img" aria-label="Executions per day for the last 14 days">
<line x1="0" y1="110" x2="312" y2="110" class="axis"/>
{{#DAY}}<g><title>{{TITLE}}</title>
<rect x="{{X}}" y="{{NODES_Y}}" width="16" height="{{NODES_H}}" class="nodes"/>
<rect x="{{X}}" y="{{K8S_Y}}" width="16" height="{{K8S_H}}" class="k8s"/>
<text x="{{LABEL_X}}" y="126" class="tick">{{DAY}}</text></g>
{{/DAY}}
</svg>
</section>

<section class="card" aria-labelledby="status-h">
<h2 id="status-h">Builds by status</h2>
<svg class="chart bars" viewBox="0 0 320 {{STATUS_CHART_HEIGHT}}" role="img" aria-label="Builds by status">
{{#STATUS_BAR}}<text x="0" y="{{TEXT_Y}}" class="label">{{STATUS}}</text>
<rect x="96" y="{{Y}}" width="{{WIDTH}}" height="15" class="bar s-{{STATUS}}"/>
<text x="{{COUNT_X}}" y="{{TEXT_Y}}" class="value">{{COUNT}}</text>
{{/STATUS_BAR}}
</svg>
</section>

<section class="card wide" aria-labelledby="metrics-h">
<h2 id="metrics-h">Success metrics (last 30 days)</h2>
<div class="table-wrap">
<table>
<thead><tr><th>Metric</th><th>Value</th><th>Target</th><th>State</th></tr></thead>
<tbody>
{{#METRIC}}<tr><td>{{NAME}}</td><td>{{VALUE}} <small class="muted">{{DETAIL}}</small></td><td>{{TARGET}}</td>
<td><span class="badge m-{{STATE}}">{{STATE_TEXT}}</span></td></tr>
{{/METRIC}}
</tbody>
</table>
</div>
<p class="muted">Usage counts executions by the infrastructure they ran on. Selection accuracy:
recommendations that were followed and succeeded where they pointed. Build success: finished
builds (not cancelled) that succeeded.</p>
</section>

<section class="card wide" aria-labelledby="health-h">
<h2 id="health-h">Health</h2>
<h3>Kubernetes providers</h3>
<ul class="tiles">
{{#PROVIDER}}<li class="tile h-{{HEALTH}}"><strong>{{NAME}}</strong><span>{{TYPE}}</span>
<span class="badge h-{{HEALTH}}">{{HEALTH}}</span><small>checked {{CHECKED}}</small></li>
{{/PROVIDER}}
{{#NO_PROVIDERS}}<li class="tile none">No provider configured: builds run on build nodes.</li>{{/NO_PROVIDERS}}
</ul>
<h3>Build nodes</h3>
<ul class="tiles">
{{#NODE}}<li class="tile n-{{STATE}}"><strong>{{NAME}}</strong>
<span class="badge n-{{STATE}}">{{STATE}}</span>
<span>{{RUNNING}} / {{CONCURRENCY}} running</span><small>heartbeat {{HEARTBEAT}}</small></li>
{{/NODE}}
{{#NO_NODES}}<li class="tile none">No build node registered.</li>{{/NO_NODES}}
</ul>
</section>
</div>
