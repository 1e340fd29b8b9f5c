"""A line of dialogue retold in the third person, by rule: the stand-in's "retell" task.

DialogSum's summaries name the speakers where the dialogue says "I" and "you" ("#Person1# asks
#Person2# for help"). The stand-in never sees a summary, so it learns that mapping from the
dialogues themselves: "#Person1#: Can you help me? I'd like a room." is retold as "#Person1#
says: Can #Person2# help #Person1#? #Person1# would like a room." The rules are crude (a verb after
"I" gets an -s, and English has exceptions); what the task teaches is who "I" and "you" are.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^(#[^#:]+#):\s*(.*)$")
_TOKEN = re.compile(r"[A-Za-z']+|[^A-Za-z'\s]+")
# "I" and "you" (with their contractions), as {s} the speaker and {o} the one spoken to.
_PRONOUNS = {
    "i'm": "{s} is", "i'd": "{s} would", "i'll": "{s} will", "i've": "{s} has",
    "me": "{s}", "my": "{s}'s", "mine": "{s}'s", "myself": "{s}",
    "you": "{o}", "your": "{o}'s", "yours": "{o}'s", "yourself": "{o}", "you're": "{o} is",
    "you've": "{o} has", "you'll": "{o} will", "you'd": "{o} would",
    "we": "{s} and {o}", "we're": "{s} and {o} are", "we'll": "{s} and {o} will", "we've": "{s} and {o} have",
    "us": "{s} and {o}", "our": "their", "ours": "theirs",
}  # fmt: skip
# Verbs after "I" that stay as they are: modals, past tenses, "and I are".
_KEEP = set(
    "can could will would should must may might did didn't cannot can't won't wouldn't couldn't shouldn't had hadn't "
    "was wasn't are were got thought knew said told saw went came made took bought gave left felt met heard found "
    "lost kept sent paid broke wrote spoke ran ate drank began chose forgot understood brought caught taught fell sold "
    "meant".split()
)
# After these "I" is not the subject of the next verb: "can I help", "do I need".
_AUXILIARIES = set("can could do did will would shall should may might must am was have had".split())
_ADVERBS = set("also just really still never always only already usually often even actually probably".split())
_IRREGULAR = {"am": "is", "have": "has", "haven't": "hasn't", "do": "does", "don't": "doesn't", "go": "goes"}
# After a subject "you" only these change, since "you" is as often an object ("thank you").
_AFTER_YOU = {"are": "is", "aren't": "isn't", "were": "was", "weren't": "wasn't"} | _IRREGULAR
_AFTER_YOU |= {verb: verb + "s" for verb in "know look need want like think mean seem sound feel".split()}


def third_person(verb: str) -> str:
    """``verb`` as it follows "he" or "she": "want" -> "wants", "have" -> "has"; past tenses and modals unchanged."""
    low = verb.lower()
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    if low in _KEEP or re.search(r"[^e]ed$", low) or not low.isalpha():  # "wanted", not "need"
        return verb
    if re.search(r"(s|sh|ch|x|z|o)$", low):
        return verb + "es"
    return verb[:-1] + "ies" if re.search(r"[^aeiou]y$", low) else verb + "s"


def retell(line: str, listener: str) -> str:
    """``line`` ("#PersonN#: text") with "I" as its speaker and "you" as ``listener``; other lines unchanged."""
    match = _LINE.match(line)
    if not match:
        return line
    speaker, tokens = match.group(1), _TOKEN.findall(match.group(2))
    out, i = [], 0
    while i < len(tokens):
        low = tokens[i].lower()
        if low in ("i", "you"):
            asked = bool(out) and out[-1].lower() in _AUXILIARIES  # "can I help": no -s
            out.append(speaker if low == "i" else listener)
            i += 1
            while i < len(tokens) and tokens[i].lower() in _ADVERBS:
                out.append(tokens[i])
                i += 1
            if i < len(tokens) and low == "i" and not asked:
                out.append(third_person(tokens[i]))
                i += 1
            elif i < len(tokens) and low == "you" and tokens[i].lower() in _AFTER_YOU:
                out.append(_AFTER_YOU[tokens[i].lower()])
                i += 1
            continue
        out.append(_PRONOUNS[low].format(s=speaker, o=listener) if low in _PRONOUNS else tokens[i])
        i += 1
    told = re.sub(r" ([.,!?;:])", r"\1", " ".join(out))
    return told if told.startswith(speaker) else f"{speaker} says: {told}"


def listeners(lines: list[str]) -> list[str]:
    """Whom each turn's "you" means: the nearest other speaker, after the turn or else before it."""
    speakers = [m.group(1) if (m := _LINE.match(line)) else "" for line in lines]
    heard = []
    for k, speaker in enumerate(speakers):
        others = [s for s in speakers[k + 1 :] + speakers[:k][::-1] if s and s != speaker]
        heard.append(others[0] if others else ("#Person2#" if speaker == "#Person1#" else "#Person1#"))
    return heard
