"""A tiny bundle that reads context, built in a second without training (tests only)."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.core import constants
from assistant.core.tokenizer import join_context
from assistant.domains.warehouse import segment

CONTEXT_TEXTS = [join_context("CV07:E217 T=85; SN02:W301 N=12", "how do I fix it?"),
                 join_context("E217", "what does that mean?")]
# Short replies: the weights are untrained, so a reply runs to its length limit.
DECODING = {"strategy": "beam", "beam_width": 2, "max_length_a": 6, "max_length_b": 0.0,
            "rerank": False}


def make_context_bundle(root: Path, record_order: segment.RecordOrder) -> Path:
    """Writes `root/model`: a tokenizer trained on sources with contexts (so the context
    separator is one of its pieces and the bundle reads context), seeded untrained weights of
    the tiny model, config.json saying "context": true, and the warehouse domain with
    `record_order` (no faithfulness file: nothing is checked). Replies are nonsense, but the
    same in every process that loads the bundle."""
    import keras

    from assistant.core.config import ModelConfig, save_bundle_config
    from assistant.core.model import Seq2Seq
    from tests.conftest import SAMPLE_TEXTS, TINY_MODEL
    from training.tokenizer_training import TokenizerConfig, train_tokenizer

    bundle = root / "model"
    bundle.mkdir(parents=True)
    tokenizer = train_tokenizer(SAMPLE_TEXTS * 20 + CONTEXT_TEXTS * 20,
                                TokenizerConfig(vocab_size=400), seed=0)
    (bundle / constants.TOKENIZER_FILE).write_bytes(tokenizer.model_proto)
    keras.utils.set_random_seed(0)
    config = ModelConfig(vocab_size=tokenizer.vocab_size, **TINY_MODEL)
    model = Seq2Seq(config)
    model.build()
    model.save_weights(bundle / constants.WEIGHTS_FILE)
    save_bundle_config(bundle / constants.CONFIG_FILE, config, decoding=DECODING,
                       domain="warehouse", context=True)
    (bundle / segment.RECORD_ORDER_FILE).write_text(json.dumps(record_order.to_json()),
                                                    encoding="utf-8")
    return bundle
