"""The ``init`` command: start a new scenario from a commented template."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import click

__all__ = ["TEMPLATES", "init", "template_text"]

TEMPLATES = ("minimal", "iopc")
"""The templates ``init`` offers: the smallest scenario that runs, and the IOPC's team."""


def template_text(name: str) -> str:
    """The text of template ``name`` (a commented scenario file)."""
    return (resources.files("sim.scenario") / "templates" / f"{name}.yaml").read_text("utf-8")


@click.command(short_help="Write a commented scenario file to start from.")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--template",
    type=click.Choice(TEMPLATES),
    default="minimal",
    show_default=True,
    help="minimal: the smallest scenario that runs, every section left out saying what leaving "
    "it out means; iopc: the team the IOPC investigated (2016–2019), every figure with its "
    "source in docs/sources.md.",
)
@click.option(
    "--name",
    default="scenario.yaml",
    show_default=True,
    help="The file name to write in DIRECTORY.",
)
def init(directory: str, template: str, name: str) -> None:
    """Write DIRECTORY/scenario.yaml, a commented scenario to edit into your own team.

    The directory is created if needed; an existing file is never overwritten (exit 2). Then:
    polit-sim validate DIRECTORY/scenario.yaml, polit-sim run DIRECTORY/scenario.yaml.
    """
    from sim.cli.common import fail_input

    folder = Path(directory)
    target = folder / name
    if Path(name).name != name or not name.endswith((".yaml", ".yml")):
        fail_input([f"--name {name}: give a file name ending in .yaml, without a folder"])
    if target.exists():
        fail_input([f"{target}: exists already; choose another DIRECTORY or --name"])
    if folder.exists() and not folder.is_dir():
        fail_input([f"{folder}: is not a directory"])
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(template_text(template), encoding="utf-8")
    click.echo(f"wrote {target} (template {template}); next: polit-sim validate {target}")
