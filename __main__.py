"""The root project's program: the quickstart example, which lives in examples/ for users to copy.

The project has no `main:` entry because the official CLI's dynamic-provider script resolves a relative
`virtualenv` against the program's directory rather than the project root; a program at the root keeps
`virtualenv: .venv` meaning the same to the language host and the provider on every CLI.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent / "examples" / "quickstart" / "__main__.py"), run_name="__main__")
