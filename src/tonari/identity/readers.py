"""Stream a customer file row by row, whatever its format and encoding.

Rows come out as plain dicts of strings (or None) with the file's own column names, each with
its line number (CSV: the line the row starts on, header = line 1; JSON lines: the line; Parquet:
the row's position + 1). A row that cannot be read at all (undecodable bytes, broken JSON) comes
out as a :class:`BrokenRow` so the report can name it and reading goes on.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charset_normalizer import from_bytes

from tonari.identity.sources import FileFormat
from tonari.kit.errors import ValidationFailed

# Enough bytes to tell cp1251 from UTF-8 and KOI8-R; the detector reads no more than this.
DETECTION_BYTES = 256 * 1024
PARQUET_BATCH_ROWS = 10_000
LIKELY_ENCODINGS = ("cp1251", "koi8_r", "cp866", "cp1256", "cp1252", "iso8859_5", "mac_cyrillic")


@dataclass(frozen=True, slots=True)
class SourceRow:
    line: int
    values: dict[str, str | None]


@dataclass(frozen=True, slots=True)
class BrokenRow:
    line: int
    reason: str


def detect_format(path: Path, declared: FileFormat | None) -> FileFormat:
    if declared is not None:
        return declared
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return FileFormat.CSV
    if suffix in (".jsonl", ".ndjson", ".json"):
        return FileFormat.JSONL
    if suffix in (".parquet", ".pq"):
        return FileFormat.PARQUET
    raise ValidationFailed(
        f"cannot tell the format of {path.name}: name it .csv, .jsonl or .parquet, "
        "or pass --format",
        field="format",
    )


def detect_encoding(path: Path) -> str:
    """The encoding of a text file, read from its first bytes.

    UTF-8 wins when all but a few lines of the sample are valid UTF-8 (and some line shows
    real multi-byte UTF-8): a mostly-UTF-8 export
    with a handful of broken lines is UTF-8 with broken lines (each is reported), not some
    single-byte encoding that happens to decode everything into nonsense. Otherwise the
    single-byte encodings customer databases are really exported in (Cyrillic, Arabic/Persian,
    Western) are tried first: a short sample fits exotic multi-byte ones by accident.
    """
    with path.open("rb") as stream:
        head = stream.read(DETECTION_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    lines = head.split(b"\n")
    if len(head) == DETECTION_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle of a character
    broken = sum(1 for line in lines if not _decodes(line, "utf-8"))
    if broken == 0:
        return "utf-8"
    # Some line must show real multi-byte UTF-8: an ASCII file with one odd line is as
    # likely a single-byte encoding, and detection below decides it.
    shows_utf8 = any(not line.isascii() and _decodes(line, "utf-8") for line in lines)
    if shows_utf8 and broken <= max(1, len(lines) // 100):
        return "utf-8"
    best = from_bytes(head, cp_isolation=list(LIKELY_ENCODINGS)).best() or from_bytes(head).best()
    return best.encoding if best is not None else "utf-8"


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _decoded_lines(path: Path, encoding: str, bad_lines: set[int]) -> Iterator[str]:
    """Lines decoded one at a time; an undecodable line is noted and passed on with U+FFFD."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                bad_lines.add(number)
                yield raw.decode(encoding, errors="replace")


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace", newline="") as stream:
        header = stream.readline()
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda key: counts[key])
    return delimiter if counts[delimiter] else ","


def read_csv(path: Path, encoding: str) -> tuple[list[str], Iterator[SourceRow | BrokenRow]]:
    bad_lines: set[int] = set()
    lines = _decoded_lines(path, encoding, bad_lines)
    reader = csv.reader(lines, delimiter=_sniff_delimiter(path, encoding))
    try:
        header = [name.strip().lstrip("\ufeff") for name in next(reader)]
    except StopIteration:
        raise ValidationFailed(f"{path.name} is empty", field="file") from None
    if 1 in bad_lines:
        raise ValidationFailed(
            f"the header of {path.name} is not valid {encoding}: declare the source's "
            "encoding (encoding: cp1251, say) or pass --encoding",
            field="encoding",
        )

    def rows() -> Iterator[SourceRow | BrokenRow]:
        start = reader.line_num + 1
        for cells in reader:
            end = reader.line_num
            if not any(cell.strip() for cell in cells):
                start = end + 1
                continue
            broken = sorted(line for line in range(start, end + 1) if line in bad_lines)
            if broken:
                yield BrokenRow(
                    start,
                    f"line {broken[0]} is not valid {encoding}: check the file's encoding",
                )
            elif len(cells) != len(header):
                yield BrokenRow(
                    start, f"{len(cells)} cells where the header has {len(header)} columns"
                )
            else:
                yield SourceRow(
                    start,
                    {
                        name: (cell if cell.strip() else None)
                        for name, cell in zip(header, cells, strict=True)
                    },
                )
            start = end + 1

    return header, rows()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    return str(value)


def read_jsonl(path: Path, encoding: str) -> tuple[list[str], Iterator[SourceRow | BrokenRow]]:
    """JSON lines: the columns are the keys seen in the first object."""
    bad_lines: set[int] = set()
    lines = _decoded_lines(path, encoding, bad_lines)
    first: tuple[int, dict[str, Any]] | None = None
    pending: list[SourceRow | BrokenRow] = []
    for number, line in enumerate(lines, start=1):
        parsed = _parse_json_line(number, line, bad_lines, encoding)
        if parsed is None:
            continue
        if isinstance(parsed, BrokenRow):
            pending.append(parsed)
            continue
        first = (number, parsed)
        break
    if first is None and not pending:
        raise ValidationFailed(f"{path.name} holds no JSON objects", field="file")
    header = list(first[1]) if first else []

    def rows() -> Iterator[SourceRow | BrokenRow]:
        yield from pending
        if first is None:
            return
        yield SourceRow(first[0], {key: _text(value) for key, value in first[1].items()})
        for number, line in enumerate(lines, start=first[0] + 1):
            parsed = _parse_json_line(number, line, bad_lines, encoding)
            if parsed is None:
                continue
            if isinstance(parsed, BrokenRow):
                yield parsed
            else:
                yield SourceRow(number, {key: _text(value) for key, value in parsed.items()})

    return header, rows()


def _parse_json_line(
    number: int, line: str, bad_lines: set[int], encoding: str
) -> dict[str, Any] | BrokenRow | None:
    if not line.strip():
        return None
    if number in bad_lines:
        return BrokenRow(number, f"not valid {encoding}: check the file's encoding")
    try:
        parsed = json.loads(line)
    except json.JSONDecodeError as error:
        return BrokenRow(number, f"not valid JSON: {error.msg} at column {error.colno}")
    if not isinstance(parsed, dict):
        return BrokenRow(number, "each line must be one JSON object")
    return parsed


def read_parquet(path: Path) -> tuple[list[str], Iterator[SourceRow | BrokenRow]]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    header = list(parquet.schema_arrow.names)

    def rows() -> Iterator[SourceRow | BrokenRow]:
        number = 1
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for values in batch.to_pylist():
                number += 1
                yield SourceRow(number, {key: _text(value) for key, value in values.items()})

    return header, rows()


def open_rows(
    path: Path, file_format: FileFormat, encoding: str | None
) -> tuple[list[str], str | None, Iterator[SourceRow | BrokenRow]]:
    """(columns, the encoding used, rows) of any supported file."""
    if file_format is FileFormat.PARQUET:
        header, rows = read_parquet(path)
        return header, None, rows
    chosen = encoding or detect_encoding(path)
    if file_format is FileFormat.CSV:
        header, rows = read_csv(path, chosen)
    else:
        header, rows = read_jsonl(path, chosen)
    return header, chosen, rows
