"""The sidecar's process leaves out what an idle sidecar never uses (see :mod:`sidecar.lean`);
each check runs a fresh interpreter, as the container does."""

from __future__ import annotations

import subprocess
import sys

from sidecar.lean import LEFT_OUT


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_the_sidecar_program_loads_no_character_set_detector_and_says_nothing_of_it() -> None:
    result = _python(
        "import sys, sidecar.__main__\n"
        f"print(sorted(n for n in {LEFT_OUT!r} if sys.modules.get(n) is not None))"
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")


def test_without_a_detector_a_body_that_names_no_encoding_is_read_as_utf8() -> None:
    result = _python(
        "import sidecar.lean, requests\n"
        "response = requests.Response()\n"
        "response._content = b'\\xffno such page \\xc3\\xa9'\n"
        "print(ascii(response.text))"
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "'\\ufffdno such page \\xe9'\n",
        "",
    )
