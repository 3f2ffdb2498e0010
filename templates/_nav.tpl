{{%AUTOESCAPE context="HTML"}}
<nav aria-label="Main">
<ul>
{{#CAN_INFRASTRUCTURE_MONITOR}}<li><a href="/admin">Dashboard</a></li>{{/CAN_INFRASTRUCTURE_MONITOR}}
{{#CAN_BUILD_READ}}<li><a href="/admin/builds">Builds</a></li>{{/CAN_BUILD_READ}}
{{#CAN_BUILD_CREATE}}<li><a href="/builds/new">New build</a></li>{{/CAN_BUILD_CREATE}}
{{#CAN_INFRASTRUCTURE_MONITOR}}<li><a href="/admin/providers">Providers</a></li>{{/CAN_INFRASTRUCTURE_MONITOR}}
{{#CAN_INFRASTRUCTURE_MONITOR}}<li><a href="/admin/build-nodes">Build nodes</a></li>{{/CAN_INFRASTRUCTURE_MONITOR}}
{{#CAN_INFRASTRUCTURE_MONITOR}}<li><a href="/admin/pipeline-templates">Pipeline templates</a></li>{{/CAN_INFRASTRUCTURE_MONITOR}}
{{#CAN_INFRASTRUCTURE_MONITOR}}<li><a href="/admin/usage">Usage</a></li>{{/CAN_INFRASTRUCTURE_MONITOR}}
{{#CAN_ADMIN}}<li><a href="/admin/audit">Audit log</a></li>{{/CAN_ADMIN}}
</ul>
<form class="signout" method="post" action="/admin/logout">
<span class="who">{{USER_NAME}} · {{TENANT_NAME}}</span>
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<button type="submit" class="link">Sign out</button>
</form>
</nav>
