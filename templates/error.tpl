{{%AUTOESCAPE context="HTML"}}
<section class="card error-page" role="alert">
<p class="error-message">{{MESSAGE}}</p>
{{#HAS_FIELD}}<p>Field: <code>{{FIELD}}</code></p>{{/HAS_FIELD}}
<p class="muted">Request id <code>{{REQUEST_ID}}</code> · <a href="/admin/builds">Back to Kiln</a></p>
</section>
