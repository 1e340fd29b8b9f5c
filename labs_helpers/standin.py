"""The offline stand-in for FLAN-T5: a small T5 with FLAN-T5's layout, built locally and cached.

Without the Hugging Face Hub the real ``google/flan-t5-base`` cannot be downloaded, so the kit
builds a miniature of it: a unigram (SentencePiece-style) tokenizer trained on the dataset in
use, with FLAN-T5's special tokens (pad 0, eos 1, unk 2, 100 ``<extra_id_N>`` sentinels), and a
``T5ForConditionalGeneration`` with gated-GELU feed-forward blocks, relative position buckets and
the q/k/v/o module names of T5. Both are saved with ``save_pretrained`` so that notebooks load
them with ``AutoTokenizer`` / ``AutoModelForSeq2SeqLM`` exactly as they load the real model.

The *instant* stand-in has random weights (built in seconds; for tests and CI). The
*pretrained* one (``labs_helpers.pretrain``) starts from it and learns the dialogues' language.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from .errors import LabsError

STANDIN_VERSION = 2  # 2: embedding / LM head initialised at d_model**-0.5 (logits start near N(0, 1))
EXTRA_IDS = 100
VOCAB_SIZE = 4000  # including the sentinels; FLAN-T5 has 32,100
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in FLAN-T5
MODEL_CONFIG = dict(
    d_model=128, d_kv=32, num_heads=4, d_ff=256, num_layers=2, num_decoder_layers=2,
    # tie_word_embeddings=False is how transformers 5 marks T5 v1.1 / FLAN-T5: no rescaling of the
    # decoder output before the LM head (it ties the weights of a newly built T5 either way).
    feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.1,
    relative_attention_num_buckets=32, relative_attention_max_distance=128,
    layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
)
COMPLETE_MARKER = "STANDIN_COMPLETE.json"


def training_texts(dataset) -> list[str]:
    """The texts the stand-in's tokenizer learns from: train dialogues and summaries."""
    train = dataset["train"]
    return list(train["dialogue"]) + list(train["summary"])


def fingerprint(texts: Iterable[str]) -> str:
    """A SHA-256 of the texts, so that the cache key changes when the data does."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def cache_key(kind: str, data_fingerprint: str, seed: int, extra: dict | None = None) -> str:
    """A short hash of everything the stand-in is built from."""
    payload = dict(version=STANDIN_VERSION, kind=kind, data=data_fingerprint, seed=seed,
                   vocab=VOCAB_SIZE, config=MODEL_CONFIG, extra=extra or {})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a finished stand-in (the marker is written last)."""
    return (Path(folder) / COMPLETE_MARKER).is_file()


def train_tokenizer(texts: Sequence[str], vocab_size: int = VOCAB_SIZE):
    """A T5 tokenizer whose SentencePiece unigram vocabulary is learned from ``texts``."""
    import io

    import sentencepiece as spm
    from transformers import T5TokenizerFast

    proto = io.BytesIO()
    # SentencePiece trains deterministically on one thread (the tokenizers library's unigram
    # trainer does not: it breaks ties in hash-map order, which changes from run to run).
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([" ".join(t.split()) for t in texts]), model_writer=proto,
        model_type="unigram", vocab_size=vocab_size - EXTRA_IDS, hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1, minloglevel=2,
        max_sentence_length=100_000, input_sentence_size=0, shuffle_input_sentence=False,
    )
    processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    # Like FLAN-T5's tokenizer: newlines and runs of spaces become one space, </s> is appended.
    return T5TokenizerFast(vocab=vocab, extra_ids=EXTRA_IDS, eos_token="</s>", unk_token="<unk>",
                           pad_token="<pad>", model_max_length=512)


def random_model(vocab_size: int, seed: int):
    """A randomly initialised T5 with the stand-in's shape, the same for the same seed."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(T5Config(vocab_size=vocab_size, **MODEL_CONFIG))
    with torch.no_grad():
        # The embedding is also the LM head. T5 initialises it at std 1, so a new model's logits have
        # std ~sqrt(d_model) and its loss starts near 80; scaled, it starts near log(vocab), and a
        # short fine-tuning run (CI, the labs offline) learns words instead of undoing the scale.
        model.shared.weight.mul_(model.config.d_model ** -0.5)
    model.generation_config = GenerationConfig(decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)
    return model


def _write_atomically(final: Path, write) -> Path:
    """Run ``write(tmp_folder)`` and move the result to ``final`` only when it finished."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".partial-", dir=final.parent))
    try:
        write(tmp)
        if is_complete(final):  # someone else finished first: keep theirs
            return final
        if final.exists():  # a half-written folder from an interrupted build
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_instant(texts: Sequence[str], folder: Path, seed: int) -> Path:
    """Build the random-weight stand-in into ``folder`` (atomically) and return it."""

    def write(tmp: Path) -> None:
        tokenizer = train_tokenizer(texts)
        model = random_model(len(tokenizer), seed)
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        (tmp / "README.md").write_text(
            "# Offline stand-in (instant)\n\nA small T5 with FLAN-T5's layout and RANDOM weights, built by "
            "labs_helpers for offline runs and tests. It is not FLAN-T5 and has learned nothing: its "
            f"outputs are noise. Tokenizer trained on {len(texts)} texts of the dataset in use; seed {seed}.\n"
        )
        (tmp / COMPLETE_MARKER).write_text(json.dumps({"kind": "instant", "seed": seed, "texts": len(texts)}))

    return _write_atomically(Path(folder), write)


def standin_folder(settings, dataset=None) -> Path:
    """Where the stand-in for these settings lives in the cache (built or not)."""
    from .data import load_dialogsum

    dataset = dataset if dataset is not None else load_dialogsum(settings.dataset)
    key = cache_key("instant", fingerprint(training_texts(dataset)), settings.seed)
    return settings.cache_dir / f"standin-instant-{key}"


def resolve_model(settings=None, dataset=None) -> str:
    """What to pass to ``from_pretrained``: the Hub id, or the stand-in's folder (built if missing)."""
    from .settings import get_settings

    settings = settings or get_settings()
    if not settings.uses_standin:
        return settings.model
    if settings.standin == "pretrained":
        from .pretrain import ensure_pretrained

        return str(ensure_pretrained(settings, dataset))
    from .data import load_dialogsum

    dataset = dataset if dataset is not None else load_dialogsum(settings.dataset)
    folder = standin_folder(settings, dataset)
    if not is_complete(folder):
        try:
            build_instant(training_texts(dataset), folder, settings.seed)
        except OSError as error:
            raise LabsError(
                f"Could not write the stand-in model to {folder} ({error.strerror or error}). "
                "Set LABS_CACHE to a folder you can write to."
            ) from error
    return str(folder)
