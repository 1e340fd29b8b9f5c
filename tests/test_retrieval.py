import pytest

from labs_helpers import LabsError, retrieval

POOL = [
    "#Person1#: Let's book a table at the Italian restaurant for dinner.\n#Person2#: Pasta sounds good.",
    "#Person1#: My laptop battery died again.\n#Person2#: Buy a new battery for the laptop.",
    "#Person1#: The train to Boston leaves at nine.\n#Person2#: I'll buy the train tickets.",
    "#Person1#: Is the restaurant open for dinner tonight?\n#Person2#: Yes, book a table.",
]


def test_similar_rows_ranks_the_dialogue_about_the_same_thing_first():
    queries = ["#Person1#: Can we book a table for dinner at a restaurant?", "#Person1#: When does the train leave?"]
    ranked = retrieval.similar_rows(POOL, queries, k=2)
    assert sorted(ranked[0]) == [0, 3]  # the two restaurant dialogues
    assert ranked[1][0] == 2
    assert retrieval.similar_rows(POOL, queries, k=2) == ranked  # deterministic


def test_similar_rows_never_returns_the_query_itself():
    ranked = retrieval.similar_rows(POOL, [POOL[1] + "  "], k=3)
    assert 1 not in ranked[0] and len(ranked[0]) == 3


def test_random_rows_are_seeded_distinct_and_never_the_query():
    drawn = retrieval.random_rows(POOL, [POOL[0], "something else"], k=3, seed=7)
    assert drawn == retrieval.random_rows(POOL, [POOL[0], "something else"], k=3, seed=7)
    assert 0 not in drawn[0] and all(len(set(rows)) == 3 for rows in drawn)
    with pytest.raises(LabsError, match="k=4"):
        retrieval.random_rows(POOL, ["x"], k=4)
    with pytest.raises(LabsError, match="k=0"):
        retrieval.similar_rows(POOL, ["x"], k=0)
