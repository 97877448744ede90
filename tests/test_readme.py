"""The Python examples of README.md and docs/*.md run as written.

```python blocks are executed; ```py marks fragments that are not meant to run alone.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(code, path, id=f"{path.name}-{i}")
    for path in DOCS
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S))
]


@pytest.mark.parametrize("code, path", BLOCKS)
def test_documented_example_runs(code, path, capsys):
    namespace: dict = {}
    exec(compile(code, str(path), "exec"), namespace)
    out = capsys.readouterr().out
    assert out.strip(), "every documented example prints what it computes"
