"""The Splink model definition: comparisons, blocking rules and training rules, as plain data.

Everything here is a JSON-serialisable Splink settings fragment written as SQL over the
DuckDB dialect, so the trained model can be stored in PostgreSQL and read back unchanged.
Each comparison's levels run from the strongest evidence to the weakest; Splink fires the
first level whose condition holds, and each level's label is what the review screen shows.

Columns arrive cleaned by the importer (lower case, trimmed, ISO dates, E.164 phones,
normalised e-mail keys), so the SQL only deals with typos, not with formatting.
"""

from __future__ import annotations

from typing import Any

Level = dict[str, Any]
Comparison = dict[str, Any]

# Jaro-Winkler thresholds for names: 0.92 catches one or two typos in a long name, 0.85 a
# badly typed or shortened one; below that two names are different names.
NAME_CLOSE_SIMILARITY = 0.92
NAME_LOOSE_SIMILARITY = 0.85


def _within_edits(left: str, right: str, edits: int) -> str:
    """Damerau-Levenshtein distance at most ``edits``, with cheap tests in front.

    Most candidate pairs are far apart, and DuckDB's Damerau-Levenshtein is several times
    slower than its Levenshtein, which is itself far slower than comparing lengths. Each
    edit changes the length by at most one, and a transposition costs Levenshtein two
    edits, so neither guard ever rejects a pair the exact test would keep; DuckDB runs each
    test only on the rows that passed the one before.
    """
    return (
        f"(abs(length({left}) - length({right})) <= {edits}"
        f" AND levenshtein({left}, {right}) <= {2 * edits}"
        f" AND damerau_levenshtein({left}, {right}) <= {edits})"
    )


def _null_level(column: str) -> Level:
    return {
        "sql_condition": f"{column}_l IS NULL OR {column}_r IS NULL",
        "label_for_charts": "Missing on one side",
        "is_null_level": True,
    }


def _level(sql: str, label: str, *, tf_column: str | None = None) -> Level:
    level: Level = {"sql_condition": sql, "label_for_charts": label}
    if tf_column is not None:
        # A match on a rare value ("zilm") is stronger evidence than on a common one
        # ("smith"); Splink scales the exact-match weight by the value's frequency.
        level["tf_adjustment_column"] = tf_column
        level["tf_adjustment_weight"] = 1.0
    return level


def _else_level() -> Level:
    return {"sql_condition": "ELSE", "label_for_charts": "Different"}


def _comparison(column: str, description: str, levels: list[Level]) -> Comparison:
    return {
        "output_column_name": column,
        "comparison_description": description,
        "comparison_levels": [_null_level(column), *levels, _else_level()],
    }


def _name_comparison(column: str, other_name_column: str) -> Comparison:
    """First or last name, with a level for the two name fields swapped between records.

    Sources put the surname in the first-name field often enough (and FEBRL does it on
    purpose) that a swap is evidence of its own, far stronger than two different names.
    """
    left, right = f"{column}_l", f"{column}_r"
    return _comparison(
        column,
        f"{column} (typos, swapped with {other_name_column})",
        [
            _level(f"{left} = {right}", "Exact match", tf_column=column),
            _level(
                _within_edits(left, right, 1),
                "Damerau-Levenshtein <= 1",
            ),
            _level(
                f"{left} = {other_name_column}_r OR {right} = {other_name_column}_l",
                f"Swapped with {other_name_column}",
            ),
            _level(
                f"jaro_winkler_similarity({left}, {right}) >= {NAME_CLOSE_SIMILARITY}",
                f"Jaro-Winkler >= {NAME_CLOSE_SIMILARITY}",
            ),
            _level(
                f"{_within_edits(left, f'{other_name_column}_r', 1)}"
                f" OR {_within_edits(right, f'{other_name_column}_l', 1)}",
                f"Swapped with {other_name_column}, one typo",
            ),
            _level(
                f"jaro_winkler_similarity({left}, {right}) >= {NAME_LOOSE_SIMILARITY}",
                f"Jaro-Winkler >= {NAME_LOOSE_SIMILARITY}",
            ),
        ],
    )


def _date_within_edits(left: str, right: str, edits: int) -> str:
    """:func:`_within_edits` for ISO dates: both sides are ten characters with the dashes in
    place, so a typo is a changed digit or two swapped ones, and counting differing
    positions (fast) is a safe first test."""
    return (
        f"(length({left}) = length({right}) AND hamming({left}, {right}) <= {2 * edits}"
        f" AND damerau_levenshtein({left}, {right}) <= {edits})"
    )


def _birth_date_comparison() -> Comparison:
    """ISO dates as text: typos are edits of the string, and day/month get swapped by
    sources that read "03/04/1990" the other way round."""
    left, right = "birth_date_l", "birth_date_r"
    swapped = (
        f"substr({left}, 1, 4) = substr({right}, 1, 4)"
        f" AND substr({left}, 6, 2) = substr({right}, 9, 2)"
        f" AND substr({left}, 9, 2) = substr({right}, 6, 2)"
    )
    return _comparison(
        "birth_date",
        "birth_date (typos, day and month swapped)",
        [
            _level(f"{left} = {right}", "Exact match"),
            _level(_date_within_edits(left, right, 1), "One typo"),
            _level(swapped, "Day and month swapped"),
            _level(_date_within_edits(left, right, 2), "Two typos"),
            _level(f"substr({left}, 1, 4) = substr({right}, 1, 4)", "Same year"),
        ],
    )


def _email_comparison() -> Comparison:
    left, right = "email_l", "email_r"
    return _comparison(
        "email",
        "email matching key (typos, other domain)",
        [
            _level(f"{left} = {right}", "Exact match"),
            # A typo only where the mailbox name has no digits: "ivan85" and "ivan86" are
            # usually two people who both took their name, not one who mistyped.
            _level(
                f"{_within_edits(left, right, 1)} AND NOT regexp_matches({left}, '[0-9][^@]*@')"
                f" AND NOT regexp_matches({right}, '[0-9][^@]*@')",
                "One typo",
            ),
            _level(
                f"split_part({left}, '@', 1) = split_part({right}, '@', 1)",
                "Same mailbox name, other domain",
            ),
            # No looser level: addresses made of a name and a number ("anna.ivanova85" and
            # "anna.ivanova91") look alike yet belong to two people more often than not.
        ],
    )


def _phone_comparison() -> Comparison:
    left, right = "phone_l", "phone_r"
    return _comparison(
        "phone",
        "phone in E.164 (typos, other prefix)",
        [
            _level(f"{left} = {right}", "Exact match"),
            _level(_within_edits(left, right, 1), "One typo"),
            _level(f"right({left}, 7) = right({right}, 7)", "Same last seven digits"),
        ],
    )


def _address_comparison() -> Comparison:
    """The street line. Typing splits and joins words ("bourne s treet"), so the text is
    also compared with its spaces removed."""
    left, right = "address_l", "address_r"
    left_packed, right_packed = f"replace({left}, ' ', '')", f"replace({right}, ' ', '')"
    return _comparison(
        "address",
        "street line (typos, spacing)",
        [
            _level(f"{left} = {right}", "Exact match", tf_column="address"),
            _level(
                _within_edits(left_packed, right_packed, 1),
                "One typo or spacing",
            ),
            _level(
                _within_edits(left_packed, right_packed, 3),
                "Up to three typos",
            ),
            _level(f"jaro_winkler_similarity({left}, {right}) >= 0.88", "Jaro-Winkler >= 0.88"),
        ],
    )


def _city_comparison() -> Comparison:
    left, right = "city_l", "city_r"
    return _comparison(
        "city",
        "city (typos)",
        [
            _level(f"{left} = {right}", "Exact match", tf_column="city"),
            _level(_within_edits(left, right, 1), "One typo"),
            # No looser level: addresses made of a name and a number ("anna.ivanova85" and
            # "anna.ivanova91") look alike yet belong to two people more often than not.
        ],
    )


def _postcode_comparison() -> Comparison:
    left, right = "postcode_l", "postcode_r"
    return _comparison(
        "postcode",
        "postcode (typos)",
        [
            _level(f"{left} = {right}", "Exact match", tf_column="postcode"),
            _level(_within_edits(left, right, 1), "One typo"),
        ],
    )


def _region_comparison() -> Comparison:
    return _comparison("region", "region or state", [_level("region_l = region_r", "Exact match")])


def comparisons() -> list[Comparison]:
    """All comparisons of the model, one per column of RECORD_COLUMNS except the ids."""
    return [
        _name_comparison("first_name", "last_name"),
        _name_comparison("last_name", "first_name"),
        _birth_date_comparison(),
        _email_comparison(),
        _phone_comparison(),
        _address_comparison(),
        _city_comparison(),
        _postcode_comparison(),
        _region_comparison(),
    ]


# Candidate pairs for scoring. Each rule must stay small at a million records, so none
# keys on a common value alone: a birth date, a city or a surname always comes with a
# second field (no "surname in the same city" either: a capital holds thousands of people
# of one surname). Together they still reach pairs where two or three fields were
# mistyped, swapped or left empty; the prefix rules (first letters) catch a typo late in
# a name or a street. Measured on FEBRL: 99.9% of true pairs in FEBRL3 (after joining
# transitively), 99.8% in FEBRL4; 7.2 million candidate pairs at a million records.
PREDICTION_BLOCKING_RULES: tuple[str, ...] = (
    "l.email = r.email",
    "l.phone = r.phone",
    "l.first_name = r.first_name AND l.last_name = r.last_name",
    "l.first_name = r.last_name AND l.last_name = r.first_name",
    "l.last_name = r.last_name AND l.birth_date = r.birth_date",
    "l.first_name = r.first_name AND l.birth_date = r.birth_date",
    "l.birth_date = r.birth_date AND l.postcode = r.postcode",
    "l.birth_date = r.birth_date AND l.city = r.city",
    "l.birth_date = r.birth_date AND l.region = r.region",
    "l.birth_date = r.birth_date AND l.address = r.address",
    "l.address = r.address AND l.postcode = r.postcode",
    "l.address = r.address AND l.city = r.city",
    "l.last_name = r.last_name AND substr(l.first_name, 1, 3) = substr(r.first_name, 1, 3)",
    "l.first_name = r.first_name AND substr(l.last_name, 1, 3) = substr(r.last_name, 1, 3)",
    "l.postcode = r.postcode AND substr(l.last_name, 1, 3) = substr(r.last_name, 1, 3)",
    "l.postcode = r.postcode AND substr(l.first_name, 1, 3) = substr(r.first_name, 1, 3)",
    "l.postcode = r.postcode AND l.first_name = r.last_name",
    "l.postcode = r.postcode AND l.last_name = r.first_name",
    "l.postcode = r.postcode AND substr(l.address, 1, 5) = substr(r.address, 1, 5)",
)

# Pairs that are almost surely the same person: used only to estimate how likely two
# random records are to match (the model's prior), with the share of true pairs they find.
DETERMINISTIC_RULES: tuple[str, ...] = (
    "l.email = r.email",
    "l.phone = r.phone",
    "l.first_name = r.first_name AND l.last_name = r.last_name AND l.birth_date = r.birth_date",
)
DETERMINISTIC_RULES_RECALL = 0.7

# Expectation maximisation runs once per rule; a rule cannot teach the model about the
# columns it blocks on, so between them the rules leave every column free at least once.
TRAINING_BLOCKING_RULES: tuple[str, ...] = (
    "l.first_name = r.first_name AND l.last_name = r.last_name",
    "l.birth_date = r.birth_date AND l.postcode = r.postcode",
    "l.email = r.email",
    "l.phone = r.phone",
)


def untrained_settings() -> dict[str, Any]:
    """The settings before training: the model's shape with Splink's default parameters.

    ``retain_matching_columns`` is on because Splink 5 only keeps the comparison vector
    (``gamma_*``, which level fired) in the predictions with it, and the levels are what
    explains a pair to the reviewer.
    """
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": rule} for rule in PREDICTION_BLOCKING_RULES
        ],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": False,
        "probability_two_random_records_match": 1e-4,
    }
