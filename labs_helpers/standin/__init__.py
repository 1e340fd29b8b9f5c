"""The offline stand-in for FLAN-T5: a small T5 with FLAN-T5's layout, built on this machine and cached.

Without the Hugging Face Hub the real ``google/flan-t5-base`` cannot be downloaded, so the kit
builds a miniature of it, saved with ``save_pretrained`` so that the notebooks load it with
``AutoTokenizer`` / ``AutoModelForSeq2SeqLM`` exactly as they load the real model.

- ``tokenizer``: a SentencePiece unigram vocabulary with FLAN-T5's special tokens;
- ``architecture``: the model's shape and its random initialisation;
- ``cache``: cache keys, the completion marker, atomic publishing and the build lock;
- ``instant``: the random-weight stand-in (seconds; tests and CI);
- ``plan``, ``tasks``, ``pretrain``: the pre-trained stand-in (minutes, once): how, on what, the build;
- ``retell``: a line of dialogue told in the third person, by rule (one of the tasks);
- ``card``: the README written into each stand-in's folder, and the run card's note.

Which model a run loads (the Hub's or a stand-in) is decided in ``labs_helpers.models``.
"""
