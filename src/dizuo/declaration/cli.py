"""`dizuo validate`, `dizuo schema` and `dizuo inventory`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from dizuo.declaration.inventory import ansible_inventory, hosts_yml, to_json
from dizuo.declaration.loader import DeclarationError, NotADeclarationError, load
from dizuo.declaration.model import FILES, Declaration
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.refusal import print_error

err = Console(stderr=True)
out = Console()

CityPath = Annotated[
    Path, typer.Argument(metavar="CITY_DIR", help="Directory of the city declaration, e.g. inventories/yulin")
]
FileName = Annotated[
    str, typer.Argument(help=f"A declaration file ({', '.join(FILES)}), by name or path", metavar="FILE")
]


def file_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of declaration file ``name``: what the file itself holds, as an editor sees it
    (a YAML language server reads dates and such as text, which the schema's string formats describe)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **FILES[name].model_json_schema()}


def load_or_exit(path: Path, code: int = BAD_INPUT) -> Declaration:
    """Load the declaration or print every problem and exit with ``code``: never a traceback on bad input. A path that
    is no declaration's folder is bad input whatever ``code`` says (exit 2), with its one line."""
    try:
        return load(path)
    except NotADeclarationError as exc:
        print_error(err, str(exc))
        raise typer.Exit(BAD_INPUT) from None
    except DeclarationError as exc:
        for problem in exc.problems:
            print_error(err, str(problem))
        err.print(f"{len(exc.problems)} problem(s) in {path}", style="bold red", markup=False)
        raise typer.Exit(code) from None


def register(app: typer.Typer) -> None:
    """Add the declaration commands."""

    @app.command()
    def validate(path: CityPath) -> None:
        """Check a city declaration: exit 0 when valid, 1 with one located error per problem."""
        d = load_or_exit(path, code=FAILED)  # the problems are validate's answer, not bad input to it
        out.print(
            f"[green]ok[/green] {escape(d.city.name)} ({escape(d.city.code)}): {len(d.zones)} zones, "
            f"{len(d.clusters)} clusters, "
            f"{len(d.departments)} departments, {len(d.systems)} systems, {len(d.datasets)} datasets, "
            f"{len(d.inventory.hosts)} hosts",
            soft_wrap=True,  # one line, also in a pipe or CI log (which rich would cut at 80 columns)
        )

    @app.command()
    def schema(file: FileName) -> None:
        """Print the JSON Schema of one declaration file, e.g. `dizuo schema departments.yaml` (for editors and CI)."""
        name = Path(file).name
        if name not in FILES:
            message = f"{file}: not a declaration file; one of: {', '.join(FILES)}"
            print_error(err, message)
            raise typer.Exit(BAD_INPUT)
        print(json.dumps(file_schema(name), ensure_ascii=False, indent=2))

    @app.command()
    def inventory(
        path: CityPath,
        list_: Annotated[bool, typer.Option("--list", help="Ansible dynamic-inventory JSON")] = False,
        host: Annotated[str | None, typer.Option("--host", help="Variables of one host (dynamic inventory)")] = None,
    ) -> None:
        """Print the Ansible inventory rendered from hosts.yaml (YAML, or JSON with --list/--host)."""
        if list_ and host is not None:
            print_error(err, "give --list or --host NAME, not both")
            raise typer.Exit(BAD_INPUT)
        d = load_or_exit(path)
        if host is not None:
            hostvars = ansible_inventory(d)["_meta"]["hostvars"]
            if host not in hostvars:
                known = ", ".join(sorted(hostvars))
                print_error(err, f"--host: no host {host!r} in {path / 'hosts.yaml'} (declared: {known})")
                raise typer.Exit(BAD_INPUT)
            print(to_json(hostvars[host]))
        elif list_:
            print(to_json(ansible_inventory(d), indent=2))
        else:
            print(yaml.safe_dump(hosts_yml(d), allow_unicode=True, sort_keys=False), end="")
