import numpy as np
import pytest

from assistant.core import constants
from assistant.core.attention import BahdanauAttention
from assistant.core.config import ModelConfig, load_bundle_config, save_bundle_config
from assistant.core.decoder import AttentionDecoder
from assistant.core.encoder import BidirectionalRNN
from assistant.core.model import Seq2Seq
from tests.conftest import TINY_MODEL

RNN_AND_QUERY = [("gru", "previous"), ("lstm", "previous"), ("gru", "current"),
                 ("lstm", "current")]


def tiny_model(rnn_type="gru", vocab_size=40, seed=0, attention_query="previous"):
    import keras

    keras.utils.set_random_seed(seed)
    model = Seq2Seq(ModelConfig(vocab_size=vocab_size, rnn_type=rnn_type,
                                attention_query=attention_query, **TINY_MODEL))
    model.build()
    return model


def padded_batch():
    source = np.array([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0], [13, 0, 0, 0, 0]], np.int32)
    target_in = np.array(
        [
            [constants.BOS_ID, 20, 21, 22],
            [constants.BOS_ID, 23, 24, 0],
            [constants.BOS_ID, 25, 0, 0],
        ],
        np.int32,
    )
    return source, target_in


@pytest.mark.parametrize(("rnn_type", "query"), RNN_AND_QUERY)
def test_attention_sums_to_one_and_is_zero_on_padding(rnn_type, query):
    model = tiny_model(rnn_type, attention_query=query)
    source, target_in = padded_batch()
    logits, attention = model((source, target_in), return_attention=True)
    assert logits.shape == (3, 4, 40)
    attention = np.asarray(attention)
    assert attention.shape == (3, 4, 5)
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
    source_mask = (source != constants.PAD_ID)[:, None, :]
    assert np.all(attention[np.broadcast_to(~source_mask, attention.shape)] == 0.0)
    assert np.all(attention[np.broadcast_to(source_mask, attention.shape)] > 0.0)


def test_bahdanau_attention_matches_formula():
    layer = BahdanauAttention(units=3, query_dim=2, value_dim=4)
    layer.build()
    rng = np.random.default_rng(0)
    values = rng.normal(size=(1, 3, 4)).astype(np.float32)
    query = rng.normal(size=(1, 2)).astype(np.float32)
    mask = np.array([[True, True, False]])
    context, weights = layer(query, layer.keys(values), values, mask)
    w1, w2 = layer.memory_kernel.numpy(), layer.query_kernel.numpy()
    b, v = layer.query_bias.numpy(), layer.score_vector.numpy()
    scores = np.tanh(values[0] @ w1 + query[0] @ w2 + b) @ v
    expected = np.exp(scores[:2]) / np.exp(scores[:2]).sum()
    np.testing.assert_allclose(np.asarray(weights)[0], [*expected, 0.0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(context)[0], expected @ values[0, :2], rtol=1e-5)


@pytest.mark.parametrize(("rnn_type", "query"), RNN_AND_QUERY)
def test_padding_does_not_change_a_sequence_result(rnn_type, query):
    """A row's logits are the same whether or not the batch pads its source."""
    model = tiny_model(rnn_type, attention_query=query)
    source, target_in = padded_batch()
    batched = np.asarray(model((source, target_in)))
    alone = np.asarray(model((source[1:2, :3], target_in[1:2, :3])))
    np.testing.assert_allclose(batched[1, :3], alone[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("rnn_type", "query"), RNN_AND_QUERY)
def test_decode_step_reproduces_teacher_forcing(rnn_type, query):
    model = tiny_model(rnn_type, attention_query=query)
    source, target_in = padded_batch()
    logits, attention = model((source, target_in), return_attention=True)
    memory, mask, state = model.encode(source)
    for t in range(target_in.shape[1]):
        step_logits, state, step_attention = model.decode_step(target_in[:, t], state, memory, mask)
        np.testing.assert_allclose(
            np.asarray(step_logits), np.asarray(logits)[:, t], rtol=1e-4, atol=1e-5
        )
        np.testing.assert_allclose(
            np.asarray(step_attention), np.asarray(attention)[:, t], rtol=1e-4, atol=1e-6
        )


def test_current_query_attends_after_the_rnn_reads_the_previous_context():
    """attention_query="current": s_t = RNN([x_t; c_{t-1}], s_{t-1}), then the attention
    scores s_t; the state carries c_t, zeros before the first step."""
    model = tiny_model("gru", attention_query="current")
    source, target_in = padded_batch()
    memory, mask, state = model.encode(source)
    assert sorted(state) == ["context", "h"]
    np.testing.assert_array_equal(np.asarray(state["context"]), 0.0)
    decoder, attention = model.decoder, model.decoder.attention
    h0 = np.asarray(state["h"])
    _, state, step_attention = model.decode_step(target_in[:, 0], state, memory, mask)
    x = np.asarray(model.embedding(target_in[:, 0])) @ decoder.embedding_kernel.numpy()
    x += decoder.input_bias.numpy()
    r = h0 @ decoder.recurrent_kernel.numpy() + decoder.recurrent_bias.numpy()
    x_z, x_r, x_h = np.split(x, 3, axis=-1)  # the previous context is zero: no context term
    h_z, h_r, h_h = np.split(r, 3, axis=-1)
    z, reset = 1 / (1 + np.exp(-(x_z + h_z))), 1 / (1 + np.exp(-(x_r + h_r)))
    h1 = z * h0 + (1 - z) * np.tanh(x_h + reset * h_h)
    np.testing.assert_allclose(np.asarray(state["h"]), h1, rtol=1e-4, atol=1e-5)
    context, expected = attention(h1, memory.keys, memory.values, mask)
    np.testing.assert_allclose(np.asarray(step_attention), np.asarray(expected), atol=1e-6)
    np.testing.assert_allclose(np.asarray(state["context"]), np.asarray(context), atol=1e-6)


def test_bundles_before_the_option_attend_with_the_previous_state():
    assert ModelConfig.from_dict({"vocab_size": 40}).attention_query == "previous"
    with pytest.raises(ValueError, match="attention_query must be 'previous' or 'current'"):
        ModelConfig(attention_query="next")


def test_bidirectional_final_states_ignore_padding():
    layer = BidirectionalRNN(units=3, rnn_type="gru", input_dim=2)
    layer.build()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 2)).astype(np.float32)
    padded = np.concatenate([x, rng.normal(size=(1, 2, 2)).astype(np.float32)], axis=1)
    out_a, states_a = layer(x, np.ones((1, 4), bool))
    out_b, states_b = layer(padded, np.array([[True] * 4 + [False] * 2]))
    np.testing.assert_allclose(np.asarray(out_b)[:, :4], np.asarray(out_a), rtol=1e-5)
    assert np.all(np.asarray(out_b)[:, 4:] == 0.0)
    np.testing.assert_allclose(np.asarray(states_b["h"]), np.asarray(states_a["h"]), rtol=1e-5)


def test_parameter_count_of_reference_size():
    model = Seq2Seq(ModelConfig())
    model.build()
    assert 2_300_000 < model.count_params() < 2_600_000


def test_model_config_round_trip(tmp_path):
    config = ModelConfig(vocab_size=123, rnn_type="lstm", encoder_layers=1, dropout=0.3)
    save_bundle_config(tmp_path / "config.json", config, training={"seed": 3})
    loaded, payload = load_bundle_config(tmp_path / "config.json")
    assert loaded == config
    assert payload["training"] == {"seed": 3}
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_model_config_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError, match="rnn_type must be 'gru' or 'lstm'"):
        ModelConfig(rnn_type="rnn")
    with pytest.raises(ValueError, match="dropout must be in"):
        ModelConfig(dropout=1.5)
    with pytest.raises(ValueError, match="unknown model config key"):
        ModelConfig.from_dict({"hidden": 3})
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid config file"):
        load_bundle_config(bad)


@pytest.mark.parametrize(("rnn_type", "query"), RNN_AND_QUERY)
def test_get_config_from_config_round_trip(rnn_type, query):
    model = tiny_model(rnn_type, attention_query=query)
    clone = Seq2Seq.from_config(model.get_config())
    clone.build()
    assert clone.config == model.config
    assert clone.count_params() == model.count_params()
    for layer in (model.decoder, model.decoder.attention, model.encoder_rnns[0]):
        rebuilt = type(layer).from_config(layer.get_config())
        assert rebuilt.get_config() == layer.get_config()
    assert isinstance(model.decoder, AttentionDecoder)


def test_weights_save_load_round_trip(tmp_path):
    model = tiny_model(seed=1)
    model.save_weights(tmp_path / "model.weights.h5")
    other = tiny_model(seed=2)
    source, target_in = padded_batch()
    assert not np.allclose(
        np.asarray(model((source, target_in))), np.asarray(other((source, target_in)))
    )
    other.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(
        np.asarray(model((source, target_in))), np.asarray(other((source, target_in)))
    )


def test_scheduled_sampling_at_zero_equals_teacher_forcing():
    model = tiny_model()
    source, target_in = padded_batch()
    expected = np.asarray(model((source, target_in), training=False))
    sampled = model.scheduled_sampling_logits(
        source, target_in, 0.0, np.array([1, 2], np.int32), training=False
    )
    np.testing.assert_allclose(np.asarray(sampled), expected, rtol=1e-4, atol=1e-5)
    fed = model.scheduled_sampling_logits(
        source, target_in, 1.0, np.array([1, 2], np.int32), training=False
    )
    np.testing.assert_allclose(np.asarray(fed)[:, 0], expected[:, 0], rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.asarray(fed)[:, 1:], expected[:, 1:])
