"""Retrieval-augmented prompting: choose few-shot examples by their similarity to the dialogue.

The lab picks its solved examples by hand (rows 40, 80, 120); a retriever picks, for each new
dialogue, the train dialogues whose words are most alike. ``similar_rows`` ranks a pool of
dialogues by TF-IDF cosine similarity (scikit-learn); ``random_rows`` draws the same number at
random with a seed, the comparison that tells whether similarity is what helps.
"""

from __future__ import annotations

import random
from typing import Sequence

from .errors import LabsError


def similar_rows(pool: Sequence[str], queries: Sequence[str], k: int = 3) -> list[list[int]]:
    """For each query, the indices of the ``k`` pool texts most similar to it (TF-IDF cosine), best first.

    A pool text identical to the query (after stripping) is never returned: that would show the answer.
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    if k < 1 or k > len(pool) - 1:
        raise LabsError(f"k={k}: ask for 1 to {len(pool) - 1} rows of a pool of {len(pool)} texts.")
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit(pool)
    similarity = (vectorizer.transform(queries) @ vectorizer.transform(pool).T).toarray()  # rows are unit length
    stripped = [text.strip() for text in pool]
    ranked = []
    for query, scores in zip(queries, similarity):
        order = np.argsort(-scores, kind="stable")  # ties: the earlier row first, so the result is deterministic
        ranked.append([int(i) for i in order if stripped[i] != query.strip()][:k])
    return ranked


def random_rows(pool: Sequence[str], queries: Sequence[str], k: int = 3, seed: int = 42) -> list[list[int]]:
    """For each query, ``k`` pool indices drawn at random (seeded), never a text identical to the query."""
    if k < 1 or k > len(pool) - 1:
        raise LabsError(f"k={k}: ask for 1 to {len(pool) - 1} rows of a pool of {len(pool)} texts.")
    rng = random.Random(f"random-rows-{seed}")
    chosen = []
    for query in queries:
        rows: list[int] = []
        while len(rows) < k:
            i = rng.randrange(len(pool))
            if i not in rows and pool[i].strip() != query.strip():
                rows.append(i)
        chosen.append(rows)
    return chosen
