"""Descriptions everywhere: every config field (its ``#:`` comment, or its section's docstring) and
every Terraform output (``description=``), and the README's configuration reference generated
from the schema (kit/config_reference.py) and checked in, current."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from kit import config_reference as ref

ROOT = Path(__file__).resolve().parents[2]


# -- the checked-in reference --------------------------------------------------------------


def test_the_readme_reference_is_up_to_date():
    readme = ref.README.read_text(encoding="utf-8")
    assert ref.splice(readme, ref.render()) == readme, (
        "README.md's configuration reference is stale: run `make config-reference`")


def test_every_config_field_and_section_has_a_description():
    assert ref.missing_descriptions() == [], (
        "add a #: comment above each field (a docstring to each section class)")


def test_every_toml_section_of_the_schema_has_its_own_table_heading():
    headings = {line for line in ref.render().splitlines() if line.startswith("### ")}
    for section in ref.sections():
        if section.paths != ("",):
            assert any(f"`[{section.paths[0]}]`" in h or f"`[[{section.paths[0]}]]`" in h for h in headings), section


# -- every Terraform output ----------------------------------------------------------------


def _output_calls() -> list[tuple[str, int, ast.Call]]:
    calls = []
    for path in sorted((ROOT / "modules").rglob("*.py")) + [ROOT / "main.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
                if name == "TerraformOutput":
                    calls.append((str(path.relative_to(ROOT)), node.lineno, node))
    return calls


def test_every_terraform_output_has_a_description():
    calls = _output_calls()
    assert len(calls) >= 40, f"found only {len(calls)} TerraformOutput calls: is the walk still right?"
    missing = []
    for where, line, call in calls:
        desc = next((k.value for k in call.keywords if k.arg == "description"), None)
        literal = isinstance(desc, ast.JoinedStr) or (isinstance(desc, ast.Constant) and isinstance(desc.value, str)
                                                      and desc.value.strip())
        if not literal:
            missing.append(f"{where}:{line}")
    assert missing == [], f"TerraformOutput without a description=\"...\": {', '.join(missing)}"


# -- reading and rendering a schema (our own, in tmp_path) ---------------------------------


SCHEMA = '''
from __future__ import annotations
from dataclasses import dataclass, field
from environments._fields import _between, _one_of


@dataclass(frozen=True)
class Hook:
    """One ``[[demo.hooks]]`` entry."""

    #: Where | to call.
    url: str


@dataclass(frozen=True)
class Demo:
    """A demo section."""

    #: How many
    #: widgets (a two-line comment).
    count: int = field(default=3, metadata=_between(1, 9))
    # a plain comment is no description
    mode: str = field(default="a", metadata=_one_of("a", "b"))
    #: The hooks.
    hooks: tuple[Hook, ...] = ()


@dataclass(frozen=True)
class Root:
    """The root."""

    #: The name.
    name: str
    demo: Demo = field(default_factory=Demo)
    #: Never in a file.
    source: str = field(default="", metadata={"internal": True})
'''


@pytest.fixture
def schema(tmp_path, monkeypatch):
    """A schema module of our own (``inspect`` reads its source like the real one's)."""
    (tmp_path / "demo_schema.py").write_text(textwrap.dedent(SCHEMA), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "demo_schema", raising=False)
    return importlib.import_module("demo_schema")


def test_a_field_without_a_comment_is_named(schema):
    assert ref.missing_descriptions(schema.Root) == ["demo.mode"]


def test_a_section_class_without_a_docstring_is_named(schema, monkeypatch):
    monkeypatch.setattr(schema.Demo, "__doc__", None)
    assert "[demo] (demo_schema.Demo: no docstring)" in ref.missing_descriptions(schema.Root)


def test_a_run_of_comment_lines_is_one_description(schema):
    assert ref.field_comments(schema.Demo)["count"] == "How many widgets (a two-line comment)."


def test_a_row_shows_type_default_constraint_and_description(schema):
    assert ("| `count` | integer | `3` | 1 to 9 | How many widgets (a two-line comment). |"
            in ref.render(schema.Root).splitlines())


def test_a_field_without_a_default_is_required_and_internal_fields_are_left_out(schema):
    text = ref.render(schema.Root)
    assert "| `name` | string | required |  | The name. |" in text.splitlines()
    assert "`source`" not in text


def test_an_array_of_tables_gets_a_table_and_a_pipe_in_text_is_escaped(schema):
    text = ref.render(schema.Root)
    assert "### `[[demo.hooks]]`" in text
    assert "| `url` | string | required |  | Where \\| to call. |" in text.splitlines()


# -- the command ---------------------------------------------------------------------------


def _readme(tmp_path: Path, between: str) -> Path:
    path = tmp_path / "README.md"
    path.write_text(f"# x\n\n{ref.START}\n{between}{ref.END}\n\nafter\n", encoding="utf-8")
    return path


def test_check_fails_on_a_stale_reference_and_writes_nothing(tmp_path, capsys):
    path = _readme(tmp_path, "old\n")
    assert ref.main(["--check", "--readme", str(path)]) == 1
    assert "stale: run `make config-reference`" in capsys.readouterr().err
    assert "old\n" in path.read_text(encoding="utf-8")


def test_the_command_rewrites_only_the_text_between_the_markers(tmp_path):
    path = _readme(tmp_path, "old\n")
    assert ref.main(["--readme", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == f"# x\n\n{ref.START}\n{ref.render()}{ref.END}\n\nafter\n"
    assert ref.main(["--check", "--readme", str(path)]) == 0


def test_a_readme_without_the_markers_is_an_error_naming_them(tmp_path, capsys):
    path = tmp_path / "README.md"
    path.write_text("# x\n", encoding="utf-8")
    assert ref.main(["--readme", str(path)]) == 2
    assert f"must hold one {ref.START} ... {ref.END} pair" in capsys.readouterr().err
