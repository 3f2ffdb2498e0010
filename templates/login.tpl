{{%AUTOESCAPE context="HTML"}}
<section class="card narrow">
<p>Sign in with an API token. The token is checked once; the page then keeps a session
that ends when you sign out, when it expires, or when the token is revoked.</p>
{{#ERROR}}<p class="flash error" role="alert">{{MESSAGE}}</p>{{/ERROR}}
<form method="post" action="/admin/login">
<input type="hidden" name="csrf_token" value="{{CSRF_TOKEN}}">
<input type="hidden" name="next" value="{{NEXT}}">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required placeholder="kiln_…">
<button type="submit">Sign in</button>
</form>
<p class="muted">The local stack writes an admin token to <code>var/admin-token</code>.</p>
</section>
