"""Step recording shared by the python-consul flow scripts (plugins/*/clients/*_flow.py).

python-flow.ts runs those scripts with this folder on PYTHONPATH. A script creates one Flow,
hooks `flow.observe` into each client's requests session (the client itself is not changed),
runs `flow.step(...)` for every check, and ends with `return flow.summary()`.

Output: one JSON object per step, {"step", "ok", "got", "expected" (on a mismatch), "http"}, where
"http" lists the requests the client made for the step (`METHOD path?query -> status`); then
{"summary": {"ok", "failed": [...], "steps", ...extra}}.
"""
import json
import sys
import traceback


def _json_default(o):
    # KV values come back as bytes: show them as text, everything else as str().
    return o.decode("utf-8", "replace") if isinstance(o, bytes) else str(o)


class Flow:
    def __init__(self):
        self.results = []
        self.wire = []

    def observe(self, response, *args, **kwargs):
        """requests response hook: remembers `METHOD path?query -> status` for the step report."""
        req = response.request
        path = req.path_url if hasattr(req, "path_url") else req.url
        self.wire.append("%s %s -> %d" % (req.method, path, response.status_code))

    def step(self, name, fn, expect):
        """Runs fn(); `expect(got)` returns None when it matches, else what was expected."""
        first = len(self.wire)
        try:
            got = fn()
            expected = expect(got)
            ok = expected is None
        except Exception as exc:  # a client exception is a mismatch, reported with its text
            got = "%s: %s" % (type(exc).__name__, exc)
            expected = "no exception"
            ok = False
            traceback.print_exc(file=sys.stderr)
        rec = {"step": name, "ok": ok, "got": got, "http": self.wire[first:]}
        if not ok:
            rec["expected"] = expected
        self.results.append(rec)
        print(json.dumps(rec, default=_json_default), flush=True)
        return got if ok else None

    def summary(self, **extra):
        """Prints the summary line; returns the exit status (0 all steps matched, 1 some did not)."""
        failed = [r["step"] for r in self.results if not r["ok"]]
        print(json.dumps({"summary": dict({"ok": not failed, "failed": failed, "steps": len(self.results)}, **extra)}), flush=True)
        return 1 if failed else 0
