{{%AUTOESCAPE context="HTML"}}
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}} · Kiln</title>
<link rel="stylesheet" href="/static/kiln.css">
</head>
<body>
<header class="top">
<a class="brand" href="/admin/builds">Kiln</a>
{{>NAV}}
</header>
<main>
<h1>{{TITLE}}</h1>
{{CONTENT:none}}
</main>
</body>
</html>
