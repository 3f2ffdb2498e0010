"""A private Kiln stack for one browser test file, driven over stdin/stdout by the Node test.

Starts PostgreSQL, kiln-api and nginx with tests/support/stack.py (the same scripts/stack.sh
`make up` uses) on free ports, prints one JSON line {"url", "admin_token", "var"} and then
answers one JSON command per line until stdin closes, when it stops everything it started and removes its directory (kept with KILN_KEEP_VAR=1):

  {"cmd": "token", "tenant": "default", "user": "dev", "role": "developer"}  -> {"token": "…"}
  {"cmd": "dispatcher"}                            -> {"ok": true}   a real kiln-dispatch --loop
  {"cmd": "agent", "name": "n1", "token": "…", "labels": ["arch=amd64"]}
                                                   -> {"ok": true}   a real kiln-agent
  {"cmd": "sql", "query": "…", "params": [...]}    -> {"rows": [...]} as the superuser
  {"cmd": "logs"}                                  -> {"text": "…"}  tails of the stack's logs
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from stack import Stack, Workers, log_tails  # noqa: E402


def answer(obj):
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def main():
    var = tempfile.mkdtemp(prefix="kiln-browser-")
    stack = Stack(var)
    try:
        stack.up()
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails with it
        answer({"error": str(e)})
        stack.down()
        return 1
    workers = Workers(stack)
    answer({"url": stack.url, "admin_token": stack.admin_token, "var": var})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                if cmd["cmd"] == "token":
                    answer({"token": stack.token(cmd["tenant"], cmd["user"], cmd["role"])})
                elif cmd["cmd"] == "dispatcher":
                    workers.dispatcher("browser")
                    answer({"ok": True})
                elif cmd["cmd"] == "agent":
                    token_file = Path(var) / f"node-token-{cmd['name']}"
                    token_file.write_text(cmd["token"] + "\n")
                    token_file.chmod(0o600)
                    extra = [a for label in cmd.get("labels", []) for a in ("--label", label)]
                    workers.agent(cmd["name"], token_file, concurrency=2, extra=extra)
                    answer({"ok": True})
                elif cmd["cmd"] == "sql":
                    answer({"rows": stack.sql(cmd["query"], cmd.get("params"))})
                elif cmd["cmd"] == "logs":
                    answer({"text": log_tails(stack)})
                else:
                    answer({"error": f"unknown command {cmd['cmd']}"})
            except Exception as e:  # noqa: BLE001 - the test decides
                answer({"error": str(e)})
    finally:
        workers.stop_all()
        stack.down()
        if not os.environ.get("KILN_KEEP_VAR"):
            shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
