"""Mutation check: do the tests pin the paper's semantics? (issue 10, item 8)

Each mutation below breaks one piece of M2m's semantics (Eq. 2-5, Algorithm 1, the
online batch rule) by replacing an exact snippet of the library's source. The script
copies the repository (``m2m_sampler/``, ``tests/``, ``tools/``, ``conftest.py``,
``pyproject.toml``, ``setup.cfg``) to a temporary directory, runs a focused pytest
selection there on the unmutated copy (which must pass), then once per mutation, and
reports whether the suite
failed (the mutation is *caught*) or passed (it *survived*), with the first failing test.

A snippet that is not found exactly once is an error (the script stops before running
anything), so a stale entry cannot silently test nothing; a mutated file that no longer
compiles is an error too (a syntax error would be "caught" for the wrong reason).

Usage::

    python tools/mutation_check.py                 # all mutations, writes tools/mutation_check.md
    python tools/mutation_check.py --only a e      # some of them (no Markdown written)
    python tools/mutation_check.py --tests tests/test_semantics_reference.py tests/test_planning.py

Exit status 0 iff the unmutated copy passes and every mutation is caught.
"""

from __future__ import annotations

import argparse
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("m2m_sampler", "tests", "tools", "conftest.py", "pyproject.toml", "setup.cfg")
DEFAULT_TESTS = ("tests/test_semantics_reference.py",)
OUTPUT = ROOT / "tools" / "mutation_check.md"


@dataclass(frozen=True)
class Mutation:
    key: str
    file: str
    old: str
    new: str
    description: str


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "a",
        "m2m_sampler/engine/translation.py",
        "loss = loss + lam * f_logits.gather(1, k0.view(-1, 1)).sum()",
        "loss = loss + lam * f_logits.gather(1, k.view(-1, 1)).sum()",
        "lambda term on f's logit of the target class k instead of the source class k0",
    ),
    # ---------------------------------------------------------------------------------
    # M2MClassifier hands its live network f to the generation in generation_iterator.py.
    Mutation(
        "b",
        "m2m_sampler/training/generation_iterator.py",
        "f=net.get_translation_f() if self.params.lam != 0 else None,",
        "f=None,",
        "M2MClassifier ignores f: the generation gets f=None (no lambda term)",
    ),
    # ---------------------------------------------------------------------------------
    Mutation(
        "c1",
        "m2m_sampler/engine/generation.py",
        "x0, k0, k = sources[plan.source_index[pos]], plan.source_class[pos], plan.target[pos]",
        "x0, k0, k = sources[plan.target_pos[pos]], plan.source_class[pos], plan.target[pos]",
        "online rule: translate the target's own batch entry instead of its source "
        "(generate's gathering of sources)",
    ),
    Mutation(
        "c2",
        "m2m_sampler/engine/planning.py",
        "source[sel] = members[c][pos]",
        "source[sel] = members[k][pos % counts[k]]",
        "over-sampler: the planned source x0 is a sample of the target class "
        "(plan_translations)",
    ),
    Mutation(
        "d1",
        "m2m_sampler/engine/planning.py",
        "survived_beta=draw_beta_survivors(p_accept, generator=generator),",
        "survived_beta=torch.ones_like(p_accept, dtype=torch.bool),",
        "online rule: no Bernoulli beta draw (survived_beta all True)",
    ),
    Mutation(
        "d2",
        "m2m_sampler/engine/planning.py",
        "survived = draw_beta_survivors(p_accept, random_state=random_state) & ~fallback",
        "survived = ~fallback",
        "over-sampler: no Bernoulli beta draw (survived_beta all True)",
    ),
    Mutation(
        "e",
        "m2m_sampler/engine/translation.py",
        "prob = target_probability(g, x, k, amp_dtype=amp_dtype)",
        "prob = target_probability(g, x, k0, amp_dtype=amp_dtype)",
        "gamma tested on g's probability of the source class k0 instead of the target k",
    ),
    Mutation(
        "f",
        "m2m_sampler/engine/translation.py",
        "x = _clamp(x.detach() - step_size * d / norm, low, high)",
        "x = _clamp(x.detach() - step_size * d, low, high)",
        "un-normalised steps (no division by ||d||_2)",
    ),
    Mutation(
        "g",
        "m2m_sampler/engine/translation.py",
        "x = _clamp(x.detach() - step_size * d / norm, low, high)",
        "x = x.detach() - step_size * d / norm",
        "clip skipped after the steps",
    ),
    Mutation(
        "g2",
        "m2m_sampler/engine/translation.py",
        "x = _clamp(x.detach() - step_size * d / norm, low, high)",
        "x = x.detach() - step_size * d / norm\n"
        "            if _ == n_steps - 1:\n"
        "                x = _clamp(x, low, high)",
        "clip only after the last step, not after every step",
    ),
    Mutation(
        "h",
        "m2m_sampler/engine/planning.py",
        "p_target = 1.0 - n_y / counts.max()",
        "p_target = torch.full_like(n_y, 0.5)",
        "online rule: target probability 0.5 instead of 1 - N_y/N_max",
    ),
    Mutation(
        "i",
        "m2m_sampler/engine/planning.py",
        "weights = accept[y[:, None], y[None, :]]  # [i, j] = 1 - beta^((N_{y_j} - N_{y_i})^+)",
        "weights = (accept[y[:, None], y[None, :]] > 0).double()",
        "online rule (extra): sources drawn uniformly among larger-class entries, not with "
        "weights 1 - beta^gap",
    ),
)

_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$")


def check_snippets(mutations) -> None:
    """Every old snippet occurs exactly once in its file, and every mutant compiles."""
    problems = []
    for m in mutations:
        text = (ROOT / m.file).read_text()
        n = text.count(m.old)
        if n != 1:
            problems.append(f"mutation {m.key}: snippet found {n} times in {m.file}: {m.old!r}")
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as tmp:
            tmp.write(text.replace(m.old, m.new))
        try:
            py_compile.compile(tmp.name, doraise=True)
        except py_compile.PyCompileError as exc:
            problems.append(f"mutation {m.key}: the mutated {m.file} does not compile: {exc}")
        finally:
            os.unlink(tmp.name)
    if problems:
        raise SystemExit("mutation_check: stale mutation entries:\n  " + "\n  ".join(problems))


def copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


def run_tests(workdir: Path, tests, timeout: float, stop_first: bool = True) -> dict:
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", *(["-x"] if stop_first else []), "-q",
           "-p", "no:cacheprovider", *tests]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "first": "", "reason": f"> {timeout:.0f} s",
                "seconds": time.perf_counter() - start, "failing": [], "output": ""}
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    first, reason, failing = "", "", []
    for line in output.splitlines():
        match = _SUMMARY.match(line.strip())
        if match:
            failing.append(match.group(2))
            if not first:
                first, reason = match.group(2), (match.group(3) or "").strip()
    if first:  # the first assertion lines of the traceback say more than the summary
        details = [ln[1:].strip() for ln in output.splitlines() if ln.startswith("E ")]
        details = [d for d in details if d and d not in ("AssertionError:", "AssertionError")]
        if details:
            reason = " / ".join(details[:3])
    status = "passed" if proc.returncode == 0 else "failed"
    if proc.returncode not in (0, 1):  # 2: interrupted/collection error, 5: nothing ran
        status = f"error (pytest exit {proc.returncode})"
    return {"status": status, "first": first, "reason": reason, "seconds": seconds,
            "failing": failing, "output": output}


def check_import(workdir: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, "-c", "import m2m_sampler; print(m2m_sampler.__file__)"],
        cwd=workdir, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(workdir.resolve()):
        raise SystemExit(f"mutation_check: m2m_sampler imports from {out}, not the copy")


def _cell(text: str, limit: int = 110) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render(rows, baseline, tests, total_seconds) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *COPIED, f":!{OUTPUT.relative_to(ROOT)}"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout.strip()
    tree = f"`{commit}`" + (" + uncommitted changes" if dirty else "")
    lines = [
        "# Mutation check",
        "",
        "Generated by `python tools/mutation_check.py` (do not edit by hand). Each mutation "
        "replaces one exact snippet of the library in a temporary copy of the repository; "
        f"the selection `pytest -x {' '.join(tests)}` must fail on it.",
        "",
        f"- tree: {tree}",
        f"- unmutated copy: **{baseline['status']}** in {baseline['seconds']:.1f} s",
        f"- total: {total_seconds:.0f} s",
        "",
        "| Mutation | Where | Caught? | First failing test | Why (pytest's summary) |",
        "|---|---|---|---|---|",
    ]
    for m, r in rows:
        caught = {"failed": "**caught**", "passed": "SURVIVED"}.get(r["status"], r["status"])
        test = r["first"].split("::", 1)[-1] if r["first"] else ""
        lines.append(
            f"| {m.key}: {_cell(m.description, 200)} | `{m.file}` | {caught} | "
            f"`{test}` | {_cell(r['reason'])} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="KEY", help="mutation keys to run")
    parser.add_argument("--tests", nargs="+", default=list(DEFAULT_TESTS))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per pytest run")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"Markdown report (default {OUTPUT.relative_to(ROOT)} for a full "
                        "run, none with --only)")
    parser.add_argument("--all-failures", action="store_true",
                        help="diagnostic: run without -x and list every failing test "
                        "(no Markdown written unless --output is given)")
    parser.add_argument("--show-output", action="store_true",
                        help="print pytest's output for every run")
    args = parser.parse_args(argv)

    mutations = MUTATIONS
    if args.only:
        unknown = set(args.only) - {m.key for m in MUTATIONS}
        if unknown:
            raise SystemExit(f"mutation_check: unknown mutation(s) {sorted(unknown)}")
        mutations = tuple(m for m in MUTATIONS if m.key in args.only)
    check_snippets(mutations)
    partial = args.only or args.all_failures
    output = args.output if args.output is not None else (None if partial else OUTPUT)
    stop_first = not args.all_failures

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="m2m-mutation-") as tmp:
        workdir = Path(tmp)
        copy_repo(workdir)
        check_import(workdir)
        baseline = run_tests(workdir, args.tests, args.timeout)
        print(f"unmutated: {baseline['status']} ({baseline['seconds']:.1f} s)", flush=True)
        if baseline["status"] != "passed":
            print(baseline["output"][-5000:])
            raise SystemExit("mutation_check: the unmutated copy must pass")
        rows = []
        for m in mutations:
            path = workdir / m.file
            original = path.read_text()
            path.write_text(original.replace(m.old, m.new))
            try:
                result = run_tests(workdir, args.tests, args.timeout, stop_first)
            finally:
                path.write_text(original)
            rows.append((m, result))
            verdict = "caught" if result["status"] == "failed" else result["status"].upper()
            print(f"{m.key:>3} {verdict:<9} {result['seconds']:5.1f} s  {result['first']}"
                  f"  {result['reason'][:100]}", flush=True)
            if args.all_failures:
                for name in result["failing"]:
                    print(f"      {name}")
            if args.show_output:
                print(result["output"])
    total = time.perf_counter() - start
    report = render(rows, baseline, args.tests, total)
    if output is not None:
        output.write_text(report)
        print(f"wrote {output}")
    survived = [m.key for m, r in rows if r["status"] != "failed"]
    if survived:
        print(f"not caught: {', '.join(survived)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
