"""The stand-in's tokenizer: a SentencePiece unigram vocabulary with FLAN-T5's special tokens."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from transformers import T5TokenizerFast

EXTRA_IDS = 100  # the <extra_id_N> sentinels of span corruption, as in FLAN-T5
VOCAB_SIZE = 4000  # including the sentinels; FLAN-T5 has 32,100
# DialogSum's speaker tags, kept whole by plans that ask for it (FLAN-T5 cuts "#Person1#" into four
# pieces): every turn is three tokens shorter.
SPEAKER_TAGS = tuple(f"#Person{i}#" for i in range(1, 10))


def train_tokenizer(texts: Sequence[str], vocab_size: int = VOCAB_SIZE, whole: Sequence[str] = ()) -> T5TokenizerFast:
    """A T5 tokenizer with a SentencePiece unigram vocabulary learned from ``texts`` (``whole``: one token each)."""
    import sentencepiece as spm
    from transformers import T5TokenizerFast

    proto = io.BytesIO()
    # SentencePiece trains deterministically on one thread (the tokenizers library's unigram
    # trainer does not: it breaks ties in hash-map order, which changes from run to run).
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([" ".join(t.split()) for t in texts]),
        model_writer=proto,
        model_type="unigram",
        vocab_size=vocab_size - EXTRA_IDS,
        hard_vocab_limit=False,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        minloglevel=2,
        max_sentence_length=100_000,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        user_defined_symbols=list(whole),
    )
    processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    # Like FLAN-T5's tokenizer: newlines and runs of spaces become one space, </s> is appended.
    return T5TokenizerFast(
        vocab=vocab, extra_ids=EXTRA_IDS, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", model_max_length=512
    )
