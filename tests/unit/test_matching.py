"""Who is the same child (handlers/matching.py, issue 17): names as people write them, the
case record id first, and what is only a near match for a person to confirm."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.matching import compare, name_key, near_days, who


@pytest.mark.parametrize(("written", "key"), [
    ("Zoë  O'Brien-Smith", "zoe obrien smith"),
    ("ZOE O’BRIEN SMITH", "zoe obrien smith"),
    ("  Renée   St. John ", "renee st john"),
    ("", None),
    (None, None),
])
def test_names_compare_without_case_accents_spaces_or_punctuation(written: str | None,
                                                                  key: str | None) -> None:
    assert name_key(written) == key


def child(name: str | None = "Jayden Smith", dob: str | None = "2016-02-03",
          postcode: str | None = None, id: str | None = None) -> object:
    return who({"name": name, "dob": dob, "postcode": postcode, "id": id})


@pytest.mark.parametrize(("a", "b", "verdict"), [
    (child(id="C1"), child(name="Someone Else", id="C1"), "same"),  # the record id decides
    (child(id="C1"), child(id="C2"), None),  # twins: two records, two children
    (child(), child(name="jayden  SMITH"), "same"),
    (child(postcode="BH8 8AA"), child(postcode="bh88aa"), "same"),
    (child(postcode="BH8 8AA"), child(postcode="DT1 1AA"), "near"),  # moved, or another child
    (child(), child(name="Jaydon Smith"), "near"),
    (child(), child(dob="2016-02-04"), "near"),
    (child(), child(dob="2016-03-02"), "near"),  # day and month swapped
    (child(), child(dob="2016-02-06"), None),
    (child(), child(name="Jordan Smith"), None),
    (child(dob=None), child(dob=None), None),  # a name alone is too little
    (child(name=None), child(name=None), None),  # so is a date of birth
])
def test_the_same_child_a_near_match_or_another_child(a: object, b: object,
                                                      verdict: str | None) -> None:
    found = compare(a, b)  # type: ignore[arg-type]
    assert (found[0] if found else None) == verdict
    reverse = compare(b, a)  # type: ignore[arg-type]
    assert (reverse[0] if reverse else None) == verdict


def test_near_dates_of_birth_are_a_day_either_side_and_the_swap() -> None:
    assert near_days(date(2016, 2, 3)) == {date(2016, 2, 3), date(2016, 2, 2),
                                          date(2016, 2, 4), date(2016, 3, 2)}
    assert near_days(date(2016, 1, 31)) == {date(2016, 1, 31), date(2016, 1, 30),
                                           date(2016, 2, 1)}  # no 31st month
