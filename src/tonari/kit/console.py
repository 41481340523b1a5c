"""What the file-reading commands show: one progress bar style, one way to report an error."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tonari.kit.errors import TonariError


def file_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def exit_with_error(console: Console, exc: TonariError) -> NoReturn:
    where = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[red]error[/red] {exc.code}: {exc.message}{where}")
    raise typer.Exit(2) from None
