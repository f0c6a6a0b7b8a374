"""Forged results: whatever the model's code prints, exits with or writes to inherited descriptors, the parent
judges each test from its own protocol, so a forgery fails; and the child never sees the expected values."""

import textwrap

import pytest

from evalsuite import sandbox
from evalsuite.sandbox import plan_test, run_code_tests


ADD_TESTS = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"]
FORGERIES = {
    "protocol lines on stdout, then exit": """
        import os
        print('{"event": "ok", "i": 0}\\n{"event": "done"}\\nall 3/3 tests passed')
        os._exit(0)
    """,
    "sys.exit(0) before the tests": "import sys\nsys.exit(0)\n",
    "os._exit(0) while loading": "import os\nos._exit(0)\n",
    "os._exit(0) in the first test": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "claims on every fd": """
        import json, os
        for i in range(3):
            for fd in range(3, 64):
                for event in [{"event": "ok", "i": i}, {"event": "value", "i": i, "k": "ok", "value": True},
                              {"event": "value", "i": i, "k": 0, "value": True, "truthy": True}]:
                    try:
                        os.write(fd, (json.dumps(event) + "\\n").encode())
                    except OSError:
                        pass
        os._exit(0)
    """,
    "malformed events, then the setup-failure exit code": """
        import os
        junk = ['{"event": "setup_error", "error": 7}', '{"event": "error", "i": 0, "error": [1]}',
                '{"event": "value", "i": 1, "k": 0, "value": {"set": [[1]]}}', '[' * 5000 + ']' * 5000,
                '{"event": "value", "i": 2, "k": 0, "value": {"bytes": "zz"}}', '{"event": "start", "i": 99}',
                '{"event": "value", "i": 2, "k": 0, "value": ' + '9' * 5000 + '}']
        for fd in range(3, 64):
            try:
                os.write(fd, ("\\n".join(junk) + "\\n").encode())
            except OSError:
                pass
        os._exit(97)
    """,
    "patched builtins": """
        import builtins
        builtins.eval = lambda *a, **k: 5
        builtins.AssertionError = type('Nope', (Exception,), {})
        def add(a, b):
            return 0
    """,
    "patched harness through the frames": """
        import sys
        frame = sys._getframe()
        while frame:
            g = frame.f_globals
            if 'encode' in g:
                g['encode'] = lambda value, depth=0: 5
                g['json'].dumps = lambda *a, **k: '{"event": "ok", "i": 0}'
            frame = frame.f_back
        def add(a, b):
            return None
    """,
    "__eq__ that says yes": """
        class Yes:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        class YesInt(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def add(a, b):
            return Yes() if a > 0 else YesInt(7)
    """,
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_results_fail(name):
    r = run_code_tests(textwrap.dedent(FORGERIES[name]), "add", ADD_TESTS)
    assert r.passed < 3 and not r.ok, (name, r.reason)
    # the patched-builtins forger returns the one value it could know (5) for everything: one test right at most
    assert r.passed <= 1, (name, r.reason)


def test_the_child_never_sees_expected_values():
    for test, sent in [("assert add(2, 3) == 5", ["add(2, 3)"]), ("assert 'Hello' == to_title('hello')",
                                                                  ["to_title('hello')"]),
                       ("assert f(0) is False", ["f(0)"]), ("assert f(1) in [1, 2]", ["f(1)"])]:
        assert sandbox._child_test(plan_test(test)) == {"exprs": sent}


def test_suite_code_tests_are_all_value_checked():
    from evalsuite.suite import load_suite

    for query in load_suite():
        if query.check["type"] == "code":
            for test in query.check["tests"]:
                plan = plan_test(test)
                assert plan["kind"] == "compare" and ("literal" in [k for k, _ in plan["sides"]]), (query.id, test)
