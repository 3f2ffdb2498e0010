"""package.nginx_site: the nginx site of package kiln-api (packaging/nginx/kiln) keeps up with
nginx/kiln.conf.in, the configuration the stack and the HTTP tests run, and nginx accepts it
inside an http block as Debian's nginx.conf includes it. (package.debs checks the installed
copy the same way.)"""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "packaging" / "nginx" / "kiln"
CONF = ROOT / "nginx" / "kiln.conf.in"


def directives(text):
    """The non-comment lines, stripped, with multi-line statements kept line by line."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip() if not line.strip().startswith("'") else line.strip()
        if line:
            out.append(line)
    return out


def server_block(text):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "server {")
    depth = 0
    for end in range(start, len(lines)):
        depth += lines[end].count("{") - lines[end].count("}")
        if depth == 0:
            return "\n".join(lines[start:end + 1])
    raise AssertionError("unclosed server block")


def test_the_site_has_every_line_of_the_stacks_server_block_in_order():
    want = [d for d in directives(server_block(CONF.read_text()))
            if not d.startswith("listen ") and not d.startswith("alias ")]
    have = directives(server_block(SITE.read_text()))
    position = 0
    for line in want:
        try:
            position = have.index(line, position) + 1
        except ValueError:
            raise AssertionError(f"packaging/nginx/kiln lacks (or misorders) from nginx/kiln.conf.in: {line}")
    assert "alias /usr/share/kiln/static/;" in have
    assert "listen 80;" in have


def test_the_site_has_the_stacks_http_level_settings():
    http_level = [d for d in directives(CONF.read_text().replace(server_block(CONF.read_text()), ""))
                  if re.match(r"(client_(max_body_size|body_buffer_size|header_timeout|body_timeout)|send_timeout|keepalive_timeout|limit_req_|fastcgi_hide_header|"
                              r"map |log_format|server_tokens|POST|default \"\")", d)]
    assert len(http_level) >= 12
    site = directives(SITE.read_text())
    for d in http_level:
        assert d in site, f"packaging/nginx/kiln lacks {d}"
    assert "server unix:/run/kiln-api/kiln-api.sock;" in site
    unit = (ROOT / "packaging" / "systemd" / "kiln-api.service").read_text()
    assert "--listen /run/kiln-api/kiln-api.sock" in unit and "RuntimeDirectory=kiln-api" in unit


def test_nginx_accepts_the_site_inside_an_http_block(tmp_path):
    site = SITE.read_text().replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "kiln-site").write_text(site)
    temp = "\n".join(f"  {k}_temp_path {tmp_path}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n{temp}\n  include {tmp_path}/kiln-site;\n}}\n")
    out = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-e", f"{tmp_path}/error.log",
                          "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
