{{%AUTOESCAPE context="HTML"}}
<nav class="tabs" aria-label="Build method">
{{#METHOD_TAB}}<a href="/builds/new?method={{METHOD}}&amp;project={{PROJECT}}"{{#CURRENT}} aria-current="page" class="current"{{/CURRENT}}>{{METHOD}}</a>
{{/METHOD_TAB}}
</nav>
{{#FORM_ERROR}}<p class="flash error" role="alert">{{MESSAGE}}{{#HAS_FIELD}} (field <code>{{FIELD}}</code>){{/HAS_FIELD}}</p>{{/FORM_ERROR}}
{{#NO_PROJECTS}}<p class="flash error">There is no project yet: create one with <code>POST /api/v1/projects</code>.</p>{{/NO_PROJECTS}}
<form method="post" action="/builds/new" class="build-form">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<input type="hidden" name="method" value="{{METHOD}}">
<div class="grid">
<section class="card" aria-labelledby="what-h">
<h2 id="what-h">What to build</h2>
<p class="muted">{{METHOD}}: {{METHOD_DESCRIPTION}}</p>
<label for="project">Project</label>
<select id="project" name="project" required>
{{#PROJECT_OPTION}}<option value="{{NAME}}"{{#SELECTED}} selected{{/SELECTED}}>{{NAME}}</option>{{/PROJECT_OPTION}}
</select>
<h3>Parameters</h3>
{{#PARAM_INPUT}}<label for="param-{{NAME}}">{{NAME}}{{#REQUIRED}} <span class="req">(required)</span>{{/REQUIRED}}</label>
{{#HAS_DESCRIPTION}}<small class="muted">{{DESCRIPTION}}</small>{{/HAS_DESCRIPTION}}
<input id="param-{{NAME}}" name="param_{{NAME}}" value="{{VALUE}}"{{#REQUIRED}} required{{/REQUIRED}}>
{{/PARAM_INPUT}}
{{#PARAM_TEXTAREA}}<label for="param-{{NAME}}">{{NAME}}{{#REQUIRED}} <span class="req">(required)</span>{{/REQUIRED}}</label>
{{#HAS_DESCRIPTION}}<small class="muted">{{DESCRIPTION}}</small>{{/HAS_DESCRIPTION}}
<textarea id="param-{{NAME}}" name="param_{{NAME}}" rows="6"{{#REQUIRED}} required{{/REQUIRED}}>{{VALUE:p}}</textarea>
{{/PARAM_TEXTAREA}}
</section>

<section class="card" aria-labelledby="size-h">
<h2 id="size-h">Declared size</h2>
<p class="muted">Leave empty for the default (shown) or 1.2 × this project's p95 usage.</p>
<div class="row">
<div><label for="spec-cpu">CPU cores</label><input id="spec-cpu" name="spec_cpu" inputmode="decimal" value="{{SPEC_CPU}}" placeholder="{{DEFAULT_CPU}}"></div>
<div><label for="spec-mem">Memory (GB)</label><input id="spec-mem" name="spec_memory_gb" inputmode="decimal" value="{{SPEC_MEMORY_GB}}" placeholder="{{DEFAULT_MEMORY_GB}}"></div>
<div><label for="spec-disk">Disk (GB)</label><input id="spec-disk" name="spec_disk_gb" inputmode="decimal" value="{{SPEC_DISK_GB}}" placeholder="{{DEFAULT_DISK_GB}}"></div>
<div><label for="spec-time">Time budget (min)</label><input id="spec-time" name="spec_time_budget_min" inputmode="numeric" value="{{SPEC_TIME_BUDGET_MIN}}" placeholder="{{DEFAULT_TIME_BUDGET_MIN}}"></div>
</div>
<fieldset><legend>Requirements</legend>
<label><input type="checkbox" name="req_gpu"{{#REQ_GPU}} checked{{/REQ_GPU}}> GPU</label>
<label><input type="checkbox" name="req_high_memory"{{#REQ_HIGH_MEMORY}} checked{{/REQ_HIGH_MEMORY}}> High memory</label>
<label><input type="checkbox" name="req_airgapped"{{#REQ_AIRGAPPED}} checked{{/REQ_AIRGAPPED}}> Air-gapped</label>
<label><input type="checkbox" name="req_legacy_system"{{#REQ_LEGACY_SYSTEM}} checked{{/REQ_LEGACY_SYSTEM}}> Legacy system</label>
</fieldset>
<fieldset><legend>Architectures</legend>
{{#ARCH}}<label><input type="checkbox" name="arch_{{ARCH}}"{{#CHECKED}} checked{{/CHECKED}}> {{ARCH}}</label>
{{/ARCH}}
</fieldset>
<label for="custom-hw">Custom hardware</label>
<input id="custom-hw" name="req_custom_hardware" value="{{CUSTOM_HARDWARE}}" maxlength="200">
</section>

<section class="card infra-tab" aria-labelledby="infra-h">
<h2 id="infra-h">Infrastructure</h2>
<p class="muted">Choose how your build will be executed. We recommend using Auto selection.</p>
{{#RECOMMENDATION}}<div class="recommendation c-{{LEVEL}}" role="status">
<span class="icon" aria-hidden="true">{{ICON}}</span>
<div><p><strong>Recommended:</strong> {{TYPE}} <span class="confidence">confidence {{CONFIDENCE}}</span></p>
<p>{{REASON}}</p>
<details><summary>Other options and why not</summary><ul>
{{#ALTERNATIVE}}<li><strong>{{WHERE}}</strong>: {{WHY}}</li>{{/ALTERNATIVE}}
</ul></details></div>
</div>{{/RECOMMENDATION}}
{{#REC_FAILED}}<p class="recommendation c-low" role="status">No recommendation: {{REC_ERROR}}</p>{{/REC_FAILED}}
<fieldset><legend>Infrastructure type</legend>
{{#INFRA_OPTION}}<label class="option"><input type="radio" name="infrastructure_type" value="{{TYPE}}"{{#CHECKED}} checked{{/CHECKED}}{{#UNAVAILABLE}} disabled{{/UNAVAILABLE}}>
<span><strong>{{NAME}}</strong> — {{DESCRIPTION}}{{#UNAVAILABLE}} <em>(not available now)</em>{{/UNAVAILABLE}}</span></label>
{{/INFRA_OPTION}}
</fieldset>
{{#CAN_INFRASTRUCTURE_MANAGE}}<label class="option"><input type="checkbox" name="force_infrastructure"{{#FORCE_CHECKED}} checked{{/FORCE_CHECKED}}>
<span>Admin override: force the type above (not Auto)</span></label>{{/CAN_INFRASTRUCTURE_MANAGE}}
<button type="submit" name="intent" value="recommend" class="secondary">Update recommendation</button>
</section>
</div>
<p class="submit-row"><button type="submit" name="intent" value="submit">Submit and start</button></p>
</form>
